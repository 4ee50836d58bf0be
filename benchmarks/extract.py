"""Extraction speed: frames/s and faces/s at 720p and 1080p with 1 and 2 workers.

Input: an expressive pseudo-video of a bundled synthetic face (one face per frame), encoded with
libx264. Timed: the whole `run_extract` (decode, detect + mesh, track, smooth, align, write PNG
faces with metadata), default settings (full face, 256 px). Median of --runs.
Usage: python benchmarks/extract.py [--frames 750] [--runs 3]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import init_workspace

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=750)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.frames} frames, median of {args.runs}"
    )
    puppet = FacePuppet.from_image(load_sample_face(1))
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height) in SIZES.items():
            clip = Path(tmp) / f"{name}.mp4"
            spec = ClipSpec(seconds=args.frames / 25, fps=25, width=width, height=height, audio=False)
            write_puppet_clip(clip, puppet, spec)
            for workers in (1, 2):
                config = load_config(overrides={"extract": {"workers": workers}})
                rates, faces = [], 0
                for run in range(args.runs):
                    ws = init_workspace(Path(tmp) / f"ws_{name}_{workers}_{run}").workspace
                    start = time.perf_counter()
                    report = run_extract(config, ws, "dst", source=clip)
                    rates.append(report.frames / (time.perf_counter() - start))
                    faces = report.faces
                    shutil.rmtree(ws.root)
                fps = statistics.median(rates)
                print(
                    f"{name} workers={workers}: {fps:6.1f} frames/s, {fps * faces / args.frames:6.1f} faces/s"
                )


if __name__ == "__main__":
    main()
