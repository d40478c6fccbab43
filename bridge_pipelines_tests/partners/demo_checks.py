"""What `bridge demo --once` must show of issue 14: acme's month on its parent's SFTP server."""

import json
import subprocess
import sys
from pathlib import Path

from bridge_pipelines_tests.partners.x12check import validate_x12

BRIDGE = Path(sys.executable).parent / "bridge"


def assert_acme_month_sent_to_its_parent(home: Path, acme: list[str], env: dict[str, str]) -> None:
    inbound = home / "partner_sftp" / "acme" / "inbound"
    names = sorted(p.name for p in inbound.iterdir())
    assert [n.split("_")[1] for n in names] == ["810", "GL", "PO"], names
    line = next(line for line in acme if line.startswith("  partner:"))
    assert all(n in line for n in names), line
    x12 = next(inbound / n for n in names if n.endswith(".x12"))
    assert validate_x12(x12.read_bytes()) == []
    status = subprocess.run(
        [str(BRIDGE), "status", "acme", "--json"], capture_output=True, text=True, env=env,
        timeout=120, check=True,
    )  # fmt: skip
    sent = json.loads(status.stdout)["partner_files"]
    assert sorted(f["remote_name"] for f in sent) == names
    assert {f["state"] for f in sent} == {"delivered"}
