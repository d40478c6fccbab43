"""Run one parse in a fresh interpreter under an address-space limit, and report what it did.

`python -m bridge_pipelines_tests.hostile.bounded <kind> <file> <name> <budget bytes>` warms the
parser up on a real export (so libraries, thread pools and allocator arenas exist), then sets
`RLIMIT_AS` to the address space in use plus `budget`, parses the file and prints one JSON line:
the outcome (`parsed` or `refused`), the message or the errors, and the peak RSS growth. A parse
that needs more than its budget dies (MemoryError or an abort in native code) and prints nothing.
"""

import json
import resource
import sys
import time
from pathlib import Path


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> int:
    kind, path, name, budget = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    from bridge_pipelines.errors import FileRejectedError
    from bridge_pipelines.stampli.parse import parse_export
    from bridge_pipelines_tests.support.stampli_builders import INVOICES_CSV, INVOICES_XML, fixture

    for warm, warm_name in ((INVOICES_CSV, "warm.csv"), (INVOICES_XML, "warm.xml")):
        parse_export("invoices", fixture(warm), source=warm_name).documents  # noqa: B018
    data = path.read_bytes()
    before = _vm("VmRSS")
    resource.setrlimit(resource.RLIMIT_AS, (_vm("VmSize") + budget, resource.RLIM_INFINITY))
    started = time.perf_counter()
    out: dict[str, object]
    try:
        result = parse_export(kind, data, source=name)  # type: ignore[arg-type]
        out = {
            "outcome": "parsed",
            "rows_total": result.rows_total,
            "rows_accepted": result.rows_accepted,
            "rows_rejected": result.rows_rejected,
            "documents": len(result.documents),
            "errors": [[e.row, e.field, e.message] for e in result.errors],
        }
    except FileRejectedError as exc:
        out = {"outcome": "refused", "message": str(exc)}
    out["seconds"] = time.perf_counter() - started
    out["rss_growth"] = _vm("VmHWM") - before
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
