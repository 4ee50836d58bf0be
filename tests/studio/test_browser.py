"""The studio in a real Chromium (Debian's package, driven by Playwright for Python) against a real
uvicorn server: create a workspace from the demo clips, change an option in the form, run a tiny
pipeline from the page while the preview and the loss curve update, open the result and its
verify verdict, then cancel a training job and resume it. Screenshots go to test-artifacts/studio/.

Without Chromium the test is skipped, unless FACEWEAVE_REQUIRE_BROWSER=1 (CI sets it after
installing the package), where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faceweave.studio.app import Studio
from faceweave.studio.security import LOOPBACK
from tests.studio.conftest import ARTIFACTS, chromium_page, serve_studio

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "browser-test-token-42"
# A tiny model, so the whole pipeline runs in well under a minute on two cores.
TINY = {"train.encoder_dims": "8", "train.bottleneck_dims": "32", "train.decoder_dims": "8",
        "train.mask_dims": "4", "train.loader_workers": "0", "train.preview_every": "5",
        "train.precision": "fp32", "extract.size_px": "96", "extract.workers": "1",
        "merge.workers": "1"}  # fmt: skip

if CHROMIUM is None and os.environ.get("FACEWEAVE_REQUIRE_BROWSER") != "1":
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Studio]]:
    studio = Studio(tmp_path_factory.mktemp("studio"), TOKEN, LOOPBACK)
    with serve_studio(studio) as url:
        yield url, studio


@pytest.fixture(scope="module")
def page() -> Iterator[object]:
    with chromium_page(CHROMIUM) as opened:
        yield opened


def _job_state(page: object, kind: str) -> str:
    rows = page.locator(f"#jobs tr[data-kind='{kind}']")  # type: ignore[attr-defined]
    return str(rows.first.get_attribute("data-state")) if rows.count() else ""


def test_the_whole_job_from_a_browser(served: tuple[str, Studio], page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    url, studio = served
    page.goto(f"{url}/?token={TOKEN}")
    page.fill("#create input[name=name]", "demo")
    page.check("#create input[name=demo]")
    page.click("#create button")
    page.wait_for_url(f"{url}/w/demo?token={TOKEN}", timeout=120_000)
    expect(page.locator("#probe-src")).to_contain_text('"frames": 100', timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "1-workspace.png"))

    # One option through the form, as a user would; the rest through the same API the form uses.
    page.click("text=options (faceweave.toml)")  # the page's links carry the token
    page.wait_for_url(f"{url}/w/demo/options?token={TOKEN}")
    page.locator("input[name='train.batch_size']").fill("4")
    page.click("#save")
    expect(page.locator("#saved")).to_contain_text("saved (1 changed)")
    assert "batch_size = 4" in (studio.root / "demo" / "faceweave.toml").read_text()
    saved = page.request.put(f"{url}/api/w/demo/options", data=TINY, headers={"x-faceweave-token": TOKEN})
    assert saved.json() == {"ok": True}

    page.goto(f"{url}/w/demo?token={TOKEN}")
    page.fill("#iterations", "40")
    page.click("button[data-job=run]")
    expect(page.locator("#jobs tr[data-kind=run]")).to_have_count(1, timeout=10_000)
    expect(page.locator("#preview")).to_have_attribute("src", re.compile("preview.png"), timeout=240_000)
    expect(page.locator("#losses")).to_have_attribute("data-points", re.compile(r"^[1-9]"), timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "2-training.png"))
    deadline = time.monotonic() + 420
    while _job_state(page, "run") in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
    assert _job_state(page, "run") == "done", page.locator("#messages").inner_text()
    expect(page.locator("#verdict")).to_contain_text("labelled synthetic", timeout=60_000)
    assert "result.mp4" in str(page.locator("#video-result").get_attribute("src"))
    page.check("input[name=view][value=side]")
    expect(page.locator("#result-view")).to_have_class("side")
    page.screenshot(path=str(ARTIFACTS / "3-result.png"))
    # The eval on its own, from its button: the report opens from the page.
    page.click("button[data-job=eval]")
    expect(page.locator("#jobs tr[data-kind=eval]").first).to_have_attribute("data-state", "done",
                                                                             timeout=240_000)  # fmt: skip
    link = page.locator("#eval a")
    expect(link).to_have_text("eval report", timeout=30_000)
    report = page.request.get(url + str(link.get_attribute("href")))
    assert report.ok and "identity" in report.text().lower()

    # Cancel a training job (a clean save, as Ctrl-C) and resume it.
    page.fill("#iterations", "100000")
    page.click("button[data-job=train]")
    expect(page.locator("#jobs tr[data-kind=train][data-state=running]")).to_have_count(1, timeout=30_000)
    first = page.locator("#training").inner_text()
    expect(page.locator("#training")).not_to_have_text(first, timeout=60_000)  # steps go on
    # The loss curve and the preview follow the training live, not only once.
    last = float(page.locator("#losses").get_attribute("data-last") or 0)
    shown = str(page.locator("#preview").get_attribute("src"))
    page.wait_for_function(f"() => Number(document.getElementById('losses').dataset.last) > {last}",
                           timeout=60_000)  # fmt: skip
    expect(page.locator("#preview")).not_to_have_attribute("src", shown, timeout=60_000)
    page.locator("#jobs tr[data-kind=train] button[data-action=cancel]").first.click()
    expect(page.locator("#jobs tr[data-kind=train]").first).to_have_attribute("data-state", "cancelled",
                                                                              timeout=60_000)  # fmt: skip
    stopped_at = int(page.locator("#training").inner_text().split()[1].rstrip(":"))
    page.locator("#jobs tr[data-kind=train] button[data-action=resume]").first.click()
    expect(page.locator("#jobs tr[data-kind=train][data-state=running]")).to_have_count(1, timeout=30_000)
    expect(page.locator("#training")).not_to_have_text(re.compile(rf"^step {stopped_at}:"), timeout=60_000)
    resumed_at = int(page.locator("#training").inner_text().split()[1].rstrip(":"))
    assert resumed_at > stopped_at  # it went on from the checkpoint, not from step 0
    page.screenshot(path=str(ARTIFACTS / "4-resumed.png"))
    page.locator("#jobs tr[data-kind=train][data-state=running] button[data-action=cancel]").click()
    expect(page.locator("#jobs tr[data-kind=train][data-state=running]")).to_have_count(0, timeout=60_000)


def test_inputs_from_photos_and_from_a_path_in_the_root(
    served: tuple[str, Studio], page: object, tmp_path: Path
) -> None:
    import cv2
    from playwright.sync_api import Page, expect

    from faceweave.assets import load_sample_face
    from faceweave.media.synth import ClipSpec, write_pattern_clip

    assert isinstance(page, Page)
    url, studio = served
    made = page.request.post(f"{url}/api/workspaces", data={"name": "inputs"},
                             headers={"x-faceweave-token": TOKEN})  # fmt: skip
    assert made.ok, made.text()
    pictures = []
    for k in (0, 1):
        pictures.append(tmp_path / f"still{k}.jpg")
        cv2.imwrite(str(pictures[-1]), load_sample_face(k))
    clips = studio.root / "clips"
    clips.mkdir()
    write_pattern_clip(clips / "dst.mp4", ClipSpec(seconds=0.4, fps=25, width=160, height=120, seed=2))

    page.goto(f"{url}/w/inputs?token={TOKEN}")
    page.set_input_files("#photos-src", [str(p) for p in pictures])
    expect(page.locator("#upload-src")).to_have_text("uploaded 2 photo(s)", timeout=30_000)
    expect(page.locator("#probe-src")).to_contain_text('"photos": 2', timeout=20_000)
    page.fill("#path-dst", "../etc")
    page.click("#link-dst")
    expect(page.locator("#upload-dst")).to_contain_text("leaves the studio's folder", timeout=20_000)
    page.fill("#path-dst", "clips/dst.mp4")
    page.click("#link-dst")
    expect(page.locator("#upload-dst")).to_have_text("copied the video", timeout=30_000)
    expect(page.locator("#probe-dst")).to_contain_text('"frames": 10', timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "0-inputs.png"))
    assert sorted(p.name for p in (studio.root / "inputs" / "data_src").iterdir() if p.is_file()) == [
        "still0.jpg",
        "still1.jpg",
    ]
    page.set_input_files("#photos-src", [str(p) for p in pictures])  # the same again: refused, said
    expect(page.locator("#upload-src")).to_contain_text("uploaded 0 photo(s); 2 not:", timeout=30_000)
    page.click("#remove-src")
    expect(page.locator("#upload-src")).to_have_text("2 file(s) moved to studio/removed/", timeout=20_000)
    expect(page.locator("#probe-src")).to_have_text("no video yet", timeout=20_000)
