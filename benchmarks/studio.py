"""Studio responsiveness on a big workspace: page load and first server-sent event on a workspace
with --faces faces per side and a --log-hours training log, and the server's memory while it
streams a --video-seconds 1080p video to a client.

The workspace: face files are copies of one real aligned face under --faces names per side (the
studio counts names and never opens them); the training log has one record per step at
--steps-per-s. The video is a real H.264 1080p clip (a moving pattern, libx264 ultrafast). The
server is `faceweave studio` in its own process; timings are wall clock from this process over
loopback, median of --runs; memory is the server's VmRSS sampled every 20 ms.
Usage: python benchmarks/studio.py [--faces 20000] [--log-hours 1] [--video-seconds 600] [--runs 10]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from faceweave.media.encode import EncodeSettings
from faceweave.media.synth import ClipSpec, write_pattern_clip


def make_workspace(root: Path, faces: int, log_hours: float, steps_per_s: float, video_s: float) -> None:
    from faceweave.workspace import init_workspace

    ws = init_workspace(root / "big").workspace
    face = _one_face(root)
    for side in (ws.src_aligned, ws.dst_aligned):
        side.mkdir(parents=True, exist_ok=True)
        for k in range(faces):
            os.link(face, side / f"{k:06d}_0.png")
    ws.model.mkdir(exist_ok=True)
    steps = int(log_hours * 3600 * steps_per_s)
    with (ws.model / "train_log.jsonl").open("w") as log:
        start = time.time() - log_hours * 3600
        for i in range(1, steps + 1):
            loss = 0.5 / (1 + i / 5000)
            record = {"iteration": i, "loss_src": round(loss, 5), "loss_dst": round(loss * 1.1, 5)}
            record |= {"s_per_it": 0.4, "samples_per_s": 40.0, "time": round(start + i / steps_per_s, 1)}
            log.write(json.dumps(record) + "\n")
    spec = ClipSpec(seconds=video_s, fps=25, width=1920, height=1080, seed=1, audio=False)
    write_pattern_clip(ws.dst_video, spec, EncodeSettings(crf=28, preset="ultrafast"))


def _one_face(root: Path) -> Path:
    from faceweave.assets import load_sample_face
    from faceweave.config import load_config
    from faceweave.extract.run import run_extract
    from faceweave.media.synth import ClipSpec as Spec
    from faceweave.pseudovideo import FacePuppet, write_puppet_clip
    from faceweave.workspace import init_workspace

    ws = init_workspace(root / "one").workspace
    clip = root / "one.mp4"
    spec = Spec(seconds=0.2, fps=25, width=320, height=240, audio=False)
    write_puppet_clip(clip, FacePuppet.from_image(load_sample_face(0)), spec)
    run_extract(load_config(overrides={"extract": {"workers": 1}}), ws, "src", source=clip)
    return next(ws.src_aligned.glob("*.png"))


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", text)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faces", type=int, default=20000)
    parser.add_argument("--log-hours", type=float, default=1.0)
    parser.add_argument("--steps-per-s", type=float, default=2.5)
    parser.add_argument("--video-seconds", type=float, default=600)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; median of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="faceweave-studio-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_workspace(root, args.faces, args.log_hours, args.steps_per_s, args.video_seconds)
        shutil.rmtree(root / "one")
        video = root / "big" / "data_dst.mp4"
        records, size_mib = int(args.log_hours * 3600 * args.steps_per_s), video.stat().st_size / 2**20
        built = time.perf_counter() - start
        print(f"workspace: {args.faces} faces per side, {records} log records, video {size_mib:.0f} MiB; "
              f"built in {built:.0f} s")  # fmt: skip
        cold(root, args.runs)
        with studio(root) as (base, headers, pid):
            measure(base, headers, pid, args.runs)


@contextlib.contextmanager
def studio(root: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    """`faceweave studio` on `root` in its own process: (base URL, token header, pid)."""
    command = [sys.executable, "-m", "faceweave", "studio", "--root", str(root), "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = re.search(r"(http://\S+)/\?token=(\S+)", line)
        assert url, line
        yield url.group(1), {"x-faceweave-token": url.group(2)}, server.pid
    finally:
        server.terminate()
        server.wait(30)


def _first_event(base: str, headers: dict[str, str]) -> None:
    request = urllib.request.Request(f"{base}/api/w/big/events", headers=headers)
    with urllib.request.urlopen(request, timeout=120) as stream:
        for raw in stream:
            if raw.startswith(b"data:"):
                break


def cold(root: Path, runs: int) -> None:
    """What a user waits for on a freshly started studio (nothing probed or counted yet): the
    workspace page, its script, then the first event, which carries the whole state; the loss
    curve follows it. Each run starts a new studio."""
    loads, pages, firsts = [], [], []
    for _ in range(runs):
        with studio(root) as (base, headers, _pid):
            t = time.perf_counter()
            _get(f"{base}/w/big", headers)
            pages.append(time.perf_counter() - t)
            _get(f"{base}/static/app.js", headers)
            started = time.perf_counter()
            _first_event(base, headers)
            firsts.append(time.perf_counter() - started)
            _get(f"{base}/api/w/big/losses", headers)
            loads.append(time.perf_counter() - t)
    for label, values in (
        ("cold: page, script, first event, curve", loads),
        ("cold: the page alone", pages),
        ("cold: first server-sent event", firsts),
    ):
        print(
            f"  {label:40} median {1000 * statistics.median(values):7.1f} ms  (max {1000 * max(values):.1f})"
        )


def _get(url: str, headers: dict[str, str]) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as response:
        return bytes(response.read())


def measure(base: str, headers: dict[str, str], pid: int, runs: int) -> None:
    _get(f"{base}/w/big", headers)  # warm the server (imports on first use)
    pages, states, firsts, curves = [], [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        _get(f"{base}/w/big", headers)
        pages.append(time.perf_counter() - t)
        t = time.perf_counter()
        _get(f"{base}/api/w/big/state", headers)
        states.append(time.perf_counter() - t)
        t = time.perf_counter()
        _get(f"{base}/api/w/big/losses", headers)
        curves.append(time.perf_counter() - t)
        t = time.perf_counter()
        _first_event(base, headers)
        firsts.append(time.perf_counter() - t)
    for label, values in (("page /w/big", pages), ("state API", states), ("loss curve API", curves),
                          ("first server-sent event", firsts)):  # fmt: skip
        print(
            f"  {label:26} median {1000 * statistics.median(values):7.1f} ms  (max {1000 * max(values):.1f})"
        )
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t = time.perf_counter()
    request = urllib.request.Request(f"{base}/media/big/data_dst.mp4", headers=headers)
    size = 0
    with urllib.request.urlopen(request, timeout=600) as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    mib, rss, top = size / 2**20, before / 1024, peak[0] / 1024
    print(f"  streaming the video: {mib:.0f} MiB in {seconds:.1f} s; server RSS {rss:.0f} MiB before, "
          f"peak {top:.0f} MiB (+{top - rss:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
