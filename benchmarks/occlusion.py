"""Occlusion: how well the occluder masks find what is in front of a face, how well tracks hold
behind it, and what the masks cost in a merge.

1. Occluder IoU of the shipped segmenter on held-out portraits (tools/faces, never trained on),
   per procedural occluder kind, 64 samples each; and the share of a bare face it flags.
   The hand landmarker is scored on the same procedural hands (drawn, not photographed).
2. Extraction continuity: occluded pseudo-videos (4 s, 100 frames, one occluder of each kind
   sweeping across an expressive face): frames with a face, faces bridged.
3. Cost: `run_merge` of a 720p pseudo-video (quick preset model, 2 workers) with masks
   learned*dst, learned*dst*occlusion and learned*dst*occlusion*hands; median of --runs.

Usage: python benchmarks/occlusion.py [--frames 100] [--runs 3]
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

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files, read_aligned_face
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.models import build_model
from faceweave.occlusion.clips import write_occluded_clip
from faceweave.occlusion.hands import HandFinder, hand_mask
from faceweave.occlusion.segmenter import INPUT_PX, shipped_segmenter
from faceweave.occlusion.synth import KINDS, composite
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.train.run import model_config
from faceweave.workspace import Workspace, init_workspace

TOOLS = Path(__file__).resolve().parents[1] / "tools"
HELD_OUT = (
    "SFHQ_pt1_00000161.jpg",
    "SFHQ_pt2_00000916.jpg",
    "SFHQ_pt1_00002921.jpg",
    "SFHQ_pt2_00001264.jpg",
)


def held_out_crops(tmp: Path) -> list[npt.NDArray[np.float32]]:
    ws = Workspace(tmp / "held")
    photos = tmp / "held_photos"
    photos.mkdir()
    for name in HELD_OUT:
        cv2.imwrite(str(photos / f"{name}.png"), cv2.imread(str(TOOLS / "faces" / name)))
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst", photos)
    return [read_aligned_face(p)[0].astype(np.float32) / 255 for p in list_face_files(ws.dst_aligned)]


def iou_table(faces: list[npt.NDArray[np.float32]]) -> None:
    segmenter, hands = shipped_segmenter(), HandFinder()
    print("| occluder | segmenter IoU | hand landmarker IoU |\n| --- | --- | --- |")
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng([11, k])
        totals = {"seg": [0.0, 0.0], "hands": [0.0, 0.0]}
        for n in range(64):
            face, occluder = faces[n % len(faces)], KINDS[kind](rng, 128)
            image = (composite(face, occluder) * 255 + 0.5).astype(np.uint8)
            truth = cv2.resize(occluder.alpha, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) >= 0.5
            drawn = cv2.resize(hand_mask(hands.find(image), 128), (INPUT_PX, INPUT_PX))
            found = {"seg": segmenter.occlusion([image])[0] >= 0.5, "hands": drawn >= 0.5}
            for key, mask in found.items():
                totals[key][0] += float((mask & truth).sum())
                totals[key][1] += float((mask | truth).sum())
        seg, hand = (totals[key][0] / max(totals[key][1], 1) for key in ("seg", "hands"))
        print(f"| {kind} | {seg:.2f} | {hand:.2f} |")
    clean = np.mean([(segmenter.occlusion([(f * 255).astype(np.uint8)])[0] >= 0.5).mean() for f in faces])
    print(f"bare faces flagged as occluded: {100 * clean:.2f}% of pixels")
    hands.close()


def continuity(tmp: Path, frames: int) -> None:
    print("\n| occluder | frames | with a face | bridged |\n| --- | --- | --- | --- |")
    puppet = FacePuppet.from_image(load_sample_face(1))
    for kind in KINDS:
        ws = init_workspace(tmp / f"cont_{kind}").workspace
        spec = ClipSpec(seconds=frames / 25, fps=25, width=320, height=240, seed=1, audio=False)
        write_occluded_clip(ws.dst_video, puppet, spec, kind, 5)
        report = run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
        with_face = report.frames - len(report.frames_without_faces)
        print(f"| {kind} | {report.frames} | {with_face} | {report.bridged} |")


def cost(tmp: Path, runs: int) -> None:
    config = load_config(preset="quick")
    torch.manual_seed(0)
    model = build_model(model_config(config.train))
    ws = init_workspace(tmp / "cost").workspace
    spec = ClipSpec(seconds=10, fps=25, width=1280, height=720, seed=1, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, 1)
    run_extract(config, ws, "dst")
    print("\n| mask | frames/s (720p, 2 workers) | time against learned*dst |\n| --- | --- | --- |")
    base = 0.0
    for mask in ("learned*dst", "learned*dst*occlusion", "learned*dst*occlusion*hands"):
        merge = replace(config.merge, mask=mask, workers=2)
        rates = [250 / run_merge(replace(config, merge=merge), ws, model=model).seconds for _ in range(runs)]
        rate = statistics.median(rates)
        base = base or rate
        print(f"| `{mask}` | {rate:.1f} | {base / rate:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        iou_table(held_out_crops(tmp))
        continuity(tmp, args.frames)
        cost(tmp, args.runs)


if __name__ == "__main__":
    main()
