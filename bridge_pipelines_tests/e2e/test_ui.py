"""The Dagster UI on the demo, in headless Chromium: what a data engineer opens first.

A screenshot of each page is kept in `test-artifacts/` (the CI keeps the workspace).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bridge_pipelines_tests.support.services import require_or_skip

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_or_skip(
        Path(CHROMIUM).exists(), "Debian chromium not installed (apt-get install chromium)"
    )
    home = tmp_path_factory.mktemp("ui") / "demo"
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
    env.update(
        BRIDGE_HOME=str(home),
        BRIDGE_TENANTS_DIR=str(home / "tenants"),
        DAGSTER_HOME=str(home / "dagster_home"),
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "dagster-webserver"),
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not come up in 120 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(ui: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        tab = browser.new_page(viewport={"width": 1500, "height": 950})
        yield tab
        browser.close()


def visit(page: object, url: str, shot: str, wait_for: str) -> str:
    tab = page  # playwright Page
    tab.goto(url)  # type: ignore[attr-defined]
    tab.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    tab.get_by_text(wait_for).first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    skip = tab.get_by_role("button", name="Skip")  # type: ignore[attr-defined]
    if skip.count():
        skip.first.click()
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / shot))  # type: ignore[attr-defined]
    return str(tab.inner_text("body"))  # type: ignore[attr-defined]


def test_each_tenant_has_its_asset_group_with_stampli_assets(ui: str, page: object) -> None:
    # The catalog renders only the rows in view: a tall window shows both tenants' assets.
    page.set_viewport_size({"width": 1500, "height": 2600})  # type: ignore[attr-defined]
    try:
        text = visit(page, f"{ui}/assets?view=flat", "assets.png", "gl_accounts")
    finally:
        page.set_viewport_size({"width": 1500, "height": 950})  # type: ignore[attr-defined]
    # Node names say their side: `stampli_vendors` (from Stampli's exports) next to
    # `erp_vendors` (from the ERP), as the asset graph labels a node by its last name only.
    for tenant in ("acme", "globex"):
        names = [
            f"stampli / stampli_{k}" for k in ("invoices", "payments", "vendors", "gl_accounts")
        ]
        names += [f"erp / erp_{k}" for k in ("vendors", "gl_accounts", "dimensions")]
        for name in names:
            assert f"{tenant} / {name}" in text or f"{tenant}/{name.replace(' ', '')}" in text, (
                tenant,
                name,
                text[:2000],
            )


def test_invoice_checks_are_visible_and_blocking(ui: str, page: object) -> None:
    text = visit(
        page,
        f"{ui}/assets/acme/stampli/stampli_invoices?view=checks",
        "invoice_checks.png",
        "source_rows",
    )
    assert "schema" in text and "source_rows" in text
    assert "blocking" in text.lower()


def test_todays_invoice_partition_shows_the_files_it_took(ui: str, page: object) -> None:
    day = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    text = visit(
        page,
        f"{ui}/assets/acme/stampli/stampli_invoices?view=partitions&partition={day}",
        "invoice_partition.png",
        "files_this_run",
    )
    assert "Materialized" in text
    # The metadata names the files the run took and the exact totals, as the ledger has them.
    assert "approved_invoices_" in text
    assert "totals_by_currency" in text and "documents_accepted_in_partition" in text
    assert "refused_rows" in text  # listed with file, row and field, not only counted


@pytest.mark.parametrize(
    ("tenant", "zone"), [("acme", "America/Chicago"), ("globex", "Europe/Berlin")]
)
def test_posted_invoices_partition_shows_erp_documents(
    ui: str, page: object, tenant: str, zone: str
) -> None:
    # acme posts into SYSPRO, globex into SAP Business One: the same asset, the same story.
    day = datetime.now(ZoneInfo(zone)).date().isoformat()
    text = visit(
        page,
        f"{ui}/assets/{tenant}/erp/posted_invoices?view=partitions&partition={day}",
        f"posted_invoices_partition_{tenant}.png",
        "needs_review",
    )
    assert "Materialized" in text
    cells = [c.strip() for c in re.split(r"[\t\n]+", text) if c.strip()]
    posted = int(cells[cells.index("posted") + 1])
    assert posted > 0 and cells[cells.index("needs_review") + 1] == "1", cells[-40:]
