"""The real leaderboard in a real browser: `streamlit run` on a free port, driven by Playwright in
Debian's headless Chromium. The store holds real runs: `vbl evaluate`'s
runner scored tiny real clips on temporal flickering, and the run directories were imported.

Screenshots go to test-artifacts/ (git-ignored). Skipped only where /usr/bin/chromium is missing
and CI is not set; in CI a missing browser fails the test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from clips import cut_clip

from vbench_lite.importer import import_path
from vbench_lite.leaderboard.commands import app_environment, streamlit_command
from vbench_lite.runner import EvaluateOptions, evaluate
from vbench_lite.store import ResultStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PUBLISHED = Path(__file__).parent / "data" / "published_vbench_rows.json"
# Two checkpoints of one model: the same prompts, clips cut from different places of the footage.
CHECKPOINTS = {"ckpt-1": 0, "ckpt-2": 40}
PROMPTS = {"a cyclist on a road": "bikes", "a man on the phone": "carphone_pristine"}
SERVER_START_S = 60
UI_TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,  # a Streamlit server and a browser per test
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A results root holding clips, two real run directories and the store they went into."""
    root = tmp_path_factory.mktemp("results")
    url = f"sqlite:///{root / 'vbl.db'}"
    for revision, start in CHECKPOINTS.items():
        folder = root / "clips" / revision
        for prompt, sample in PROMPTS.items():
            cut_clip(sample, folder / f"{prompt}-0.mp4", frames=8, start=start, size=(176, 144))
        run_dir = root / "runs" / revision
        # Scored into a scratch store: the board's store gets the run by import (an import never
        # changes a stored run, so it must not be there already).
        evaluate(EvaluateOptions(out=run_dir, dims="temporal_flickering", videos=folder,
                                 db=f"sqlite:///{root / 'scratch.db'}"))
        # Name the checkpoint in the manifest, as a team does before `vbl import`.
        manifest_path = run_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["model"].update(name="team-model", revision=revision)
        manifest_path.write_text(json.dumps(manifest))
        with ResultStore(url) as store:
            import_path(store, run_dir)
    return url, root


@pytest.fixture(scope="module")
def server(results: tuple[str, Path]) -> Iterator[str]:
    url, root = results
    port = _free_port()
    env = app_environment(url, root, published=PUBLISHED)
    log = root / "streamlit.log"
    with log.open("w") as output:
        process = subprocess.Popen(streamlit_command(port), env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.read().decode() == "ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser_page(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # noqa: ANN001
    try:
        from playwright import sync_api
    except ImportError:
        message = "needs the playwright package (pip install playwright; never `playwright install`)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI the browser tests must run
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()


def _open(page, base: str, path: str = "") -> None:  # noqa: ANN001
    page.goto(f"{base}/{path}")
    page.get_by_test_id("stAppViewContainer").wait_for()
    page.get_by_test_id("stSidebarNav").wait_for()


def _idle(page) -> None:  # noqa: ANN001
    # Streamlit shows a "running" status widget while the script reruns; wait until it is gone.
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def _download_csv(page) -> list[dict[str, str]]:  # noqa: ANN001
    _idle(page)
    # During a rerun the old button is still shown next to the new one: wait until one is left.
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')]"
        ".filter(b => b.textContent.includes('Download CSV')).length === 1"
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_a_deep_link_as_the_servers_first_visit_gets_the_apps_own_pages(browser_page, server: str) -> None:  # noqa: ANN001
    # First in the file on purpose: the server is fresh. A folder named `pages/` beside app.py made
    # Streamlit fall back to its legacy page list (file names, narrow layout) on such a first visit.
    page = browser_page
    _open(page, server, "prompts")
    nav = page.get_by_test_id("stSidebarNav")
    for title in ("Leaderboard", "Model", "Compare", "Prompts", "Import"):
        assert nav.get_by_text(title, exact=True).count() == 1
    assert nav.get_by_text("import results").count() == 0 and nav.get_by_text("main table").count() == 0
    page.get_by_role("heading", name="Prompts").first.wait_for()


def test_main_table_filter_and_csv_download(browser_page, server: str) -> None:  # noqa: ANN001
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    _open(page, server)
    page.get_by_role("heading", name="Leaderboard").wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()
    page.set_viewport_size({"width": 1800, "height": 1300})  # Streamlit scrolls inside; show all rows
    _idle(page)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-main.png"))
    page.set_viewport_size({"width": 1600, "height": 1000})

    everything = _download_csv(page)
    ours = [r for r in everything if r["Backend"] == "vbench"]
    assert sorted(r["Revision"] for r in ours) == ["ckpt-1", "ckpt-2"]
    assert all(r["Model"] == "team-model" and r["Temporal flickering n"] == "2" for r in ours)
    assert any(r["Backend"] == "published" for r in everything)
    for row in ours:  # real scores: a raw flickering score in (0, 100], normalised by VBench's bounds
        assert 0 < float(row["Temporal flickering"]) <= 100

    search = page.get_by_label("Search model, revision or run")
    search.fill("ckpt-2")
    search.press("Enter")
    page.get_by_text(re.compile(r"^1 of \d+ rows")).wait_for()  # the rerun with the filter has drawn
    _idle(page)
    filtered = _download_csv(page)
    assert [r["Revision"] for r in filtered] == ["ckpt-2"]


LAPTOP = {"width": 1366, "height": 768}
HEADER_AND_ROW_PX = 2 * 35  # st.dataframe's header and first row


def _sections(page) -> list[dict]:  # noqa: ANN001
    """Per st.dataframe of the main table: its box on screen and, from the grid's accessibility
    table (glide-data-grid writes only the columns its viewport shows into it), the visible column
    headers and the first row's cells."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stDataFrame]')].map(frame => {
            const box = frame.getBoundingClientRect();
            const scroller = frame.querySelector('.dvn-scroller');
            const firstRow = frame.querySelector('tr[aria-rowindex="2"]');
            return {
                top: box.top, bottom: box.bottom, left: box.left, right: box.right,
                headers: [...frame.querySelectorAll('th')].map(th => th.textContent),
                first: firstRow ? [...firstRow.querySelectorAll('td')].map(td => td.textContent) : [],
                clipped: scroller ? scroller.scrollWidth > scroller.clientWidth : false,
            };
        })"""
    )


def _fully_shown(section: dict, header: str) -> bool:
    """A column is wholly in the grid's viewport when a later column is in it too, or when the
    grid does not scroll sideways at all."""
    headers = section["headers"]
    return header in headers and (headers.index(header) < len(headers) - 1 or not section["clipped"])


def test_main_table_reads_on_a_laptop_screen_and_a_click_opens_the_model(browser_page, server: str) -> None:  # noqa: ANN001
    """On a 1366x768 laptop screen, without scrolling, each section shows its Total (our runs,
    which have no Total: the Quality partial score, labelled) and its first dimension."""
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(LAPTOP)
    try:
        _open(page, server)
        page.get_by_test_id("stDataFrame").nth(1).wait_for()
        page.locator("th", has_text="Total").first.wait_for(state="attached")
        _idle(page)
        page.screenshot(path=str(ARTIFACTS / "leaderboard-main-1366x768.png"))
        assert page.evaluate("() => window.scrollY") == 0
        ours, published = _sections(page)
        for section in (ours, published):
            assert 0 <= section["left"] and section["right"] <= LAPTOP["width"], section
            assert section["top"] + HEADER_AND_ROW_PX <= LAPTOP["height"], section  # header and first row on screen
        assert ours["headers"][:6] == ["Rank", "Model", "Revision", "Total", "Quality", "Semantic"], ours
        assert ours["headers"][6] == "Temporal flickering" and _fully_shown(ours, "Temporal flickering"), ours
        quality = ours["first"][ours["headers"].index("Quality")]
        assert quality.endswith("partial (1/7)"), ours  # one of Quality's seven dimensions, labelled
        assert float(quality.split()[0]) > 0
        assert published["headers"][3] == "Total" and published["first"][3] == "83.29", published
        assert published["headers"][6] == "Subject consistency", published
        assert _fully_shown(published, "Subject consistency"), published
        assert published["first"][6] == "97.14"  # FlashVideo-24fps's raw score, as VBench publishes it

        # Clicking a row opens that model's page, on that row's run.
        box = page.get_by_test_id("stDataFrame").nth(1).bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 120, box["y"] + 35 + 17)  # the Model cell of the first published row
        page.get_by_role("heading", name="Model").first.wait_for()
        page.wait_for_url("**/model?*")
        assert "model=FlashVideo-24fps" in page.url
    finally:
        page.set_viewport_size({"width": 1600, "height": 1000})


def test_model_page_draws_the_charts(browser_page, server: str) -> None:  # noqa: ANN001
    page = browser_page
    _open(page, server)
    page.get_by_test_id("stSidebarNav").get_by_text("Model", exact=True).click()
    page.get_by_role("heading", name="Model").first.wait_for()
    charts = page.locator(".js-plotly-plot")
    charts.first.wait_for()
    _idle(page)
    # One scored dimension: bars vs the median and the trend across the two checkpoints (no radar).
    assert charts.count() == 2
    assert "ckpt-1" in charts.nth(1).inner_text() and "ckpt-2" in charts.nth(1).inner_text()
    page.get_by_text("Provenance").wait_for()
    page.set_viewport_size({"width": 1600, "height": 2000})  # Streamlit scrolls inside; show it all
    _idle(page)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-model.png"))

    # A published row (deep link by query parameter): the radar over all 16 dimensions.
    _open(page, server, "model?model=HunyuanVideo")
    page.locator(".js-plotly-plot .scatterlayer, .js-plotly-plot .polarlayer").first.wait_for()
    _idle(page)
    assert page.locator(".js-plotly-plot").count() == 2
    assert page.get_by_text("A published VBench row").count() == 1
    page.screenshot(path=str(ARTIFACTS / "leaderboard-model-published.png"))
    page.set_viewport_size({"width": 1600, "height": 1000})


def test_prompt_page_plays_a_video_from_the_results_root(browser_page, server: str) -> None:  # noqa: ANN001
    page = browser_page
    _open(page, server)
    page.get_by_test_id("stSidebarNav").get_by_text("Prompts", exact=True).click()
    video = page.locator("video").first
    video.wait_for()
    _idle(page)
    state = page.evaluate(
        """async () => {
            const v = document.querySelector('video');
            if (v.readyState < 1) {
                await new Promise((ok, fail) => {
                    v.addEventListener('loadedmetadata', ok, {once: true});
                    const failed = () => fail(new Error('video error ' + (v.error && v.error.code)));
                    v.addEventListener('error', failed, {once: true});
                });
            }
            v.muted = true;
            await v.play();
            await new Promise(ok => setTimeout(ok, 400));
            return {readyState: v.readyState, duration: v.duration, time: v.currentTime, src: v.currentSrc};
        }"""
    )
    assert state["readyState"] >= 1 and state["duration"] > 0, state
    assert state["time"] > 0, state  # it actually played
    assert "/media/" in state["src"]  # served by Streamlit from the file under the results root
    page.screenshot(path=str(ARTIFACTS / "leaderboard-prompts.png"), full_page=True)


def test_compare_page_shows_win_tie_loss(browser_page, server: str) -> None:  # noqa: ANN001
    page = browser_page
    _open(page, server)
    page.get_by_test_id("stSidebarNav").get_by_text("Compare", exact=True).click()
    page.get_by_text("B wins").wait_for()
    page.locator("video").nth(2 * len(PROMPTS) - 1).wait_for()  # the page draws its videos last
    _idle(page)
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    metrics = dict(zip(labels, page.get_by_test_id("stMetricValue").all_inner_texts(), strict=True))
    assert metrics.pop("Shared prompts") == str(len(PROMPTS))
    assert sum(int(m) for m in metrics.values()) == len(PROMPTS)  # one dimension, two shared prompts
    assert page.locator("video").count() == 2 * len(PROMPTS)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-compare.png"), full_page=True)
