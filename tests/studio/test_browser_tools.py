"""The studio's tools in a real Chromium against a real server, on a workspace with two extracted
people and a tiny trained model: scrub the merger and drag its erode slider (the frame's pixels
change), set a per-range override and find `faceweave merge` honouring it, set faces aside from
the grid and restore them, draw a polygon and find it in the face file. Screenshots go to
test-artifacts/studio/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.merge.session import read_session
from faceweave.studio.app import Studio
from faceweave.studio.security import LOOPBACK
from faceweave.workspace import Workspace
from tests.faceset.conftest import snapshot
from tests.helpers import extract_two_people, train_tiny
from tests.studio.conftest import ARTIFACTS, chromium_page, serve_studio

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "browser-tools-token-7"

if CHROMIUM is None and os.environ.get("FACEWEAVE_REQUIRE_BROWSER") != "1":
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    root = tmp_path_factory.mktemp("tools-browser")
    ws = extract_two_people(root / "ws", clip_s=1.2)
    train_tiny(ws)
    with serve_studio(Studio(root, TOKEN, LOOPBACK)) as url:
        yield url, ws


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with chromium_page(CHROMIUM) as opened:
        yield opened


def _renders(page: Any) -> int:
    return int(page.locator("#after").get_attribute("data-renders") or 0)


def _after_pixels(page: Any) -> npt.NDArray[np.int16]:
    """The merged frame as the page shows it, read back from the <img> through a canvas."""
    values = page.evaluate("""() => {
        const img = document.getElementById("after");
        const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
        return Array.from(ctx.getImageData(0, 0, c.width, c.height).data);
    }""")
    return np.asarray(values, np.int16)


def _wait_render(page: Any, after: int, frame: int | None = None) -> None:
    page.wait_for_function(
        f"() => Number(document.getElementById('after').dataset.renders || 0) > {after}", timeout=30000
    )
    if frame is not None:
        page.wait_for_function(
            f"() => document.getElementById('after').dataset.frame === '{frame}'", timeout=30000
        )
    page.wait_for_function("() => !document.getElementById('timing').textContent.includes('...')")


def _drag(page: Any, selector: str, to_share: float) -> None:
    box = page.locator(selector).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * to_share, y, steps=8)
    page.mouse.up()


def test_merger_scrubs_and_a_slider_changes_the_frame(served: tuple[str, Workspace], page: Any) -> None:
    url, ws = served
    frames = len(list_face_files(ws.dst_aligned))
    page.goto(f"{url}/w/ws/merger?token={TOKEN}")
    _wait_render(page, 0)
    page.keyboard.press("End")
    _wait_render(page, 0, frames - 1)
    page.keyboard.press("Home")
    _wait_render(page, 0, 0)
    page.keyboard.press("ArrowRight")
    _wait_render(page, 0, 1)
    page.keyboard.press("Shift+ArrowRight")
    _wait_render(page, 0, 11)
    assert page.locator("#strip img.current").get_attribute("data-frame") == "11"
    page.wait_for_timeout(300)  # the last redraw of a burst settles
    before, count = _after_pixels(page), _renders(page)
    _drag(page, "input[name=erode]", 0.95)  # erode up toward its maximum
    _wait_render(page, count, 11)
    page.wait_for_timeout(500)
    after = _after_pixels(page)
    assert float(page.locator("input[name=erode]").input_value()) > 10
    assert before.shape == after.shape and np.abs(after - before).mean() > 0.2
    page.keyboard.press("s")  # DeepFaceLab's erode key, back down by one step
    page.wait_for_timeout(300)
    assert float(page.locator("input[name=erode]").input_value()) > 9
    page.locator("#wipe").fill("40")
    assert "inset(0px 60%" in page.locator("#after").evaluate("e => getComputedStyle(e).clipPath")
    page.screenshot(path=str(ARTIFACTS / "5-merger.png"))


def _frames(path: Path) -> list[npt.NDArray[np.int16]]:
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="bgr24"), np.int16) for f in container.decode(video=0)]


def test_a_range_override_is_honoured_by_the_cli_merge(served: tuple[str, Workspace], page: Any) -> None:
    url, ws = served
    page.goto(f"{url}/w/ws/merger?token={TOKEN}")
    _wait_render(page, 0)
    page.locator("#scope").select_option("range")
    page.locator("#range-first").fill("4")
    page.locator("#range-last").fill("9")
    page.locator("#range-last").dispatch_event("change")
    page.locator("body").click(position={"x": 5, "y": 5})  # keys go to the page, not a field
    for _ in range(4):
        page.keyboard.press("Shift+W")  # erode +5 each, in this range only
    page.locator("#save-session").click()
    page.wait_for_function("() => document.getElementById('session-saved').textContent.includes('saved')")
    session = read_session(ws.merge_session)
    assert len(session.ranges) == 1 and (session.ranges[0].first, session.ranges[0].last) == (4, 9)
    assert session.ranges[0].options["erode"] == 20.0 and session.all == {}
    assert "4-9" in page.locator("#ranges").inner_text()

    runner = CliRunner()
    plain = runner.invoke(cli, ["merge", "-w", str(ws.root), "--no-session"])
    assert plain.exit_code == 0, plain.output
    without = _frames(ws.result)
    honoured = runner.invoke(cli, ["merge", "-w", str(ws.root)])
    assert honoured.exit_code == 0 and "merge session" in honoured.output, honoured.output
    with_session = _frames(ws.result)
    changed = [float(np.abs(a - b).mean()) for a, b in zip(without, with_session, strict=True)]
    inside = [changed[i] for i in range(4, 10)]
    outside = [c for i, c in enumerate(changed) if not 4 <= i <= 9]
    # Outside the range only the watermark's random payload differs between the two runs.
    assert min(inside) > 2 * max(outside) and np.mean(inside) > 2.5 * np.mean(outside), (inside, outside)
    ws.merge_session.unlink()


def test_faces_set_aside_from_the_grid_and_restored(served: tuple[str, Workspace], page: Any) -> None:
    url, ws = served
    before = snapshot(ws.dst_aligned)
    names = [p.name for p in list_face_files(ws.dst_aligned)]
    page.goto(f"{url}/w/ws/faces?token={TOKEN}")
    page.locator("#side").select_option("dst")
    page.wait_for_function(f"() => document.getElementById('grid').dataset.shown === '{len(names)}'")
    cells = page.locator("#grid .face")
    assert "sheet" in (cells.nth(3).get_attribute("style") or "")  # its thumbnail drawn
    first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
    page.mouse.move(first["x"] + 3, first["y"] + 3)  # a box from the corner of the first face ...
    page.mouse.down()
    page.mouse.move(second["x"] + 30, second["y"] + 30, steps=6)  # ... into the second
    page.mouse.up()
    assert page.locator("#selected-count").inner_text() == "2 selected"
    cells.nth(6).dblclick()
    page.wait_for_function(f"() => document.getElementById('face-canvas').dataset.face === '{names[6]}'")
    cells.nth(0).click()
    cells.nth(3).click(modifiers=["Shift"])
    cells.nth(6).click(modifiers=["Control"])
    assert page.locator("#selected-count").inner_text() == "5 selected"
    page.locator("#reject").click()
    page.wait_for_function(f"() => document.getElementById('grid').dataset.loaded === '{len(names) - 5}'")
    shelf = ws.dst_aligned / "_rejected" / "manual"
    assert sorted(p.name for p in list_face_files(shelf)) == [*names[0:4], names[6]]
    page.screenshot(path=str(ARTIFACTS / "6-faces.png"))

    page.locator("#shelf").check()
    page.wait_for_function("() => document.getElementById('grid').dataset.loaded === '5'")
    page.locator("#grid .face").first.click()
    page.keyboard.press("Control+a")
    assert page.locator("#selected-count").inner_text() == "5 selected"
    page.locator("#restore").click()
    page.wait_for_function("() => document.getElementById('grid').dataset.loaded === '0'")
    assert snapshot(ws.dst_aligned) == before

    gaps = page.locator("#gaps a")
    if gaps.count():
        gaps.first.click()
        assert page.locator("#gap-frames").get_attribute("data-frames")


def test_a_polygon_drawn_is_saved_in_the_face_file(served: tuple[str, Workspace], page: Any) -> None:
    url, ws = served
    face = list_face_files(ws.dst_aligned)[2]
    page.goto(f"{url}/w/ws/masks?token={TOKEN}&side=dst&face={face.name}")
    page.wait_for_function(f"() => document.getElementById('editor').dataset.face === '{face.name}'")
    box = page.locator("#editor").bounding_box()
    k = box["width"] / read_face_meta(face).size_px
    corners = [(20, 20), (70, 22), (72, 75), (18, 70)]  # crop pixels
    for x, y in corners:
        page.mouse.click(box["x"] + (x + 0.5) * k, box["y"] + (y + 0.5) * k)
    page.keyboard.press("Enter")
    page.keyboard.press("e")
    for x, y in [(30, 50), (50, 50), (40, 65)]:
        page.mouse.click(box["x"] + (x + 0.5) * k, box["y"] + (y + 0.5) * k)
    page.keyboard.press("Control+z")  # the last point again ...
    page.keyboard.press("Control+y")  # ... and back
    page.keyboard.press("Enter")
    page.keyboard.press("s")
    page.wait_for_function("() => document.getElementById('saved').textContent.startsWith('saved')")
    labels = read_face_meta(face).labels
    assert len(labels.include) == 1 and len(labels.exclude) == 1
    assert np.abs(labels.include[0] - np.asarray(corners, float)).max() < 1.5
    assert len(labels.exclude[0]) == 3
    page.screenshot(path=str(ARTIFACTS / "7-masks.png"))
