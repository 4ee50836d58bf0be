"""Merge speed: merged frames/s at 720p with the quick preset's model and encoder settings, 1 and
2 workers, per blend mode.

Input: an expressive pseudo-video of a bundled synthetic face at 1280x720 with sound, extracted
once (full face, 256 px). Timed: the whole `run_merge` (decode, predict in batches, colour
transfer, mask, warp-back, blend, H.264 encode with dst's audio copied). The model has the quick
preset's architecture with untrained weights (merging costs the same whatever the weights); since
an untrained mask is a flat 0.5, which seamless cloning would skip, the mask is the dst hull.
Median of --runs.
Usage: python benchmarks/merge.py [--frames 250] [--runs 3]
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
from dataclasses import replace
from pathlib import Path

import torch

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.models import build_model
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.train.run import model_config
from faceweave.workspace import init_workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--blends", default="overlay,seamless,hist-match")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; 720p, {args.frames} frames, "
          f"median of {args.runs}")  # fmt: skip
    config = load_config(preset="quick")
    torch.manual_seed(0)
    model = build_model(model_config(config.train))
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws").workspace
        spec = ClipSpec(seconds=args.frames / 25, fps=25, width=1280, height=720, seed=1, audio=True)
        write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, 1)
        run_extract(config, ws, "dst")
        for blend in args.blends.split(","):
            for workers in (1, 2):
                merge = replace(config.merge, blend=blend, workers=workers, mask="dst")
                rates = []
                for _ in range(args.runs):
                    report = run_merge(replace(config, merge=merge), ws, model=model)
                    rates.append(report.frames / report.seconds)
                print(f"blend {blend:10s} workers={workers}: {statistics.median(rates):6.1f} frames/s "
                      f"(colour {merge.color}, mask {merge.mask})")  # fmt: skip


if __name__ == "__main__":
    main()
