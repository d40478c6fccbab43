"""The `sshd` fixture: one OpenSSH server for the session (`bridge_pipelines.sandbox.sshd`)."""

from collections.abc import Iterator

import pytest

from bridge_pipelines.sandbox.sshd import SshdServer, sshd_available, start_sshd
from bridge_pipelines_tests.support.services import require_or_skip


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshdServer]:
    """A real OpenSSH server on loopback for the session; skipped (failed in CI) without sshd."""
    require_or_skip(sshd_available(), "OpenSSH sshd not installed (apt-get install openssh-server)")
    server = start_sshd()
    try:
        yield server
    finally:
        server.cleanup()
