"""Occlusion: how well the occluder masks find what is in front of a face, how well tracks hold
behind it, and what the masks cost in a merge.

1. Occluder IoU of the shipped segmenter on held-out portraits (tools/faces, never trained on),
   per procedural occluder kind, 64 samples each; and the share of a bare face it flags.
   The hand landmarker is scored on the same procedural hands (drawn, not photographed).
2. Extraction continuity: occluded pseudo-videos (4 s, 100 frames, one occluder of each kind
   sweeping across an expressive face): frames with a face, faces bridged.
3. User masks: 100 labelled faces of an occluded clip, the mask model taught --teach-minutes,
   IoU on the 100 faces between them.
4. Cost: `run_merge` of a 720p pseudo-video (quick preset model, 2 workers) with masks
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


def taught(tmp: Path, minutes: float) -> None:
    """A user's masks: 100 dst faces of an occluded clip labelled (the true visible face), the mask
    model taught for `minutes`, scored on the 100 faces between them against the shipped
    segmenter with the landmark hull."""
    from faceweave.formats.aligned import read_face_meta
    from faceweave.geometry import invert
    from faceweave.mesh import FACE_OVAL
    from faceweave.occlusion.labels import import_labels, read_mask
    from faceweave.occlusion.segmenter import visible
    from faceweave.occlusion.teach import apply_masks, teach

    ws = init_workspace(tmp / "taught").workspace
    spec = ClipSpec(seconds=8, fps=25, width=320, height=240, seed=1, audio=False)
    truth = write_occluded_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, "hand", 9)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    faces = list_face_files(ws.dst_aligned)

    def true_face(path: Path) -> npt.NDArray[np.float32]:
        meta = read_face_meta(path)
        hull = np.zeros((meta.size_px, meta.size_px), np.float32)
        ring = np.round(meta.landmarks_crop[list(FACE_OVAL)]).astype(np.int32)
        cv2.fillConvexPoly(hull, cv2.convexHull(ring), (1.0,))
        occluder = cv2.warpAffine(
            truth[meta.frame_index].occluder, invert(meta.face_to_frame), hull.shape[::-1]
        )
        return np.asarray(hull * (occluder < 0.5), np.float32)

    labels = {}
    for path in faces[::2]:
        contours, _ = cv2.findContours(
            (true_face(path) > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        labels[path.name] = {"include": [c[:, 0, :].astype(float).tolist() for c in contours if len(c) >= 3]}
    import_labels(ws.dst_aligned, labels)
    teach([ws.dst_aligned], ws.model / "xseg", minutes)
    apply_masks(ws.dst_aligned, ws.model / "xseg")

    def iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
        return float(((a > 0.5) & (b > 0.5)).sum() / max(((a > 0.5) | (b > 0.5)).sum(), 1))

    segmenter = shipped_segmenter()
    user, shipped = [], []
    for path in faces[1::2]:
        image, meta = read_aligned_face(path)
        hull = np.zeros((meta.size_px, meta.size_px), np.float32)
        cv2.fillConvexPoly(
            hull, cv2.convexHull(np.round(meta.landmarks_crop[list(FACE_OVAL)]).astype(np.int32)), (1.0,)
        )
        mask = read_mask(path, meta.size_px)
        assert mask is not None
        user.append(iou(mask, true_face(path)))
        shipped.append(iou(hull * visible(segmenter.occlusion([image])[0], meta.size_px), true_face(path)))
    print(
        f"\nuser masks: {len(labels)} labelled faces, {minutes:g} min of teaching; IoU with the true visible"
        f" face on {len(user)} other faces: taught {np.median(user):.3f}, "
        f"shipped segmenter x hull {np.median(shipped):.3f}"
        " (medians)"
    )


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
    parser.add_argument("--teach-minutes", type=float, default=10.0)
    parser.add_argument("--only", choices=("iou", "continuity", "taught", "cost"))
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.only in (None, "iou"):
            iou_table(held_out_crops(tmp))
        if args.only in (None, "continuity"):
            continuity(tmp, args.frames)
        if args.only in (None, "taught"):
            taught(tmp, args.teach_minutes)
        if args.only in (None, "cost"):
            cost(tmp, args.runs)


if __name__ == "__main__":
    main()
