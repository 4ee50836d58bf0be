"""Latency of the studio's tools, through the HTTP API as the page calls it (FastAPI's test client:
routing, checks, merging and JPEG encoding; not the network or the browser's decode).

Merger: a 4 s 1280x720 expressive dst pseudo-video and a src clip, extracted at the default size,
a model of each --presets preset trained one step (latency does not depend on training). On one
dst frame: the first redraw (the model predicts the face), then every merge option changed --runs
times, p50/p95 per option; then stepping to the next frames (decode and predict a new face).
Grid: a faceset of --faces faces (the bundled people's faces copied with changed brightness and
pose, as benchmarks/faceset_tools.py makes them), its statistics cache built first; then the first
page (200 names and their thumbnails, cold), scrolling (the next pages), and first pages sorted by
yaw and by blur.
Usage: python benchmarks/studio_tools.py [--presets quick,hd] [--faces 20000] [--runs 20]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.faceset.stats import faceset_stats
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import TIMELINES, FacePuppet, write_puppet_clip
from faceweave.registries import BLENDS, COLORS, MASKS
from faceweave.studio.app import Studio, create_app
from faceweave.studio.security import LOOPBACK
from faceweave.train.run import run_train
from faceweave.workspace import init_workspace

sys.path.insert(0, str(Path(__file__).parent))
from faceset_tools import base_faces, grow

TOKEN = "bench"
# Each option's values, cycled: a change every request, as a slider or a key makes.
CHANGES: dict[str, list[Any]] = {
    "erode": [float(v) for v in range(1, 21)],
    "blur": [float(v) for v in range(0, 21)],
    "face_scale": [float(v) for v in range(-10, 11)],
    "sharpen": [0.2 * v for v in range(1, 11)],
    "degrade_blur": [0.25 * v for v in range(1, 11)],
    "degrade_noise": [float(v) for v in range(1, 11)],
    "shading": [0.1 * v for v in range(0, 11)],
    "color": list(COLORS.names()),
    "blend": list(BLENDS.names()),
    # xseg reads masks `faceweave mask apply` wrote; this workspace has none
    "mask": ["learned*dst", "learned*dst*occlusion", *(m for m in MASKS.names() if m != "xseg")],
    "keep_mouth": [True, False],
    "tracks": ["0", "all"],
}


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def client_for(root: Path) -> TestClient:
    client = TestClient(create_app(Studio(root, TOKEN, LOOPBACK)), base_url="http://127.0.0.1:8484")
    client.headers["x-faceweave-token"] = TOKEN
    return client


def merger_workspace(root: Path, preset: str) -> None:
    ws = init_workspace(root / preset, preset).workspace
    for side, person, size in (("src", 0, (640, 480)), ("dst", 3, (1280, 720))):
        spec = ClipSpec(seconds=4.0, fps=25, width=size[0], height=size[1], seed=person, audio=False)
        video = ws.src_video if side == "src" else ws.dst_video
        write_puppet_clip(video, FacePuppet.from_image(load_sample_face(person)), spec, person,
                          timeline=TIMELINES["expressive"])  # fmt: skip
    config = load_config(ws.config, overrides={"extract": {"workers": 2},
                                               "train": {"iterations": 1, "loader_workers": 0}})  # fmt: skip
    for side in ("src", "dst"):
        run_extract(config, ws, side)
    run_train(config, ws)


def bench_merger(root: Path, preset: str, runs: int) -> None:
    client = client_for(root)
    start = time.perf_counter()
    info = client.get(f"/api/w/{preset}/merger").json()
    opened = ms(start)
    frame = info["with_faces"][len(info["with_faces"]) // 2]

    def render(session: dict[str, Any], at: int = frame) -> float:
        start = time.perf_counter()
        response = client.post(f"/api/w/{preset}/merger/render", json={"frame": at, "session": session})
        assert response.status_code == 200, response.text
        return ms(start)

    first = render({})
    later = [k for k in info["with_faces"] if k > frame][:runs]
    steps = [render({}, k) for k in later]  # predictions made, default settings' masks and colours kept
    width, height, faces = info["width"], info["height"], len(info["with_faces"])
    print(f"\n## merger, preset {preset} ({width}x{height} dst, {faces} faces)")
    print(
        f"open (model, faces, frame index): {opened:.0f} ms; first redraw (predicts the face): {first:.0f} ms"
    )
    print("| option changed | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- |")
    every: list[float] = []
    for option, values in CHANGES.items():
        if isinstance(values[0], float):  # a slider: its values in turn on one frame
            rows = [(option, [render({"all": {option: values[k % len(values)]}}) for k in range(runs)])]
        else:  # a choice: each value chosen for the first time, on each of `runs` frames
            rows = [(f"{option} = {v}", [render({"all": {option: v}}, k) for k in later]) for v in values]
        for label, times in rows:
            every += times
            print(f"| {label} | {pct(times, 50):.0f} | {pct(times, 95):.0f} | {max(times):.0f} |")
    print(f"| every change above | {pct(every, 50):.0f} | {pct(every, 95):.0f} | {max(every):.0f} |")
    print(
        f"| next frame (decode, predict) | {pct(steps, 50):.0f} | {pct(steps, 95):.0f} | {max(steps):.0f} |"
    )
    back = [render({}, k) for k in later[::-1]]
    print(f"| a frame seen before | {pct(back, 50):.0f} | {pct(back, 95):.0f} | {max(back):.0f} |")


def bench_grid(root: Path, count: int, runs: int) -> None:
    ws = init_workspace(root / "grid").workspace
    if not any(ws.src_aligned.iterdir()):  # --root kept from an earlier run: the faces are there
        ws.src_aligned.rmdir()
        grow(base_faces(root / "base"), ws.src_aligned, count)
    start = time.perf_counter()
    faceset_stats(ws.src_aligned, ("meta", "pixels"), 2)
    built = ms(start) / 1000
    print(f"\n## faceset browser, {count} faces\nstatistics cache (meta, pixels) built in {built:.0f} s")
    client = client_for(root)
    print("| names of the first page (200), by sort method | first ms | again ms |\n| --- | --- | --- |")
    for method in ("name", "yaw", "blur", "landmarks", "histogram"):
        times = []
        for _ in range(2):
            start = time.perf_counter()
            assert client.get(f"/api/w/grid/faces/src?by={method}&limit=200").status_code == 200
            times.append(ms(start))
        print(f"| {method} | {times[0]:.0f} | {times[1]:.0f} |")
    browse(root, runs)


def browse(root: Path, runs: int) -> None:
    """The grid in Chromium against a real server: until the first 200 thumbnails are shown, then
    each scroll to the bottom until the next 200 are."""
    import shutil
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("(no chromium: the browser figures are skipped)")
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(Studio(root, TOKEN, LOOPBACK)), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    # At least n faces listed and their thumbnails drawn (a sheet per 200 faces).
    shown = "n => Number(document.getElementById('grid').dataset.shown) >= n"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        start = time.perf_counter()
        page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/w/grid/faces?token={TOKEN}")
        page.wait_for_function(shown, arg=200, timeout=120000)
        first = ms(start)
        scrolls = []
        for _ in range(runs):
            listed = int(page.locator("#grid").get_attribute("data-loaded") or 0)
            start = time.perf_counter()
            page.evaluate("() => window.scrollTo(0, document.getElementById('sentinel').offsetTop)")
            page.wait_for_function(shown, arg=listed + 200, timeout=120000)
            scrolls.append(ms(start))
        browser.close()
    server.should_exit = True
    print("| in Chromium (every thumbnail shown) | ms |\n| --- | --- |")
    print(f"| page opened until the first 200 thumbnails are shown | {first:.0f} |")
    p50, p95 = pct(scrolls, 50), pct(scrolls, 95)
    print(f"| scroll to the end until 200 more are shown, p50 / p95 of {runs} | {p50:.0f} / {p95:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="quick,hd")
    parser.add_argument("--faces", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--root", help="work here and keep it (a second run reuses its grid faceset)")
    args = parser.parse_args()
    print(f"# studio tools on {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.root or tmp)
        for preset in (p for p in args.presets.split(",") if p):
            merger_workspace(root, preset)
            bench_merger(root, preset, args.runs)
        if args.faces:
            bench_grid(root, args.faces, args.runs)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
