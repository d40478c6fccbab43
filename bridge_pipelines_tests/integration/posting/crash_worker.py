"""A posting worker in its own process, for SIGKILL tests: `python -m ... URL ERP_FILE TTL`.

It posts every pending posting of the test tenant to a file-backed fake ERP; with `FAULT_AT`
set it dies at that fault point, as `kill -9` would.
"""

import sys
from datetime import timedelta
from pathlib import Path

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.engine import post_pending
from bridge_pipelines_tests.support.fake_erp import TARGET, TENANT, FakeErp, build_invoice


def main(url: str, erp_file: str, ttl: str) -> None:
    ledger = Ledger(url)
    erp = FakeErp(path=Path(erp_file))
    report = post_pending(
        ledger,
        erp,
        TENANT,
        TARGET,
        build_invoice,
        owner="doomed",
        ttl=timedelta(seconds=float(ttl)),
        limit=100,
    )
    print(f"posted={report.posted}")


if __name__ == "__main__":
    main(*sys.argv[1:])
