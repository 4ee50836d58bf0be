"""Decode and encode speed of faceweave's media layer at 720p and 1080p.

Content is a bundled synthetic face moving over a blurred background with per-frame camera-like
grain (Gaussian, sigma 4): far harder for a codec than flat synthetic frames.
Prints frames/s, median of --runs runs. Usage: python benchmarks/video_io.py [--frames 90] [--runs 3]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from faceweave.assets import load_sample_face
from faceweave.media import EncodeSettings, VideoWriter, open_frames
from faceweave.media.synth import pose_jitter_frame, soft_background
from faceweave.records import ImageBGR

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def realistic_frames(width: int, height: int, count: int) -> list[ImageBGR]:
    face = load_sample_face(1)
    background = soft_background(face, width, height)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(count):
        clean = pose_jitter_frame(face, background, i / 25.0).astype(np.int16)
        grain = rng.normal(0, 4, clean.shape).astype(np.int16)
        frames.append(np.clip(clean + grain, 0, 255).astype(np.uint8))
    return frames


def median_fps(action: Callable[[], int], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        count = action()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def encode(frames: list[ImageBGR], path: Path, preset: str) -> int:
    with VideoWriter(path, fps=Fraction(25), settings=EncodeSettings(crf=18, preset=preset)) as writer:
        for frame in frames:
            writer.write(frame)
        writer.close()
    return len(frames)


def decode(path: Path) -> int:
    return sum(1 for _ in open_frames(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--presets", default="veryfast,medium")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.frames} frames, median of {args.runs} runs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height) in SIZES.items():
            frames = realistic_frames(width, height, args.frames)
            path = Path(tmp) / f"{name}.mp4"
            for preset in args.presets.split(","):
                fps = median_fps(lambda: encode(frames, path, preset), args.runs)  # noqa: B023
                print(f"{name} encode libx264 {preset:9s} crf 18: {fps:7.1f} frames/s")
            fps = median_fps(lambda: decode(path), args.runs)  # noqa: B023
            print(f"{name} decode to BGR (upright)          : {fps:7.1f} frames/s")


if __name__ == "__main__":
    main()
