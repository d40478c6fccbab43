"""The fault matrix's world: real services shared by every case, one tenant per case.

`World` holds what is expensive to start (OpenSSH sshd, every registered ERP's sandbox, a
PostgreSQL ledger database, a keyring, the fork server of pipeline passes) and is shared by a
whole session, as is one Dagster instance. `Case` is one tenant on it: its own SFTP folders,
tenant file, mapping file and Stampli simulator, the ERP sandbox reset to its demo company. A case
delivers files, runs passes of the real pipeline (`driver.py`), and `converge()` repeats passes
until the tenant has nothing left to do, doing between them what operations would do after a
crash: mark dead runs failed, and let the dead worker's leases run out.

`audit()` is the verdict: `bridge verify` (run_verify) for the tenant, and beside it a ground
truth computed independently from the sandbox's `/_sandbox/documents`, the ledger and the
files the case delivered. Nothing here imports pytest: the soak bench uses it as well.
"""

import csv
import io
import itertools
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bridge_pipelines.erps import registry
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import (
    TERMINAL_FILE_STATES,
    PostingKind,
    PostingState,
    RecordState,
)
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.profile import SandboxDocument, SandboxProfile
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.sandbox.faultworld.driver import PassResult, PassRunner, PassSpec
from bridge_pipelines.sandbox.postgres import create_database, drop_database
from bridge_pipelines.sandbox.sshd import SshdServer, start_sshd
from bridge_pipelines.sandbox.stampli_sim import StampliSimulator
from bridge_pipelines.tenants.secrets import Keyring

ErpKind = str
"""A registered ERP kind whose connector ships a sandbox (`erp_kinds()`)."""
OPEN_POSTINGS = {PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN}
_counter = itertools.count(1)


def profile_of(kind: ErpKind) -> SandboxProfile:
    """The sandbox profile of a registered ERP kind."""
    profile = registry.plugin(kind).sandbox_profile()
    if not isinstance(profile, SandboxProfile):
        raise ValueError(f"the {kind} connector ships no sandbox")
    return profile


def erp_kinds() -> list[ErpKind]:
    """Every registered ERP kind with a sandbox: what the matrix and the soak run against."""
    return [p.kind for p in registry.plugins() if p.sandbox is not None]


def paying_erp_kinds() -> list[ErpKind]:
    """The kinds whose connector records Stampli's payments (issue 15): payment cases.

    Its sandbox profile must say how a payment is requested and read back (`payment_match`,
    `payments`); without them the harnesses could not judge it, so it is left out.
    """
    return [
        k
        for k in erp_kinds()
        if registry.plugin(k).records_payments() and profile_of(k).payment_match
    ]


@dataclass
class World:
    """Services shared by every case of a session (or of one soak run)."""

    root: Path
    sshd: SshdServer
    erps: dict[str, RunningSandbox]
    ledger_url: str
    key_file: Path
    keyring: Keyring
    runner: PassRunner
    owns_sshd: bool = True

    @property
    def dagster_home(self) -> Path:
        """One Dagster instance for every case (runs are told apart by the tenant tag)."""
        home = self.root / "dagster"
        if not home.exists():
            home.mkdir()
            storage = home / "storage"
            # One event-log database instead of one per run: a run then costs no schema.
            (home / "dagster.yaml").write_text(
                yaml.safe_dump(
                    {
                        "telemetry": {"enabled": False},
                        "run_storage": {
                            "module": "dagster._core.storage.runs",
                            "class": "SqliteRunStorage",
                            "config": {"base_dir": str(storage)},
                        },
                        "event_log_storage": {
                            "module": "dagster._core.storage.event_log",
                            "class": "ConsolidatedSqliteEventLogStorage",
                            "config": {"base_dir": str(storage)},
                        },
                    }
                )
            )
        return home

    @classmethod
    def start(
        cls,
        *,
        sshd: SshdServer | None = None,
        erps: dict[str, RunningSandbox] | None = None,
        ledger_url: str | None = None,
    ) -> "World":
        """Start what is not given; `close()` stops what was started here."""
        root = Path(tempfile.mkdtemp(prefix="bridge-faults-"))
        key_file = root / "keys.json"
        keyring = Keyring.generate(key_file)
        url = ledger_url or create_database(prefix="bridge_faults_")
        migrate(url)
        started_erps = dict(erps or {})
        for kind in erp_kinds():
            if kind not in started_erps:
                started_erps[kind] = start_sandbox(profile_of(kind).app, root / f"erp-{kind}")
        return cls(
            root=root,
            sshd=sshd or start_sshd(),
            erps=started_erps,
            ledger_url=url,
            key_file=key_file,
            keyring=keyring,
            runner=PassRunner(),
            owns_sshd=sshd is None,
        )

    def sandbox(self, kind: ErpKind) -> RunningSandbox:
        """The ERP sandbox of `kind`, started again if a case killed it."""
        running = self.erps[kind]
        if running.process is None or running.process.poll() is not None:
            running.start()
        return running

    def close(self, *, own_erps: bool = True, own_ledger: bool = True) -> None:
        self.runner.close()
        if own_erps:
            for running in self.erps.values():
                running.stop()
        if self.owns_sshd:
            self.sshd.cleanup()
        if own_ledger:
            drop_database(self.ledger_url)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Delivered:
    """A file the case wrote to the tenant's Stampli folder, and the invoices in it."""

    path: Path
    invoices: set[str]
    expected: bool = True  # False: the case removes it, its invoices are not owed


@dataclass
class Audit:
    """The verdict on one tenant: zeros everywhere, and `bridge verify` agreeing."""

    duplicates: int = 0
    lost: int = 0
    files_not_terminal: int = 0
    unknown_to_ledger: int = 0
    imbalances: int = 0
    open_postings: int = 0
    unexpected_holds: int = 0
    verify_ok: bool = False
    verify_counts: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verify_ok and not any(
            (
                self.duplicates,
                self.lost,
                self.files_not_terminal,
                self.unknown_to_ledger,
                self.imbalances,
                self.open_postings,
                self.unexpected_holds,
            )
        )

    def explain(self) -> str:
        counts = {
            "duplicates": self.duplicates,
            "lost": self.lost,
            "files_not_terminal": self.files_not_terminal,
            "unknown_to_ledger": self.unknown_to_ledger,
            "imbalances": self.imbalances,
            "open_postings": self.open_postings,
            "unexpected_holds": self.unexpected_holds,
            "verify_ok": self.verify_ok,
            "verify": self.verify_counts,
        }
        return f"{counts}\n" + "\n".join(self.details[:40])


class Case:
    """One tenant on the world's services; see the module docstring."""

    def __init__(
        self,
        world: World,
        label: str,
        erp: ErpKind | None = None,
        *,
        settle: float = 0.5,
        sftp_port: int | None = None,
        ledger_url: str | None = None,
        operation_timeout: float = 5.0,
        reset_erp: bool = True,
        seed: int | None = None,
        shared_home: Path | None = None,
    ) -> None:
        self.world = world
        self.erp: ErpKind = erp or erp_kinds()[0]
        self.profile = profile_of(self.erp)
        slug = "".join(c if c.isalnum() else "_" for c in label.lower())[:24]
        self.tenant_id = f"f{next(_counter)}_{slug}".rstrip("_")
        # With `shared_home`, tenants live side by side (the soak): one tenants folder, one
        # pass for all of them.
        self.home = shared_home or world.root / self.tenant_id
        self.home.mkdir(parents=True, exist_ok=True)
        self.ledger_url = ledger_url or world.ledger_url
        self.sandbox = world.sandbox(self.erp)
        if reset_erp:
            self.sandbox.admin.reset()
            self.sandbox.admin.clear_faults()
        self.remote_base = f"/cases/{self.tenant_id}"
        self.sftp_root = world.sshd.local(self.remote_base)
        for folder in ("outbound/invoices", "outbound/payments", "outbound/vendors"):
            (self.sftp_root / folder).mkdir(parents=True, exist_ok=True)
        (self.sftp_root / "outbound/gl_accounts").mkdir(parents=True, exist_ok=True)
        (self.sftp_root / "inbound").mkdir(parents=True, exist_ok=True)
        self.sim = StampliSimulator(self.sftp_root, seed=seed if seed is not None else 7)
        self.delivered: list[Delivered] = []
        # Payment ids in the payment files delivered: each is owed a posting (issue 15).
        self.payments_owed: set[str] = set()
        # Reasons a posting may end `rejected` or `needs_review` with (an armed validation
        # fault); besides, only an unmapped code may hold an invoice.
        self.allowed_holds: tuple[str, ...] = ()
        self.passes: list[PassResult] = []
        self._pass_no = 0
        self._write_tenant(settle, sftp_port or world.sshd.port, operation_timeout)
        self._write_mapping()

    # -- setup -------------------------------------------------------------------------------

    def _remote(self, folder: str) -> str:
        return self.world.sshd.remote(f"{self.remote_base}/{folder}")

    def _write_tenant(self, settle: float, sftp_port: int, operation_timeout: float) -> None:
        keyring, tid, sshd = self.world.keyring, self.tenant_id, self.world.sshd
        document: dict[str, Any] = {
            "id": tid,
            "name": f"Fault case {tid}",
            "timezone": "UTC",
            "sftp": {
                "host": "127.0.0.1",
                "port": sftp_port,
                "username": sshd.username,
                "host_key": sshd.host_key_line,
                "private_key": keyring.encrypt(tid, "sftp.private_key", sshd.key.private),
                "settle_seconds": settle,
                "connect_timeout_s": 5,
                "operation_timeout_s": operation_timeout,
                "max_file_bytes": 20 * 1024 * 1024,
            },
            "folders": {
                "invoices": self._remote("outbound/invoices"),
                "payments": self._remote("outbound/payments"),
                "vendors": self._remote("outbound/vendors"),
                "gl_accounts": self._remote("outbound/gl_accounts"),
                "inbound": self._remote("inbound"),
            },
            "erp": self._erp_section(),
            "schedules": {"sensor_interval_s": 5},
            "partitions_start": (date.today() - timedelta(days=30)).isoformat(),
        }
        tenants = self.home / "tenants"
        tenants.mkdir(exist_ok=True)
        (tenants / f"{tid}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    def _erp_section(self) -> dict[str, Any]:
        keyring, tid = self.world.keyring, self.tenant_id
        return dict(
            self.profile.erp_section(
                self.sandbox.base_url, lambda field, plain: keyring.encrypt(tid, field, plain)
            )
        )

    def _write_mapping(self) -> None:
        inactive = {a.code for a in DEMO_COMPANY.gl_accounts if not a.active}
        tables: dict[str, Any] = {k: dict(v) for k, v in self.profile.mapping.items()}
        tables["gl_accounts"] = {
            k: v for k, v in tables.get("gl_accounts", {}).items() if k not in inactive
        }
        folder = self.home / "mappings"
        folder.mkdir(exist_ok=True)
        (folder / f"{self.tenant_id}.yaml").write_text(yaml.safe_dump(tables, sort_keys=True))

    @property
    def env(self) -> dict[str, str]:
        return {
            "BRIDGE_HOME": str(self.home),
            "BRIDGE_TENANTS_DIR": str(self.home / "tenants"),
            "BRIDGE_LEDGER_URL": self.ledger_url,
            "BRIDGE_KEY_FILE": str(self.world.key_file),
            "BRIDGE_MAPPINGS_DIR": str(self.home / "mappings"),
            "DAGSTER_HOME": str(self.world.dagster_home),
        }

    # -- deliveries --------------------------------------------------------------------------

    def deliver(self, n_invoices: int = 3, *, lines: tuple[int, int] = (1, 3)) -> Delivered:
        """One approved-invoices export of `n_invoices` (now and then a vendor the ERP lacks)."""
        path = self.sim.write_invoices(n_invoices, lines=lines, vendor_id=None)
        delivered = Delivered(path, invoice_keys(path.read_bytes()))
        self.delivered.append(delivered)
        return delivered

    def deliver_payments(self, count: int) -> Path:
        """A payments export of `count` payments (~110 bytes each), for a long download.

        The invoices they pay were approved earlier and are not part of this case's files.
        """
        before = self.sim.issued_ids
        self.sim.write_invoices(count, lines=(1, 1), messy=False).unlink()
        return self.sim.write_payments(count, messy=False, only=self.sim.issued_ids - before)

    def pay(self, count: int | None = None) -> Path:
        """A payments export paying invoices delivered earlier (some in part, some together).

        Its payments are owed: each ends recorded once in the ERP, or waiting with a reason.
        """
        path = self.sim.write_payments(count, messy=False)
        self.payments_owed |= payment_ids(path.read_bytes())
        return path

    def add_delivery(self, path: Path, *, expected: bool = True) -> Delivered:
        """A file the case wrote by other means (a copy, a growing file)."""
        delivered = Delivered(path, invoice_keys(path.read_bytes()), expected=expected)
        self.delivered.append(delivered)
        return delivered

    # -- passes ------------------------------------------------------------------------------

    def spec(self, **options: Any) -> PassSpec:
        self._pass_no += 1
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        return PassSpec(
            env={**self.env, **options.pop("env", {})},
            log_path=str(logs / f"pass{self._pass_no}.log"),
            result_path=str(logs / f"pass{self._pass_no}.json"),
            **options,
        )

    def run(self, *, timeout: float = 120.0, **options: Any) -> PassResult:
        """One pass to its end (or its death), recorded in `passes`."""
        result = self.world.runner.run(self.spec(**options), timeout=timeout)
        self.passes.append(result)
        return result

    def after_crash(self) -> None:
        """What time and operations do after a worker died: its leases run out."""
        expire_leases(self.ledger_url, self.tenant_id)

    def converge(self, *, rounds: int = 4, timeout: float = 120.0) -> PassResult:
        """Passes until the tenant is settled; between them, recover from a crash.

        A killed pass leaves runs marked in progress and postings leased to a dead worker:
        the next pass reports the runs failed (run monitoring) and the leases are expired
        (the 5 minutes a real deployment waits).
        """
        last = self.passes[-1] if self.passes else None
        result = PassResult(exitcode=0)
        for _ in range(rounds):
            # A dead pass, or a run that failed, may leave leases: they run out meanwhile.
            crashed = last is not None and (
                last.killed or last.exitcode != 0 or last.failed_runs or last.step_failures
            )
            if crashed:
                self.after_crash()
            result = self.run(timeout=timeout, recover=crashed)
            last = result
            if not result.killed and self.settled():
                return result
        return result

    def settled(self) -> bool:
        ledger = self.ledger()
        try:
            files = ledger.files(self.tenant_id)
            postings = ledger.postings(self.tenant_id)
        finally:
            ledger.dispose()
        return all(f.state in TERMINAL_FILE_STATES for f in files) and not any(
            p.state in OPEN_POSTINGS for p in postings
        )

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_url)

    def wait_until(self, what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.tenant_id}: {what} not reached in {timeout}s")
            time.sleep(0.1)

    # -- the verdict -------------------------------------------------------------------------

    def audit(self, *, verify: bool = True, documents: list[dict[str, Any]] | None = None) -> Audit:
        """Ground truth from the ERP and the ledger, and `bridge verify` beside it.

        `documents`: the sandbox's `/_sandbox/documents`, when the caller read them already.
        """
        audit = Audit()
        if documents is None:
            documents = self.sandbox.admin.documents()
        ledger = self.ledger()
        try:
            _ground_truth(self, ledger, documents, audit)
            if verify:
                _verify(self, audit)
            else:
                audit.verify_ok = True
        finally:
            ledger.dispose()
        return audit


def migrate(ledger_url: str) -> None:
    """Bring a ledger database to the current schema (once, before passes share it)."""
    ledger = Ledger(ledger_url)
    try:
        ledger.migrate()
    finally:
        ledger.dispose()


def invoice_keys(data: bytes) -> set[str]:
    """`vendor|number|type` of every invoice in a Stampli CSV export (the record identity)."""
    text = data.decode("utf-8-sig", errors="replace")
    keys = set()
    for row in csv.DictReader(io.StringIO(text, newline="")):
        if row.get("InvoiceNumber") and row.get("VendorId"):
            keys.add(f"{row['VendorId']}|{row['InvoiceNumber']}|{row.get('DocumentType', '')}")
    return keys


def payment_ids(data: bytes) -> set[str]:
    """The `PaymentId`s of a Stampli payments export."""
    text = data.decode("utf-8-sig", errors="replace")
    return {
        row["PaymentId"]
        for row in csv.DictReader(io.StringIO(text, newline=""))
        if row.get("PaymentId")
    }


def expire_leases(ledger_url: str, tenant_id: str) -> int:
    """Move the leases of the tenant's `sending`/`unknown` rows into the past (time passes)."""
    engine = sa.create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            now = "CURRENT_TIMESTAMP" if engine.dialect.name == "sqlite" else "now()"
            past = (
                "datetime('now', '-1 second')"
                if engine.dialect.name == "sqlite"
                else "now() - interval '1 second'"
            )
            result = conn.execute(
                sa.text(
                    f"UPDATE postings SET lease_until = {past} "
                    "WHERE tenant = :tenant AND state IN ('sending', 'unknown') "
                    f"AND lease_until > {now}"
                ),
                {"tenant": tenant_id},
            )
            return int(result.rowcount or 0)
    finally:
        engine.dispose()


def _ground_truth(
    case: Case, ledger: Ledger, documents: list[dict[str, Any]], audit: Audit
) -> None:
    tid = case.tenant_id
    _payments_truth(case, ledger, documents, audit)
    postings = ledger.postings(tid, kind=PostingKind.INVOICE)
    records = ledger.records(tid, kind="invoices")
    files = ledger.files(tid)
    errors = ledger.row_errors(tid)
    # Duplicates: an ERP document twice for one of our references, or a posting refused
    # because its document was already there (a second send the ERP caught).
    ours = {p.external_ref: p for p in postings}
    held: list[SandboxDocument] = case.profile.documents(documents)
    erp_docs = [(d.doc_id, d.reference) for d in held if d.reference in ours]
    by_ref = Counter(ref for _, ref in erp_docs)
    for ref, n in by_ref.items():
        if n > 1:
            audit.duplicates += n - 1
            audit.details.append(f"duplicate: {n} ERP documents carry {ref}")
    # Every ERP document with our reference is a posted posting naming it (P4).
    for doc_id, ref in erp_docs:
        posting = ours[ref]
        if posting.state != PostingState.POSTED or posting.erp_doc_id != doc_id:
            audit.unknown_to_ledger += 1
            audit.details.append(
                f"unknown to ledger: {doc_id} ({ref}) is {posting.state} {posting.erp_doc_id}"
            )
    docs_by_id = {doc_id for doc_id, _ in erp_docs}
    for p in postings:
        if p.state == PostingState.POSTED and p.erp_doc_id not in docs_by_id:
            audit.lost += 1
            audit.details.append(f"posted #{p.id} {p.external_ref} -> {p.erp_doc_id}: not in ERP")
        if p.state in OPEN_POSTINGS:
            audit.open_postings += 1
            audit.details.append(f"open posting #{p.id}: {p.state} ({p.reason})")
        reason = p.reason or ""
        if p.state in (PostingState.NEEDS_REVIEW, PostingState.REJECTED) and not (
            reason.startswith("cannot build the ERP document: unmapped")
            or any(allowed in reason for allowed in case.allowed_holds)
        ):
            audit.unexpected_holds += 1
            audit.details.append(f"held #{p.id} {p.state}: {p.reason}")
    for doc in held:
        if not doc.balanced:
            audit.imbalances += 1
            audit.details.append(f"imbalance: {doc}")
    # Files: terminal, with a reason unless parsed.
    for f in files:
        if f.state not in TERMINAL_FILE_STATES or (f.state.value != "parsed" and not f.reason):
            audit.files_not_terminal += 1
            audit.details.append(f"file {f.name}: {f.state} ({f.reason})")
    # Lost: every invoice delivered in a file still owed is a record, or a located row error,
    # and an accepted one is posted or held with a reason.
    by_identity: dict[str, list[Any]] = {}
    for r in records:
        by_identity.setdefault(r.identity, []).append(r)
    posting_of = {p.record_id: p for p in postings}
    located = " ".join(f"{e.document} {e.message}" for e in errors)
    owed = set().union(*[d.invoices for d in case.delivered if d.expected] or [set()])
    for key in sorted(owed):
        found = by_identity.get(key, [])
        accepted = [r for r in found if r.state == RecordState.ACCEPTED]
        if not found:
            if key.split("|")[1] not in located:
                audit.lost += 1
                audit.details.append(f"lost: {key} is neither a record nor a located error")
            continue
        if len(accepted) > 1:
            audit.duplicates += len(accepted) - 1
            audit.details.append(f"duplicate: {key} accepted {len(accepted)} times")
        for record in accepted:
            planned = posting_of.get(record.id)
            if planned is None:
                audit.lost += 1
                audit.details.append(f"lost: {key} accepted but never planned")
            elif planned.state == PostingState.POSTED:
                continue
            elif planned.state in OPEN_POSTINGS or not planned.reason:
                audit.lost += 1
                audit.details.append(f"lost: {key} is {planned.state} ({planned.reason})")


def _payments_truth(
    case: Case, ledger: Ledger, documents: list[dict[str, Any]], audit: Audit
) -> None:
    """Payments (issue 15): each once in the ERP, or waiting visibly; none unknown or lost."""
    postings = ledger.postings(case.tenant_id, kind=PostingKind.PAYMENT)
    if not postings and not case.payments_owed:
        return
    ours = {p.external_ref: p for p in postings}
    held = [p for p in case.profile.payments(documents) if p.reference in ours]
    for ref, n in Counter(p.reference for p in held).items():
        if n > 1:
            audit.duplicates += n - 1
            audit.details.append(f"duplicate payment: {n} ERP payments carry {ref}")
    for payment in held:
        posting = ours[payment.reference]
        if posting.state != PostingState.POSTED or posting.erp_doc_id != payment.doc_id:
            audit.unknown_to_ledger += 1
            audit.details.append(
                f"payment unknown to ledger: {payment.doc_id} ({payment.reference}) is "
                f"{posting.state} {posting.erp_doc_id}"
            )
    in_erp = {p.doc_id for p in held}
    recorded: set[str] = set()
    for p in postings:
        payment_id = str(ledger.get_record(p.record_id).payload.get("payment_id"))
        if p.state == PostingState.POSTED:
            recorded.add(payment_id)
            if p.erp_doc_id not in in_erp:
                audit.lost += 1
                audit.details.append(f"payment #{p.id} {payment_id} -> {p.erp_doc_id}: not in ERP")
        elif p.state in OPEN_POSTINGS:
            audit.open_postings += 1
            audit.details.append(f"open payment #{p.id} {payment_id}: {p.state} ({p.reason})")
        elif p.state == PostingState.WAITING and p.reason:
            recorded.add(payment_id)  # waits visibly (an unmapped or held invoice)
        elif not any(allowed in (p.reason or "") for allowed in case.allowed_holds):
            audit.unexpected_holds += 1
            audit.details.append(f"payment #{p.id} {payment_id} {p.state}: {p.reason}")
            recorded.add(payment_id)
    for payment_id in sorted(case.payments_owed - recorded):
        audit.lost += 1
        audit.details.append(f"lost payment: {payment_id} is neither recorded nor waiting")


def _verify(case: Case, audit: Audit) -> None:
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.settings import Settings
    from bridge_pipelines.tenants.loader import load_tenants
    from bridge_pipelines.verify.run import run_verify

    env = case.env
    settings = Settings(
        home=Path(env["BRIDGE_HOME"]),
        tenants_dir=Path(env["BRIDGE_TENANTS_DIR"]),
        ledger_url=env["BRIDGE_LEDGER_URL"],
        key_file=Path(env["BRIDGE_KEY_FILE"]),
        mappings_dir=Path(env["BRIDGE_MAPPINGS_DIR"]),
    )
    saved = os.environ.pop("BRIDGE_MASTER_KEYS", None)
    ctx = Runtime(settings=settings)
    try:
        tenants = load_tenants(Path(env["BRIDGE_TENANTS_DIR"]))
        (tenant,) = [t for t in tenants if t.id == case.tenant_id]
        report = run_verify(case.tenant_id, ctx=ctx, tenant=tenant)
    finally:
        ctx.pool.close_all()
        if saved is not None:
            os.environ["BRIDGE_MASTER_KEYS"] = saved
    data = report.to_dict()
    audit.verify_ok = report.ok
    audit.verify_counts = {name: len(c.get("items", [])) for name, c in data["checks"].items()}
    if not report.ok:
        audit.details.append(f"verify: {data['checks']}")
