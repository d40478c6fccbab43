"""Soak: N invoices for M tenants through the real pipeline, faults drawn at random, then verify.

    python -m bench soak --invoices 10000 --tenants 20 --fault-rate 0.05 --seed 1

The tenants share OpenSSH sshd (each behind its own fault proxy), the SYSPRO and SAP B1
sandboxes (alternating by tenant) and one PostgreSQL ledger. Invoices arrive in rounds, one
Stampli export of `--per-file` invoices per tenant a round, and each round is taken by passes
of the real pipeline (every tenant's sensor, then the runs it requests), exactly as the fault
matrix drives it. Faults are drawn with the seeded random generator at `--fault-rate`:

- ERP: each posting request meets one of seven sandbox faults with probability R (error,
  hang or reset after commit, garbage, error before commit, 429/503 with Retry-After,
  expired session), armed for the whole delivery phase;
- SFTP: each tenant-round, with probability R its proxy cuts, resets or stalls the connection
  after a random number of bytes;
- files: each tenant-round, with probability R an extra file grows while it is listed, or
  an earlier export is delivered again under a new name;
- process: each pass is killed at a random kill point with probability 1 - (1 - R)^M (R per
  tenant run it serves), at a random occurrence of that point.

Payments are mixed in (issue 15) for tenants whose ERP records them: each tenant-round a
Stampli payments export pays some of the invoices delivered so far (in part, several together,
a credit memo taken), and the ERP faults are armed on the payment request as well. Each
payment must end recorded once in the ERP or waiting with its reason.

Bounded: after the last round the faults are cleared and clean passes run until every tenant
is settled or `--max-minutes` is spent. Then `bridge verify` and the independent ground truth
run for every tenant, and the table shows each fault with its injections and the duplicates,
lost invoices and non-terminal files of the tenants it could have touched. Exit status 1 when
anything is not zero.
"""

import argparse
import dataclasses
import importlib
import math
import random
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge_pipelines.sandbox.fault_proxy import Cut, FaultProxy, Reset, Stall
from bridge_pipelines.sandbox.faultworld.driver import PassResult
from bridge_pipelines.sandbox.faultworld.world import (
    Audit,
    Case,
    ErpKind,
    World,
    erp_kinds,
    paying_erp_kinds,
    profile_of,
)

ERP_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("error_after_commit", {"status": 502}),
    ("hang_after_commit", {"seconds": 1.0}),
    ("reset_after_commit", {}),
    ("garbage", {}),
    ("error_before_commit", {"status": 503}),
    ("rate_limit", {"retry_after": 1}),
    ("expire_session", {}),
]
KILL_POINTS = (
    "mid_download",
    "after_download",
    "after_parse",
    "after_claim",
    "after_request_sent",
    "after_erp_response",
    "before_ledger_commit",
)
PROXY_FAULTS = ("cut", "reset", "stall")
PRELOAD = (
    "bridge_pipelines.verify.run",
    "bridge_pipelines.intake.runtime",
)
# Serial numbers per tenant far apart: tenants share one ERP company, where a supplier's
# invoice number must be unique.
SERIAL_STRIDE = 1_000_000


@dataclass
class Tally:
    """Injections per fault, and which tenants each fault could have touched."""

    injections: Counter[str] = field(default_factory=Counter)
    touched: dict[str, set[str]] = field(default_factory=dict)

    def add(self, fault: str, tenants: list[str], n: int = 1) -> None:
        self.injections[fault] += n
        self.touched.setdefault(fault, set()).update(tenants)


@dataclass
class Soak:
    """One soak run: the world, its tenants, their proxies, the tally."""

    args: argparse.Namespace
    world: World
    rng: random.Random
    home: Path
    cases: list[Case] = field(default_factory=list)
    proxies: dict[str, FaultProxy] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    passes: list[PassResult] = field(default_factory=list)
    delivered: int = 0
    payments: int = 0
    pass_no: int = 0
    growing: list[tuple[Case, threading.Thread, list[Path]]] = field(default_factory=list)
    payers: frozenset[str] = field(default_factory=lambda: frozenset(paying_erp_kinds()))
    # Its own generator: mixing payments in leaves the seed's draws of faults as they were.
    pay_rng: random.Random = field(default_factory=random.Random)

    # -- setup -----------------------------------------------------------------------------

    def add_tenants(self) -> None:
        erps: list[ErpKind] = erp_kinds() if self.args.erps == "all" else [self.args.erps]
        reset: set[str] = set()
        for index in range(self.args.tenants):
            erp = erps[index % len(erps)]
            proxy = FaultProxy((self.world.sshd.host, self.world.sshd.port)).start()
            case = Case(
                self.world,
                f"soak{index}",
                erp,
                sftp_port=proxy.port,
                operation_timeout=3.0,
                reset_erp=erp not in reset,
                seed=self.args.seed * 1000 + index,
                shared_home=self.home,
            )
            reset.add(erp)
            case.sim._serial = index * SERIAL_STRIDE  # see SERIAL_STRIDE
            self.cases.append(case)
            self.proxies[case.tenant_id] = proxy

    def arm_erp_faults(self) -> None:
        rate = self.args.fault_rate / len(ERP_FAULTS)
        if rate <= 0:
            return
        payers = set(paying_erp_kinds())
        for erp in {case.erp for case in self.cases}:
            admin = self.world.sandbox(erp).admin
            profile = profile_of(erp)
            matches = [profile.write_match]
            if erp in payers and profile.payment_match:
                matches.append(profile.payment_match)
            for match in matches:
                for action, spec in ERP_FAULTS:
                    admin.arm_fault(action, count=None, probability=rate, **match, **spec)

    def collect_erp_faults(self) -> None:
        for erp in {case.erp for case in self.cases}:
            tenants = [c.tenant_id for c in self.cases if c.erp == erp]
            for fault in self.world.sandbox(erp).admin.faults():
                self.tally.add(f"erp {fault['action']}", tenants, int(fault.get("fired") or 0))
            self.world.sandbox(erp).admin.clear_faults()

    # -- rounds ----------------------------------------------------------------------------

    def deliver_round(self, per_tenant: list[int]) -> None:
        rate = self.args.fault_rate
        for case, count in zip(self.cases, per_tenant, strict=True):
            if count <= 0:
                continue
            case.deliver(count)
            self.delivered += count
            if self.args.payments and case.erp in self.payers:
                before = len(case.payments_owed)
                case.pay(self.pay_rng.randint(1, max(1, count)))
                self.payments += len(case.payments_owed) - before
            if self.rng.random() < rate:
                self._file_fault(case)
            if self.rng.random() < rate:
                self._proxy_fault(case)

    def _file_fault(self, case: Case) -> None:
        if self.rng.random() < 0.5 and case.delivered:
            earlier = self.rng.choice(case.delivered).path
            twin = earlier.with_name(f"{earlier.stem}_again{self.rng.randrange(10**6)}.csv")
            shutil.copyfile(earlier, twin)
            case.add_delivery(twin)
            self.tally.add("file delivered again", [case.tenant_id])
            return
        written: list[Path] = []
        thread = threading.Thread(
            target=lambda: written.append(case.sim.write_growing("invoices", 2.0, chunks=8)),
            daemon=True,
        )
        thread.start()
        self.growing.append((case, thread, written))
        self.tally.add("file growing while listed", [case.tenant_id])

    def finish_growing(self) -> None:
        """Wait for files still growing; they are owed like any other."""
        for case, thread, written in self.growing:
            thread.join()
            for path in written:
                self.delivered += len(case.add_delivery(path).invoices)
        self.growing.clear()

    def _proxy_fault(self, case: Case) -> None:
        kind = self.rng.choice(PROXY_FAULTS)
        after = self.rng.randrange(1_000, 40_000)
        faults: dict[str, Cut | Reset | Stall] = {
            "cut": Cut(after),
            "reset": Reset(after),
            "stall": Stall(after),
        }
        fault = faults[kind]
        self.proxies[case.tenant_id].set(down=fault)

    def run_pass(self, *, clean: bool, crashed: bool) -> PassResult:
        self.pass_no += 1
        options: dict[str, Any] = {}
        kill_rate = 1 - (1 - self.args.fault_rate) ** len(self.cases)
        if not clean and self.rng.random() < kill_rate:
            options["fault_at"] = self.rng.choice(KILL_POINTS)
            options["fault_nth"] = self.rng.randint(1, len(self.cases))
        if crashed:
            for case in self.cases:
                case.after_crash()
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        spec = dataclasses.replace(
            self.cases[0].spec(max_ticks=self.args.max_ticks, recover=crashed, **options),
            log_path=str(logs / f"pass{self.pass_no}.log"),
            result_path=str(logs / f"pass{self.pass_no}.json"),
        )
        result = self.world.runner.run(spec, timeout=self.args.pass_timeout)
        self.passes.append(result)
        if result.killed and "fault_at" in options:
            self.tally.add(f"kill {options['fault_at']}", [c.tenant_id for c in self.cases])
        return result

    def settled(self) -> bool:
        return all(case.settled() for case in self.cases)

    def collect_proxy_faults(self) -> None:
        for tenant, proxy in self.proxies.items():
            for kind, n in proxy.stats.fired.items():
                self.tally.add(f"sftp {kind} (proxy)", [tenant], n)
            proxy.clear()


def _crashed(result: PassResult) -> bool:
    return bool(result.killed or result.exitcode != 0 or result.failed_runs or result.step_failures)


def run(args: argparse.Namespace, world: World | None = None) -> int:
    """The soak; prints the table and returns the exit status.

    `world`: services to reuse (the fault matrix's, in CI); by default the soak starts its own.
    """
    # Everything the final audit imports, now: a long soak must not meet a newer tree.
    for module in PRELOAD:
        importlib.import_module(module)
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    own_world = world is None
    world = world or World.start()
    home = world.root / f"soak-{args.seed}-{int(time.time())}"
    soak = Soak(
        args=args,
        world=world,
        rng=random.Random(args.seed),
        home=home,
        pay_rng=random.Random(args.seed + 1),
    )
    try:
        soak.add_tenants()
        soak.arm_erp_faults()
        per_round = args.tenants * args.per_file
        rounds = math.ceil(args.invoices / per_round)
        left = args.invoices
        print(
            f"soak: {args.invoices} invoices, {args.tenants} tenants, {rounds} rounds, "
            f"fault rate {args.fault_rate:.1%}, seed {args.seed}",
            flush=True,
        )
        crashed = False
        for number in range(rounds):
            counts = []
            for _ in soak.cases:
                take = min(args.per_file, left)
                counts.append(take)
                left -= take
            soak.deliver_round(counts)
            for _ in range(3):
                result = soak.run_pass(clean=False, crashed=crashed)
                crashed = _crashed(result)
                if not result.killed and soak.settled():
                    break
                if time.monotonic() > deadline:
                    break
            soak.finish_growing()
            print(
                f"  round {number + 1}/{rounds}: {soak.delivered} invoices delivered, "
                f"{len(soak.passes)} passes ({sum(p.killed for p in soak.passes)} killed), "
                f"{time.monotonic() - started:.0f}s",
                flush=True,
            )
            if time.monotonic() > deadline:
                print("  time budget spent: no more deliveries", flush=True)
                break
        soak.collect_erp_faults()
        soak.collect_proxy_faults()
        converge_started = time.monotonic()
        while not soak.settled() and time.monotonic() < deadline + 300:
            result = soak.run_pass(clean=True, crashed=crashed)
            crashed = _crashed(result)
        converge_s = time.monotonic() - converge_started
        audits = audit_all(soak)
        return report(soak, audits, time.monotonic() - started, converge_s)
    finally:
        for proxy in soak.proxies.values():
            proxy.stop()
        if own_world:
            world.close()


def audit_all(soak: Soak) -> dict[str, Audit]:
    documents = {
        erp: soak.world.sandbox(erp).admin.documents() for erp in {c.erp for c in soak.cases}
    }
    return {case.tenant_id: case.audit(documents=documents[case.erp]) for case in soak.cases}


def report(soak: Soak, audits: dict[str, Audit], seconds: float, converge_s: float) -> int:
    def sums(tenants: set[str]) -> tuple[int, int, int]:
        rows = [audits[t] for t in tenants]
        return (
            sum(a.duplicates + a.verify_counts.get("duplicates", 0) for a in rows),
            sum(a.lost + a.verify_counts.get("lost", 0) for a in rows),
            sum(a.files_not_terminal + a.verify_counts.get("files_not_terminal", 0) for a in rows),
        )

    print()
    columns = (("injections", 10), ("duplicates", 10), ("lost", 6), ("files not terminal", 19))
    print(f"{'fault':<34} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for fault in sorted(soak.tally.injections):
        dup, lost, files = sums(soak.tally.touched[fault])
        print(f"{fault:<34} {soak.tally.injections[fault]:>10} {dup:>10} {lost:>6} {files:>19}")
    dup, lost, files = sums(set(audits))
    total = sum(soak.tally.injections.values())
    print(f"{'all tenants':<34} {total:>10} {dup:>10} {lost:>6} {files:>19}")
    bad = [t for t, a in audits.items() if not a.ok]
    killed = sum(p.killed for p in soak.passes)
    print()
    print(
        f"{soak.delivered} invoices and {soak.payments} payments delivered to {len(audits)} "
        f"tenants; {len(soak.passes)} passes "
        f"({killed} killed), {sum(p.runs for p in soak.passes)} runs; converged in "
        f"{converge_s:.0f}s after the last round; {seconds:.0f}s in all"
    )
    for tenant in bad:
        print(f"tenant {tenant}: {audits[tenant].explain()}")
    print("verify and ground truth: " + ("all zero" if not bad else f"{len(bad)} tenants FAIL"))
    return 1 if bad else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-file", type=int, default=25, help="invoices per export")
    parser.add_argument(
        "--erps", choices=[*erp_kinds(), "all"], default="all", help="ERP kinds (registry)"
    )
    parser.add_argument("--max-minutes", type=float, default=30.0, help="budget for deliveries")
    parser.add_argument("--max-ticks", type=int, default=12, help="sensor ticks per pass")
    parser.add_argument("--pass-timeout", type=float, default=600.0)
    parser.add_argument(
        "--no-payments",
        dest="payments",
        action="store_false",
        help="invoices only (by default payments are mixed in where the ERP records them)",
    )
    args = parser.parse_args(argv)
    if args.invoices < 1 or args.tenants < 1 or not 0 <= args.fault_rate < 1:
        parser.error("--invoices and --tenants must be positive, --fault-rate in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
