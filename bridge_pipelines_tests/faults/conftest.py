"""The fault matrix's shared world: sshd, every registered ERP's sandbox, one PostgreSQL ledger.

They are started once per session (sshd is the session's own fixture; the world starts one
sandbox per registered ERP kind from its profile); each case gets a fresh tenant and a reset
sandbox.
"""

from collections.abc import Iterator

import pytest

from bridge_pipelines.sandbox.faultworld.world import World
from bridge_pipelines.sandbox.postgres import (
    UNREACHABLE,
    create_database,
    drop_database,
    postgres_reachable,
)
from bridge_pipelines.sandbox.sshd import SshdServer
from bridge_pipelines_tests.support.services import require_or_skip


@pytest.fixture(scope="session")
def fault_world(sshd: SshdServer) -> Iterator[World]:
    require_or_skip(postgres_reachable(), UNREACHABLE)
    url = create_database(prefix="bridge_faults_")
    world = World.start(sshd=sshd, ledger_url=url)
    try:
        yield world
    finally:
        world.close(own_ledger=False)
        drop_database(url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The matrix as a table: fault, passes, runs, duplicates, lost, files not terminal."""
    from bridge_pipelines_tests.faults.test_matrix import RESULTS

    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    write(f"{'fault':<62} {'passes':>6} {'runs':>5} {'dup':>4} {'lost':>5} {'files':>6}  ok")
    for row in RESULTS:
        write(
            f"{row['fault']!s:<62} {row['passes']:>6} {row['runs']:>5} {row['duplicates']:>4} "
            f"{row['lost']:>5} {row['files_not_terminal']:>6}  {'yes' if row['ok'] else 'NO'}"
        )
