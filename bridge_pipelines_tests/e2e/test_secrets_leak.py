"""No secret leaks: a full demo cycle, then every place it wrote is searched for every secret.

`bridge demo --once` runs in a subprocess with every logger at DEBUG (to a file and stderr), so
this process never decrypts through the product and never registers a secret with the log
redactor: what is masked, the product masked by itself. While it runs, the ERP sandboxes'
session tables are polled, so the SYSPRO session GUIDs and SAP B1 B1SESSION ids, which live
only as long as a posting batch, are known too.

Secrets: every encrypted field of every tenant (decrypted here with the keyring), the keyring's
keys, the demo's SFTP password, key passphrase and private key, and the ERP sessions. Searched
in their common encodings (see `support/leaks.py`): stdout, stderr, the DEBUG log, and every
file under the demo home (the ledger, the archive, the Dagster run and event-log storage and
compute logs, the SFTP folders we write to, the tenant files), every SQLite table included,
plus the sandboxes' request logs. Left out, because holding secrets is their job: the keyring
file, the demo's credential files for its own SFTP servers, the SFTP host keys, and the ERP
sandboxes' own databases except their request logs.
"""

import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest
import yaml

from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin
from bridge_pipelines.tenants.loader import load_tenants
from bridge_pipelines.tenants.secrets import Keyring, encrypted_fields
from bridge_pipelines_tests.support.leaks import LeakScanner, Secret

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SANDBOX_DB = "sandbox.sqlite3"
DRIVER = """
import logging, sys
logging.basicConfig(
    level=logging.DEBUG,
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
    handlers=[logging.FileHandler(sys.argv[1]), logging.StreamHandler(sys.stderr)],
    force=True,
)
from bridge_pipelines.cli import main
main(["demo", "--once", "--home", sys.argv[2], "--sftp-port-base", "0"], prog_name="bridge")
"""


# Error paths are where secrets slip into messages (an exception quoting a URL, an ERP answer
# echoed into the ledger): each ERP meets a failed login, an expired session, an error after
# commit and a rate limit during the cycle, all of which the product recovers from.
ERP_FAULTS: dict[str, list[dict[str, object]]] = {
    "syspro": [
        {"action": "error_before_commit", "path": "*/Logon", "status": 500},
        {"action": "expire_session", "path": "*/Query/Query"},
        {"action": "rate_limit", "path": "*/GenMaster", "retry_after": 1},
        {"action": "error_after_commit", "path": "*/Transaction/Post", "status": 502},
    ],
    "sap_b1": [
        {"action": "error_before_commit", "method": "POST", "path": "*/Login", "status": 500},
        {"action": "expire_session", "method": "POST", "path": "*/PurchaseInvoices"},
        {"action": "rate_limit", "method": "GET", "path": "*/ChartOfAccounts", "retry_after": 1},
        {"action": "error_after_commit", "method": "POST", "path": "*/PurchaseCreditNotes"},
    ],
    "infor_m3": [
        {
            "action": "error_before_commit",
            "method": "POST",
            "path": "*/token.oauth2",
            "status": 500,
        },
        {"action": "expire_session", "method": "GET", "path": "*/APS450MI/AddHead*"},
        {"action": "rate_limit", "method": "GET", "path": "*/CRS630MI/LstAccountID*"},
        {"action": "error_after_commit", "method": "GET", "path": "*/APS455MI/ValidByBatchNo*"},
    ],
    "acumatica": [
        {"action": "error_before_commit", "method": "POST", "path": "*/auth/login", "status": 500},
        {"action": "expire_session", "method": "GET", "path": "*/Bill"},
        {"action": "rate_limit", "method": "GET", "path": "*/Account", "retry_after": 1},
        {"action": "error_after_commit", "method": "PUT", "path": "*/Bill", "status": 502},
    ],
}


class SessionWatcher(threading.Thread):
    """While the demo runs: arms ERP_FAULTS once each sandbox is up, and polls every sandbox's
    `sessions` table, keeping every session id seen."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True, name="session-watcher")
        self.home = home
        self.seen: dict[str, set[str]] = {}
        self.armed: set[str] = set()
        self.stop = threading.Event()
        self._conns: dict[Path, sqlite3.Connection] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            self.arm_faults()
            self.poll()
            time.sleep(0.01)
        self.poll()
        for conn in self._conns.values():
            conn.close()

    def arm_faults(self) -> None:
        for path in self.home.glob("tenants/*.yaml"):
            try:
                erp = yaml.safe_load(path.read_text()).get("erp") or {}
            except (OSError, yaml.YAMLError, AttributeError):
                continue  # being written
            kind, url = erp.get("kind"), erp.get("base_url")
            if kind in ERP_FAULTS and kind not in self.armed and url:
                parts = urllib.parse.urlsplit(url)
                admin = SandboxAdmin(f"{parts.scheme}://{parts.netloc}")
                try:
                    admin._call("POST", "faults", json=ERP_FAULTS[kind])
                except httpx.HTTPError:
                    continue  # not answering yet: the next poll tries again
                self.armed.add(kind)

    def poll(self) -> None:
        for path in self.home.glob(f"erp/*/{SANDBOX_DB}"):
            try:
                conn = self._conns.get(path)
                if conn is None:
                    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
                    self._conns[path] = conn
                rows = conn.execute("SELECT * FROM sessions").fetchall()
            except sqlite3.Error:
                continue  # not created yet, or busy: the next poll sees it
            self.seen.setdefault(path.parent.name, set()).update(str(r[0]) for r in rows)


def tenant_secrets(home: Path) -> list[Secret]:
    keyring = Keyring.load(home / "keys.json")
    found: list[Secret] = []
    for tenant in load_tenants(home / "tenants"):
        for path, token in encrypted_fields(tenant):
            plain = keyring.decrypt(tenant.id, path, token).get_secret_value()
            section = tenant.sftp if path.startswith("sftp.") else tenant.erp
            user = getattr(section, "username", None)
            found.append(Secret(f"{tenant.id} {path}", plain.encode(), (user,) if user else ()))
            found.extend(pem_lines(f"{tenant.id} {path}", plain))
    return found


def pem_lines(label: str, text: str) -> list[Secret]:
    """A private key can be logged a line at a time: each base64 line is a secret of its own."""
    if "PRIVATE KEY" not in text:
        return []
    return [
        Secret(f"{label} line {i}", line.strip().encode())
        for i, line in enumerate(text.splitlines())
        if len(line.strip()) >= 16 and not line.startswith("-----")
    ]


def keyring_secrets(home: Path) -> list[Secret]:
    document = json.loads((home / "keys.json").read_text())
    found = []
    for key_id, encoded in document["keys"].items():
        found.append(Secret(f"keyring key {key_id}", base64.b64decode(encoded)))
        found.append(Secret(f"keyring key {key_id} (as stored)", encoded.encode()))
    return found


def demo_credential_secrets(home: Path) -> list[Secret]:
    found = []
    for path in sorted((home / "credentials").glob("*.yaml")):
        for key, value in yaml.safe_load(path.read_text()).items():
            if key != "public_key" and isinstance(value, str):
                label = f"demo {path.stem} {key}"
                found.append(Secret(label, value.encode(), ("stampli",)))
                found.extend(pem_lines(label, value))
    return found


def is_sandbox_store(path: Path) -> bool:
    return path.name.startswith(SANDBOX_DB)


def test_a_demo_cycle_leaks_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    logs = tmp_path / "logs"
    logs.mkdir()
    debug_log = logs / "bridge-debug.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    watcher = SessionWatcher(home)
    watcher.start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", DRIVER, str(debug_log), str(home)],
            capture_output=True,
            env=env,
            timeout=400,
            check=False,
        )
    finally:
        watcher.stop.set()
        watcher.join(timeout=10)
    assert result.returncode == 0, result.stdout.decode()[-3000:]
    assert b"demo cycle OK" in result.stdout
    assert watcher.armed == set(ERP_FAULTS)
    for kind in ERP_FAULTS:
        with sqlite3.connect(home / "erp" / kind / SANDBOX_DB) as conn:
            left = conn.execute("SELECT spec FROM faults").fetchall()
        assert not left, f"{kind}: faults that never fired: {left}"

    sessions = [
        Secret(f"{erp} session id #{i}", sid.encode())
        for erp, ids in sorted(watcher.seen.items())
        for i, sid in enumerate(sorted(ids))
    ]
    secrets = (
        tenant_secrets(home) + keyring_secrets(home) + demo_credential_secrets(home) + sessions
    )
    labels = {s.label for s in secrets}
    # The scan covers what it claims: both tenants' credentials and both ERPs' sessions.
    assert {"acme sftp.password", "acme erp.password", "globex sftp.private_key"} <= labels
    assert {"globex sftp.private_key_passphrase", "globex erp.password"} <= labels
    assert {erp for erp, ids in watcher.seen.items() if ids} >= set(ERP_FAULTS), (
        "no ERP session was observed: the session ids would go unchecked"
    )

    scanner = LeakScanner(secrets)
    # Positive control: the scanner finds the secrets where they are meant to be.
    control = LeakScanner(secrets)
    control.scan_tree(home / "credentials")
    control.scan_sqlite(next(home.glob(f"erp/syspro/{SANDBOX_DB}")), "syspro", {"operators"})
    assert {h.label for h in control.hits} >= {"acme sftp.password", "acme erp.password"}

    scanner.scan_bytes("stdout of `bridge demo --once`", result.stdout)
    scanner.scan_bytes("stderr of `bridge demo --once` (DEBUG logging)", result.stderr)
    scanner.scan_bytes("DEBUG log file", debug_log.read_bytes())
    legit = {home / "keys.json", home / "credentials", home / "host_keys"}
    scanner.scan_tree(
        home,
        skip=lambda p: any(p == x or x in p.parents for x in legit) or is_sandbox_store(p),
        only_tables=lambda p: {"requests"} if p.name == SANDBOX_DB else None,
    )
    # The request logs as the admin endpoint serves them are that same `requests` table.
    scanned = set(scanner.scanned)
    assert {"ledger.db", "dagster_home/history/runs.db"} <= {
        w.split(" table ")[0] for w in scanned
    }, sorted(scanned)[:20]
    assert any(w.startswith("archive/") for w in scanned)
    assert any(w.startswith("erp/syspro/") and w.endswith("table requests") for w in scanned)
    assert any(w.startswith("erp/sap_b1/") and w.endswith("table requests") for w in scanned)
    if scanner.hits:
        pytest.fail(
            f"{len(scanner.hits)} secret leak(s) in {len(scanned)} places searched:\n"
            + scanner.report(),
            pytrace=False,
        )
