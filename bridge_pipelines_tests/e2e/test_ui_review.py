"""The analyst's day in the Dagster UI, in headless Chromium, on a running demo (webserver and
daemon): an unmapped invoice is a yellow `needs_review` check and a row of the review queue;
after the mapping is fixed, the `release_posting` job launched from its launchpad (config typed
into the editor, "Launch Run") posts it once. Screenshots go to `test-artifacts/`; with
UPDATE_SCREENSHOTS=1 also to `docs/img/` (the README shows them).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml

from bridge_pipelines.demo.cycle import run_cycle
from bridge_pipelines.demo.environment import (
    REPO_ROOT,
    UNMAPPED_VENDOR,
    DemoEnvironment,
    start_demo,
)
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines_tests.e2e.test_ui import CHROMIUM, free_port
from bridge_pipelines_tests.support.services import require_or_skip

BIN = Path(sys.executable).parent
DOCS_IMG = REPO_ROOT / "docs" / "img"
ARTIFACTS = REPO_ROOT / "test-artifacts"
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STATUS = "query S($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
RUNS = "query R { runsOrError { ... on Runs { results { runId jobName status } } } }"


@pytest.fixture
def running_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    require_or_skip(Path(CHROMIUM).exists(), "Debian chromium not installed")
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    demo = start_demo(tmp_path / "demo", fresh=True, ports={"acme": 0, "globex": 0})
    for key, value in demo.env().items():
        monkeypatch.setenv(key, value)
    processes: list[subprocess.Popen[bytes]] = []
    log = (tmp_path / "dagster.log").open("wb")
    try:
        demo.seed_files()
        with dg.DagsterInstance.get() as instance:
            run_cycle(demo.load_tenants(), Runtime.from_env().ledger, instance=instance)
        env = dict(os.environ)
        port = free_port()
        quiet = {"stdout": log, "stderr": subprocess.STDOUT}
        workspace = str(REPO_ROOT / "workspace.yaml")
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "dagster-webserver"),
                    "-w",
                    workspace,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                env=env,
                cwd=REPO_ROOT,
                **quiet,  # type: ignore[arg-type]
            )
        )
        processes.append(
            subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", workspace],
                env=env,
                cwd=REPO_ROOT,
                **quiet,  # type: ignore[arg-type]
            )
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail(
                "dagster-webserver did not come up in 180 s: "
                + (tmp_path / "dagster.log").read_text(errors="replace")[-3000:]
            )
        yield url, demo
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        demo.stop()


def shoot(tab: Any, url: str, name: str, wait_for: str) -> str:
    tab.goto(url)
    tab.wait_for_load_state("networkidle")
    tab.get_by_text(wait_for).first.wait_for(timeout=60_000)
    skip = tab.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
    # Graph nodes fill in their status after the page settles.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and tab.get_by_text("Loading...").count():
        time.sleep(1)
    time.sleep(1)
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / name))
    if os.environ.get("UPDATE_SCREENSHOTS"):  # the README's pictures, refreshed on purpose
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / name, DOCS_IMG / name)
    return str(tab.inner_text("body"))


def launch_from_launchpad(tab: Any, url: str, config: str) -> str:
    """Open a job's launchpad, put `config` in its editor, click "Launch Run"; the run's id.

    The config goes in as a paste would (`insert_text`): typed key by key, the editor's
    auto-indent would nest every line under the previous one.
    """
    tab.goto(url)
    tab.wait_for_load_state("networkidle")
    skip = tab.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
    editor = tab.locator(".CodeMirror").first
    editor.wait_for(timeout=60_000)
    editor.click()
    tab.keyboard.press("Control+A")
    tab.keyboard.press("Delete")
    tab.keyboard.insert_text(config)
    tab.get_by_text("No errors").first.wait_for(timeout=60_000)  # the UI validated the config
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "release_posting_launchpad.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copy(ARTIFACTS / "release_posting_launchpad.png", DOCS_IMG)
    tab.get_by_role("button", name="Launch Run").click()
    tab.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}"), timeout=60_000)
    match = re.search(r"/runs/([0-9a-f-]{36})", tab.url)
    assert match is not None, tab.url
    return match.group(1)


def graphql(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60
    )
    response.raise_for_status()
    return dict(response.json()["data"])


def test_held_invoice_is_yellow_listed_and_released_through_the_ui(
    running_demo: tuple[str, DemoEnvironment],
) -> None:
    from playwright.sync_api import sync_playwright

    url, demo = running_demo
    ledger = Runtime.from_env().ledger
    [waiting] = ledger.review_queue("acme")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        tab = browser.new_page(viewport={"width": 1500, "height": 950})
        # The tenant's asset graph: Stampli, ERP master data, mapping, postings, review queue.
        shoot(
            tab,
            f"{url}/locations/bridge_pipelines/asset-groups/acme/lineage",
            "acme_asset_graph.png",
            "posted_invoices",
        )
        # The yellow check with the count and the reason.
        checks = shoot(
            tab,
            f"{url}/assets/acme/erp/posted_invoices?view=checks",
            "acme_needs_review_check.png",
            "needs_review",
        )
        assert "needs_review" in checks and "reconciled" in checks
        # The queue: a row a person reads (vendor, invoice number, reason in full, what to do).
        queue = shoot(
            tab,
            f"{url}/assets/acme/review/review_queue",
            "acme_review_queue.png",
            "waiting since",
        )
        assert UNMAPPED_VENDOR in queue
        assert "has no ERP supplier" in queue
        day = waiting.record.partition_day.isoformat()  # type: ignore[union-attr]
        shoot(
            tab,
            f"{url}/assets/acme/erp/posted_invoices?view=partitions&partition={day}",
            "acme_posted_partition.png",
            "needs_review",
        )

        # Fix the mapping, then release from the UI: the job's launchpad, its config typed into
        # the editor, "Launch Run"; the daemon runs it.
        syspro = demo.erps.get("syspro")
        assert syspro is not None
        before = len(syspro.admin.documents())
        mapping = demo.home / "mappings" / "acme.yaml"
        table = yaml.safe_load(mapping.read_text())
        table["vendors"][UNMAPPED_VENDOR] = "SUP00001"
        mapping.write_text(yaml.safe_dump(table))
        run_id = launch_from_launchpad(
            tab,
            f"{url}/locations/bridge_pipelines/jobs/release_posting/playground",
            "ops:\n  release_op:\n    config:\n"
            f"      posting_id: {waiting.posting.id}\n"
            "      reason: mapped V-0012 to SUP00001\n",
        )
        deadline = time.monotonic() + 180
        status = ""
        while time.monotonic() < deadline:
            status = graphql(url, STATUS, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(2)
        assert status == "SUCCESS", status
        # Posted once: the ledger says so, and SYSPRO holds exactly one document with its
        # reference (one more document than before, not two).
        posted = ledger.get_posting(waiting.posting.id)
        assert posted.state == PostingState.POSTED and posted.erp_doc_id
        documents = syspro.admin.documents()
        assert len(documents) == before + 1
        assert [d.get("Reference") for d in documents].count(posted.external_ref) == 1
        runs = graphql(url, RUNS, {})["runsOrError"]["results"]
        assert [r["jobName"] for r in runs].count("release_posting") == 1, runs
        run_page = shoot(tab, f"{url}/runs/{run_id}", "release_posting_run.png", "release_op")
        assert "release_op" in run_page
        browser.close()
