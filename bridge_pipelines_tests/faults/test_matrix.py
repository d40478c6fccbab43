"""The fault matrix (reliability.md §4): each fault injected into the real pipeline, which must
then converge to zero duplicates, zero lost invoices and every file terminal.

Every case runs the Dagster definitions (sensor ticks, then the runs they request) in passes
forked from a fork server, against OpenSSH sshd, the SYSPRO or SAP B1 sandbox and PostgreSQL.
A case injects its fault, restarts whatever died, converges (`Case.converge`), and asserts with
`bridge verify` plus an independent ground truth (`Case.audit`). Small on purpose: three to six
invoices a case, so the whole matrix fits in CI.
"""

import fnmatch
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_pipelines.ledger.states import FileState, PostingKind, PostingState
from bridge_pipelines.sandbox.fault_proxy import Cut, FaultProxy, Reset, Stall
from bridge_pipelines.sandbox.faultworld.driver import PassResult
from bridge_pipelines.sandbox.faultworld.world import (
    Audit,
    Case,
    ErpKind,
    World,
    erp_kinds,
    migrate,
    paying_erp_kinds,
)
from bridge_pipelines_tests.erps.harness import matches

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.postgres, pytest.mark.slow]

# Every registered ERP with a sandbox; intake-side cases run on the first, ERP-side on each.
ERPS = erp_kinds()
FIRST = ERPS[0]
RESULTS: list[dict[str, object]] = []


def converged(case: Case, fault: str, *, rounds: int = 4) -> Audit:
    """Converge, audit, record the row of the matrix table; fail with the details."""
    case.converge(rounds=rounds)
    audit = case.audit()
    RESULTS.append(
        {
            "fault": fault,
            "passes": len(case.passes),
            "runs": sum(p.runs for p in case.passes),
            "duplicates": audit.duplicates + audit.verify_counts.get("duplicates", 0),
            "lost": audit.lost + audit.verify_counts.get("lost", 0),
            "files_not_terminal": audit.files_not_terminal
            + audit.verify_counts.get("files_not_terminal", 0),
            "ok": audit.ok,
        }
    )
    assert audit.ok, f"{fault}: {audit.explain()}\npasses: {passes(case)}"
    return audit


def passes(case: Case) -> str:
    return "\n".join(
        f"  exit {p.exitcode}, {p.runs} runs ({p.failed_runs} failed), notes {p.notes[-6:]}, "
        f"errors {[e[-300:] for e in p.errors[:2]]}"
        for p in case.passes
    )


def posts(case: Case) -> int:
    """Posting requests the ERP received (the sandbox's request log)."""
    match = case.profile.write_match
    return sum(
        1
        for r in case.sandbox.admin.requests()
        if fnmatch.fnmatchcase(r["method"], match["method"])
        and fnmatch.fnmatchcase(r["path"], match["path"])
        and match.get("query_contains", "") in (r.get("query") or "")
    )


def fired(case: Case) -> bool:
    """Every armed fault has fired at least once (count-limited ones are gone)."""
    return all(f.get("fired", 0) > 0 for f in case.sandbox.admin.faults())


# -- kill points: the process dies with SIGKILL at a named line ---------------------------------

# Where the process dies: intake's points on one ERP, the posting's on every ERP.
INTAKE_POINTS = ("mid_download", "after_download", "after_parse", "before_ledger_commit")
POSTING_POINTS = ("after_claim", "after_request_sent", "after_erp_response")
KILL_POINTS: list[tuple[str, ErpKind]] = [
    *((point, FIRST) for point in INTAKE_POINTS),
    *((point, erp) for erp in ERPS for point in POSTING_POINTS),
]


@pytest.mark.parametrize(("point", "erp"), KILL_POINTS, ids=[f"{p}-{e}" for p, e in KILL_POINTS])
def test_kill_point(fault_world: World, point: str, erp: ErpKind) -> None:
    case = Case(fault_world, point, erp)
    case.deliver(3)
    first = case.run(fault_at=point)
    assert first.killed, f"{point} was never reached: {passes(case)}"
    converged(case, f"kill {point} ({erp})")


def test_kill_mid_upload_of_master_data(fault_world: World) -> None:
    case = Case(fault_world, "mid_upload")
    first = case.run(fault_at="mid_upload", master_data=True, max_ticks=1)
    assert first.killed, f"mid_upload was never reached: {passes(case)}"
    again = case.run(master_data=True, max_ticks=1, recover=True)
    assert again.exitcode == 0 and not again.failed_runs, passes(case)
    inbound = case.sftp_root / "inbound"
    published = sorted(p for p in inbound.iterdir() if not p.name.startswith("."))
    assert published, "no master data reached Stampli's inbound folder"
    for path in published:
        text = path.read_text(encoding="utf-8-sig")
        assert text.endswith("\n") and len(text.splitlines()) > 1, f"{path.name} is partial"
    # The dead upload's temporary file is hidden from Stampli by its name; nothing partial
    # was ever published under a real name.
    case.deliver(2)
    converged(case, "kill mid_upload (master data export)")


# -- the ERP misbehaves after (or before) committing -------------------------------------------

# What every ERP sandbox can do to the posting request (sandboxes.md), on every ERP.
FAULT_SPECS: list[tuple[str, dict[str, object]]] = [
    ("error_after_commit", {"status": 502}),
    ("hang_after_commit", {"seconds": 1.5}),
    ("reset_after_commit", {}),
    ("error_before_commit", {"status": 503}),
    ("garbage", {}),
    ("rate_limit", {"retry_after": 1, "count": 2}),
    ("rate_limit", {"retry_after": None, "count": 2}),
]
ERP_FAULTS: list[tuple[str, ErpKind, dict[str, object]]] = [
    (action, erp, spec) for erp in ERPS for action, spec in FAULT_SPECS
]


def _fault_id(action: str, erp: str, spec: dict[str, object]) -> str:
    if action == "rate_limit":
        action += "-retry_after" if spec.get("retry_after") else "-no_retry_after"
    return f"{action}-{erp}"


@pytest.mark.parametrize(
    ("action", "erp", "spec"),
    ERP_FAULTS,
    ids=[_fault_id(a, e, s) for a, e, s in ERP_FAULTS],
)
def test_erp_fault(fault_world: World, action: str, erp: ErpKind, spec: dict[str, object]) -> None:
    case = Case(fault_world, action, erp)
    case.deliver(3)
    case.sandbox.admin.arm_fault(action, **{"count": 1, **case.profile.write_match, **spec})
    case.run()
    assert fired(case), f"{action} never fired: {case.sandbox.admin.faults()}"
    converged(case, _fault_id(action, erp, spec))


@pytest.mark.parametrize("erp", ERPS)
def test_expired_session_mid_batch(fault_world: World, erp: ErpKind) -> None:
    case = Case(fault_world, "expire_session", erp)
    case.deliver(4)
    # The third post of the batch: the session ends after earlier posts of the same run.
    case.sandbox.admin.arm_fault("expire_session", count=1, skip=2, **case.profile.write_match)
    case.run()
    assert fired(case), "the session never expired"
    converged(case, f"expire_session mid-batch ({erp})")


def test_validation_error_is_rejected_with_its_answer(fault_world: World) -> None:
    case = Case(fault_world, "validation", FIRST)
    case.deliver(3)
    case.sandbox.admin.arm_fault(
        "validation", count=1, message="Supplier is on hold", **case.profile.write_match
    )
    case.allowed_holds = ("Supplier is on hold",)
    case.run()
    assert fired(case)
    converged(case, "validation (rejected, kept)")
    ledger = case.ledger()
    try:
        rejected = [p for p in ledger.postings(case.tenant_id) if p.state == PostingState.REJECTED]
    finally:
        ledger.dispose()
    assert len(rejected) == 1 and "on hold" in (rejected[0].last_response or "")


# -- SFTP: the connection drops, stalls; files grow, vanish, arrive twice -----------------------


@pytest.fixture
def sftp_proxy(fault_world: World) -> Iterator[FaultProxy]:
    with FaultProxy((fault_world.sshd.host, fault_world.sshd.port)) as proxy:
        yield proxy


SFTP_CUTS: dict[str, Cut | Reset | Stall] = {
    "reset": Reset(after_bytes=20_000),
    "cut": Cut(after_bytes=20_000),
    "stall": Stall(after_bytes=20_000),
}


@pytest.mark.parametrize("mode", list(SFTP_CUTS))
def test_sftp_connection_lost_mid_download(
    fault_world: World, sftp_proxy: FaultProxy, mode: str
) -> None:
    case = Case(fault_world, f"sftp_{mode}", sftp_port=sftp_proxy.port, operation_timeout=2.0)
    case.deliver(3)
    big = case.deliver_payments(600)
    assert big.stat().st_size > 60_000
    sftp_proxy.set(down=SFTP_CUTS[mode])
    case.run()
    assert sftp_proxy.stats.fired == {mode: 1}, sftp_proxy.stats
    converged(case, f"sftp {mode} mid-download (proxy)")
    assert not list((case.home / "work").glob("*.part")), "a partial download was left behind"


def test_growing_file_is_taken_once_when_complete(fault_world: World) -> None:
    # Chunks every 0.3 s against a 2 s settle: only a finished file stays still that long.
    case = Case(fault_world, "growing", settle=2.0)
    grown: list[Path] = []
    grower = threading.Thread(
        target=lambda: grown.append(case.sim.write_growing("invoices", 3.0, chunks=10))
    )
    grower.start()
    try:
        case.run(max_ticks=20)
    finally:
        grower.join()
    (path,) = grown
    case.add_delivery(path)
    converged(case, "growing file")
    ledger = case.ledger()
    try:
        rows = [f for f in ledger.files(case.tenant_id) if f.name == path.name]
    finally:
        ledger.dispose()
    parsed = [f for f in rows if f.state == FileState.PARSED]
    assert len(parsed) == 1 and parsed[0].size == path.stat().st_size, rows


def test_file_vanishing_after_listing(fault_world: World) -> None:
    case = Case(fault_world, "vanish")
    case.deliver(3)
    gone = case.deliver(2)
    case.run(scan_only=True, max_ticks=3)  # listed until stable, waiting for its run
    gone.path.unlink()
    gone.expected = False
    case.run()
    converged(case, "file vanished after listing")
    ledger = case.ledger()
    try:
        (row,) = [f for f in ledger.files(case.tenant_id) if f.name == gone.path.name]
    finally:
        ledger.dispose()
    assert row.state == FileState.VANISHED and row.reason


def test_same_file_delivered_twice_at_once(fault_world: World) -> None:
    case = Case(fault_world, "twice")
    first = case.deliver(4)
    twin = first.path.with_name(first.path.stem + "_again.csv")
    shutil.copyfile(first.path, twin)
    case.add_delivery(twin)
    # Two sensors ticking at once (Dagster #26404), each launching what it sees.
    runner = fault_world.runner
    specs = [case.spec(), case.spec()]
    running = [runner.start(spec) for spec in specs]
    case.passes.extend(runner.wait(p, s, 120) for p, s in zip(running, specs, strict=True))
    converged(case, "same file twice, concurrently")
    ledger = case.ledger()
    try:
        states = sorted(f.state.value for f in ledger.files(case.tenant_id))
    finally:
        ledger.dispose()
    assert states == ["duplicate", "parsed"]
    assert posts(case) == len(case.sandbox.admin.documents())


# -- PostgreSQL: restarted under a run; two runs race for the same postings ----------------------


class PrivateCluster:
    """A throw-away PostgreSQL cluster on its own port, which a test may restart at will."""

    def __init__(self, root: Path, port: int) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not versions:
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = versions[-1].parent
        self.data = root / "data"
        self.port = port
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        self._as_owner("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()

    def _as_owner(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            "pg_ctl", action, "-D", str(self.data), "-w", "-l", str(self.root / "log"),
            "-o", options, *extra,
        )  # fmt: skip

    def start(self) -> None:
        self._pg_ctl("start")

    def restart_immediately(self, down_for: float = 0.0) -> None:
        """`pg_ctl stop -m immediate` (every connection dies, no clean shutdown), then start.

        `down_for` keeps the server away long enough for the run to need it meanwhile.
        """
        self._pg_ctl("stop", "-m", "immediate")
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[PrivateCluster]:
    from bridge_pipelines.sandbox.sshd import free_port

    cluster = PrivateCluster(Path("/tmp") / f"bridge-pg-{os.getpid()}-{tmp_path.name}", free_port())
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def test_postgres_restarted_mid_run(fault_world: World, private_pg: PrivateCluster) -> None:
    migrate(private_pg.url)
    case = Case(fault_world, "pg_restart", ledger_url=private_pg.url)
    case.deliver(5)
    # Slow posts, so the restart lands while postings are being sent.
    case.sandbox.admin.arm_fault("latency", ms=400, probability=1.0, **case.profile.write_match)
    spec = case.spec()
    running = fault_world.runner.start(spec)

    def posting_started() -> bool:
        ledger = case.ledger()
        try:
            return any(p.state != PostingState.PLANNED for p in ledger.postings(case.tenant_id))
        except Exception:
            return False
        finally:
            ledger.dispose()

    case.wait_until("a posting under way", posting_started, timeout=60)
    private_pg.restart_immediately(down_for=1.0)
    # A ledger write that met the outage fails its step, which Dagster retries 30 s later
    # (the asset's RetryPolicy; that retry claims nothing, the dead claims' leases still run).
    # We do not wait for it: a worker still busy 8 s on is killed, as a redeploy would.
    case.passes.append(fault_world.runner.wait(running, spec, 8))
    case.sandbox.admin.clear_faults()
    converged(case, "PostgreSQL restarted mid-run (pg_ctl stop -m immediate, start)")


def test_two_runs_race_for_the_same_postings(fault_world: World) -> None:
    case = Case(fault_world, "race")
    case.deliver(6)
    first = case.run(fault_at="after_claim")  # records and claimed postings, nothing sent
    assert first.killed
    case.after_crash()
    ledger = case.ledger()
    try:
        days = sorted({str(f.partition_day) for f in ledger.files(case.tenant_id)})
    finally:
        ledger.dispose()
    case.sandbox.admin.arm_fault("latency", ms=100, probability=1.0, **case.profile.write_match)
    specs = [case.spec(posting_days=tuple(days), recover=True) for _ in range(2)]
    running = [fault_world.runner.start(s) for s in specs]
    results: list[PassResult] = [
        fault_world.runner.wait(p, s, 120) for p, s in zip(running, specs, strict=True)
    ]
    case.passes.extend(results)
    case.sandbox.admin.clear_faults()
    assert all(r.exitcode == 0 for r in results), passes(case)
    converged(case, "two runs racing on PostgreSQL")
    ledger = case.ledger()
    try:
        posted = [p for p in ledger.postings(case.tenant_id) if p.state == PostingState.POSTED]
    finally:
        ledger.dispose()
    assert len(posted) >= 5 and len(case.sandbox.admin.documents()) == len(posted)
    assert posts(case) == len(posted), "a posting was sent by both runs"


# -- payments (issue 15): on every ERP whose connector records them ------------------------------

PAYERS = paying_erp_kinds()


def payment_posts(case: Case) -> int:
    """Payment requests the ERP received (the sandbox's request log)."""
    # The sandbox's own matching (query_contains too: SYSPRO posts invoices and payments
    # through the same Transaction/Post path).
    return sum(1 for r in case.sandbox.admin.requests() if matches(case.profile.payment_match, r))


def payment_postings(case: Case) -> list:
    ledger = case.ledger()
    try:
        return ledger.postings(case.tenant_id, kind=PostingKind.PAYMENT)
    finally:
        ledger.dispose()


@pytest.mark.parametrize("erp", PAYERS)
def test_payment_error_after_the_erp_committed_it(fault_world: World, erp: ErpKind) -> None:
    case = Case(fault_world, "pay_after_commit", erp)
    case.deliver(4)
    case.run()
    case.pay()
    case.sandbox.admin.arm_fault(
        "error_after_commit", count=1, status=502, **case.profile.payment_match
    )
    case.run()
    assert fired(case), "the payment fault never fired"
    converged(case, f"payment error_after_commit ({erp})")
    posted = [p for p in payment_postings(case) if p.state == PostingState.POSTED]
    assert posted and payment_posts(case) == len(posted), "a payment was sent twice"


@pytest.mark.parametrize("erp", PAYERS)
def test_payment_file_before_its_invoice_file(
    fault_world: World, erp: ErpKind, tmp_path: Path
) -> None:
    case = Case(fault_world, "pay_before_invoice", erp)
    invoices = case.deliver(3)
    held_back = tmp_path / invoices.path.name
    shutil.move(invoices.path, held_back)  # Stampli's invoice export arrives late
    case.pay()
    case.run()
    waiting = payment_postings(case)
    assert waiting and {p.state for p in waiting} == {PostingState.WAITING}, waiting
    assert all("is not in the ledger" in (p.reason or "") for p in waiting), waiting
    shutil.move(held_back, invoices.path)
    converged(case, f"payment file before its invoice file ({erp})")
    assert any(p.state == PostingState.POSTED for p in payment_postings(case))


@pytest.mark.parametrize("erp", PAYERS)
def test_duplicate_payment_export_is_applied_once(fault_world: World, erp: ErpKind) -> None:
    case = Case(fault_world, "pay_twice", erp)
    case.deliver(4)
    first = case.pay()
    shutil.copyfile(first, first.with_name(first.stem + "_again.csv"))  # the same bytes
    crlf = first.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    first.with_name(first.stem + "_reexport.csv").write_bytes(crlf)  # same payments, new bytes
    case.run()
    converged(case, f"duplicate payment export ({erp})")
    posted = [p for p in payment_postings(case) if p.state == PostingState.POSTED]
    assert posted and payment_posts(case) == len(posted)
    [documents] = [case.profile.payments(case.sandbox.admin.documents())]
    assert len(documents) == len(posted)
