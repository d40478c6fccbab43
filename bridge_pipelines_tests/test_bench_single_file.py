"""`python -m bench single_file` at a tiny size, so it keeps working between full runs."""

import pytest

from bench import single_file
from bridge_pipelines.sandbox.sshd import sshd_available


@pytest.mark.skipif(not sshd_available(), reason="OpenSSH sshd not installed")
def test_single_file_bench_prints_every_goal_side_by_side(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert single_file.main(["--lines", "3000", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "3,000 invoice lines" in out
    assert "product / raw:" in out and "goal <= 2.0x" in out
    assert "x file size" in out and "goal <= 4x" in out
    assert "product / OpenSSH:" in out and "goal >= 0.9x" in out
    assert "download, same cipher (aes" in out  # the cipher both sides used is named
