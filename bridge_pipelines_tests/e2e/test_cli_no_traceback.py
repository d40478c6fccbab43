"""Every CLI path in the README's table, given bad input, answers in one line: no traceback.

One demo cycle (`bridge demo --once`) gives a real ledger, tenant files and mappings; then each
command is run with an unknown tenant, posting or file, a malformed day or id, a missing
argument, and with the ledger or the tenants folder out of reach.
"""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BAD_INPUT: list[tuple[str, ...]] = [
    ("tenants", "check", "--dir", "/nonexistent/tenants"),
    ("tenants", "list", "--dir", "/nonexistent/tenants"),
    ("secrets", "encrypt", "--tenant", "acme"),
    ("secrets", "encrypt", "--tenant", "Not A Tenant!", "--field", "sftp.password"),
    ("secrets", "retire-key", "nosuch-key"),
    ("secrets", "rotate", "--dir", "/nonexistent/tenants"),
    ("ping", "nosuch"),
    ("status", "nosuch"),
    ("status", "nosuch", "--json"),
    ("status",),
    ("review", "list", "nosuch"),
    ("review", "show", "999999"),
    ("review", "show", "abc"),
    ("review", "resolve", "999999", "--as", "planned", "--reason", "x"),
    ("review", "resolve", "1", "--as", "sideways", "--reason", "x"),
    ("review", "resolve", "1", "--as", "posted", "--reason", "no document given"),
    ("review", "resolve", "1", "--as", "planned", "--reason", "x", "--timeout", "0"),
    ("replay", "nosuch", "--partition", "2026-11-23"),
    ("replay", "acme", "--partition", "2026-13-45"),
    ("replay", "acme"),
    ("replay", "acme", "--invoice", "NO-SUCH-INVOICE"),
    ("replay", "acme", "--partition", "2026-11-23", "--timeout", "0"),
    ("ping", "acme", "--timeout", "2"),
    ("files", "list", "nosuch"),
    ("files", "show", "acme", "no-such-file.csv"),
    ("files", "dismiss", "acme", "999999", "--reason", "x"),
    ("files", "replace", "acme", "999999", "--by", "999998"),
    ("files", "reopen", "nosuch", "1", "--reason", "x"),
    ("verify", "nosuch"),
    ("verify", "acme", "--day", "2026-13-45"),
    ("verify", "acme", "--timeout", "0"),
    ("find", "NO-SUCH-INVOICE"),
    ("find", "x", "--tenant", "nosuch"),
    ("sandbox", "up", "--sftp-port", "not-a-port"),
    ("demo", "--port", "not-a-port"),
    ("nosuch-command",),
]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("noerr") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    once = subprocess.run(
        [str(BIN / "bridge"), "demo", "--once", "--home", str(home), "--sftp-port-base", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    return home


@pytest.fixture
def demo_env(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGE_HOME", str(demo_home))
    monkeypatch.setenv("BRIDGE_TENANTS_DIR", str(demo_home / "tenants"))
    yield demo_home


def answer(*args: str, stdin: str = "plain\n") -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
    return result.exit_code, result.output


@pytest.mark.parametrize("args", BAD_INPUT, ids=" ".join)
def test_bad_input_is_one_line_and_a_nonzero_exit(demo_env: Path, args: tuple[str, ...]) -> None:
    code, output = answer(*args)
    assert code in (1, 2), (args, code, output)
    assert "Traceback" not in output, output


@pytest.mark.parametrize(
    "args",
    [("status", "nosuch"), ("review", "show", "999999"), ("find", "x", "--tenant", "nosuch")],
    ids=" ".join,
)
def test_an_unknown_tenant_or_posting_is_exit_2_in_one_line(
    demo_env: Path, args: tuple[str, ...]
) -> None:
    code, output = answer(*args)
    assert code == 2
    assert len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize(
    "args", [("status", "acme"), ("review", "list", "acme"), ("find", "INV-1")], ids=" ".join
)
def test_an_unreachable_ledger_is_one_line(
    demo_env: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv(
        "BRIDGE_LEDGER_URL", "postgresql+psycopg2://bridge:s3cret-pw@127.0.0.1:1/none"
    )
    code, output = answer(*args)
    assert code == 2, output
    assert "Traceback" not in output and "s3cret-pw" not in output
    assert "ledger" in output


def test_the_real_command_never_prints_a_traceback(demo_env: Path) -> None:
    result = subprocess.run(
        [str(BIN / "bridge"), "review", "show", "999999"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "bridge review: no posting #999999\n"


def test_find_prints_the_trail_of_a_vendor_invoice_number(demo_env: Path) -> None:
    code, listed = answer("review", "list", "acme", "--json")
    assert code == 0, listed
    import json

    held = json.loads(listed)["postings"][0]
    number = held["invoice"].split("|")[1]
    code, trail = answer("find", number, "--tenant", "acme")
    assert code == 0, trail
    assert trail.startswith(f"acme: {held['invoice_name']} (matched invoice number)")
    assert re.search(r"file +#\d+ approved_invoices_\S+ \(parsed\)", trail)
    assert re.search(r"record +#\d+ accepted, rows \[", trail)
    assert f"posting  #{held['posting']} needs_review" in trail
    assert "Dagster runs tagged bridge/batch=b-" in trail
    assert "needs_review by run-" in trail  # the audit trail names the run
    code, as_json = answer("find", held["external_ref"], "--json")
    assert code == 0 and json.loads(as_json)[0]["matched"] == "external ref"


def test_tenants_check_reads_the_mapping_files_too(demo_env: Path) -> None:
    mapping = demo_env / "mappings" / "acme.yaml"
    kept = mapping.read_text()
    mapping.write_text("vendors: [V-0001]\nsuppliers: {}\n")
    try:
        code, output = answer("tenants", "check")
    finally:
        mapping.write_text(kept)
    assert code == 1
    assert f"{mapping}: vendors: must map codes to codes" in output
    assert f"{mapping}: suppliers: unknown" in output


def test_review_show_has_json(demo_env: Path) -> None:
    import json

    code, listed = answer("review", "list", "globex", "--json")
    held = json.loads(listed)["postings"][0]
    code, shown = answer("review", "show", str(held["posting"]), "--json")
    assert code == 0
    document = json.loads(shown)
    assert document["state"] == "needs_review" and document["history"]
