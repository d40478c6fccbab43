"""A month of GL lines from SYSPRO to a partner's SFTP server, end to end.

    python -m bench.partner_export [--lines 500000] [--page-size 5000]

The SYSPRO sandbox (its own process) is seeded with `--lines` GL journal lines of one period;
a partner on OpenSSH sshd (its own processes; the embedded server if sshd is missing) takes
the GL journal as the demo's fixed-width file, grouped by cost centre. Timed: `PartnerRun.run`
for the period, i.e. the OData read (server-driven pages followed), typing and translation,
writing, the ledger records, the SFTP upload to a temporary name, the rename and the sha256
read back. Reported: rows/second and the client process's peak RSS growth over its
warmed-up baseline (the sandbox and sshd are other processes).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from bridge_pipelines.demo import partners as demo_partners
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.partners.export import PartnerRun
from bridge_pipelines.partners.models import PartnersFile
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox
from bridge_pipelines.sandbox.sshd import sshd_available, start_sshd
from bridge_pipelines.sandbox.syspro.app import APP_FACTORY, SysproSandbox
from bridge_pipelines.sandbox.syspro.period_data import seed_period
from bridge_pipelines.sandbox.syspro.profile import PROFILE
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

PERIOD = "2025-06"  # a month of its own, apart from the sandbox's demo month


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--page-size", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-partner-"))
    started = time.perf_counter()
    sandbox = SysproSandbox(work / "syspro")
    seed_period(sandbox.store, PERIOD, gl_lines=args.lines, orders=0, invoices=0)
    sandbox.update_config({"odata_page_size": args.page_size})
    sandbox.store.close()
    print(f"seeded {args.lines:,} GL lines in {time.perf_counter() - started:.1f} s", flush=True)
    running = start_sandbox(APP_FACTORY, work / "syspro")
    keyring = Keyring.generate(work / "keys.json")
    encrypt = lambda field, plain: keyring.encrypt("acme", field, plain)  # noqa: E731
    sshd = start_sshd() if sshd_available() else None
    embedded = None
    try:
        if sshd is not None:
            folder = sshd.local("/partner_inbound")
            folder.mkdir(parents=True, exist_ok=True)
            key = sshd.encrypted_key
            sftp = {
                "host": sshd.host,
                "port": sshd.port,
                "username": sshd.username,
                "host_key": sshd.host_key_line,
                "private_key": encrypt("partners.parent_erp.sftp.private_key", key.private),
                "private_key_passphrase": encrypt(
                    "partners.parent_erp.sftp.private_key_passphrase", key.passphrase or ""
                ),
            }
            remote_folder, server = sshd.remote("/partner_inbound"), "OpenSSH sshd"
        else:  # pragma: no cover - machines without sshd
            from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer

            root = work / "partner"
            (root / "inbound").mkdir(parents=True)
            embedded = EmbeddedSftpServer(
                root, users={"bench": "bench-pass"}, host_key_path=work / "hk"
            )
            embedded.start()
            sftp = {
                "host": "127.0.0.1",
                "port": embedded.port,
                "username": "bench",
                "host_key": embedded.host_key_line,
                "password": encrypt("partners.parent_erp.sftp.password", "bench-pass"),
            }
            remote_folder, server = "/inbound", "embedded asyncssh server (no sshd here)"
        document = demo_partners.partner_document(
            port=0, host_key="", password="", encrypt=encrypt,
            files=[demo_partners.GL_FIXED_WIDTH], sftp=sftp, folder=remote_folder,
        )  # fmt: skip
        partner = PartnersFile.model_validate(document).partners[0]
        tenant = TenantConfig.model_validate(
            {
                "id": "acme",
                "name": "Acme Manufacturing",
                "sftp": {
                    **{
                        k: v
                        for k, v in sftp.items()
                        if k in ("host", "port", "username", "host_key")
                    },
                    "password": encrypt("sftp.password", "x"),
                },
                "erp": PROFILE.erp_section(running.base_url, encrypt),
            }
        )
        ledger = Ledger(f"sqlite:///{work / 'ledger.db'}")
        ledger.migrate()
        run = PartnerRun(tenant, partner, ledger, keyring)
        run.suppliers  # noqa: B018 - warm up: connection pool, imports
        baseline = _rss_mb()
        began = time.perf_counter()
        outcomes = run.run(Period.parse(PERIOD))
        elapsed = time.perf_counter() - began
        peak = _rss_mb()
        run.close()
        (outcome,) = outcomes
        if outcome.status != "delivered":
            print(f"FAILED: {outcome.error}", file=sys.stderr)
            return 1
        (export,) = ledger.partner_exports("acme")
        print(f"partner server: {server}; OData page size {args.page_size}")
        print(
            f"{outcome.rows:,} GL lines -> {export.remote_name} ({export.size / 1e6:.1f} MB, "
            f"verified by {export.verified}) in {elapsed:.1f} s: "
            f"{outcome.rows / elapsed:,.0f} rows/s end to end"
        )
        print(f"peak RSS growth of the exporting process: {peak - baseline:.0f} MB "
              f"(peak {peak:.0f} MB)")  # fmt: skip
        return 0
    finally:
        running.stop()
        if sshd is not None:
            sshd.cleanup()
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    raise SystemExit(main())
