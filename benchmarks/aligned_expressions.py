"""Where does a performance get lost: in the model, or in the merge? Expressions in aligned space.

For every dst face of a `benchmarks/quality.py` pair workspace (with its `truth.json`), three
pictures at the model's resolution: dst's aligned crop, its reconstruction by the dst decoder, and
its swap (the dst->src path). Each is upscaled to 256 px, meshed by the same finder as `faceweave
eval`, and its mouth opening, eye opening, smile and brow raise are correlated with the
pseudo-video's true expression. If dst's crop and its reconstruction follow the truth and the swap
does not, the shared code carries the expression and the src side draws it wrongly; if the swap
follows here and the eval does not, the merge loses it.

Usage: python benchmarks/aligned_expressions.py WORKSPACE [--save FILE.npz]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.formats.aligned import read_aligned_face
from faceweave.merge.run import load_model
from faceweave.models import to_tensor
from faceweave.quality.features import Features, features
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace

PICTURES = ("dst crop", "dst decoder", "swap")
# The truth's name and sign for each measured feature (truth says how closed the eyes are).
MEASURES = (("mouth_open", "mouth_open", 1.0), ("eye_open", "blink", -1.0),
            ("smile", "smile", 1.0), ("brow_raise", "brow_raise", 1.0))  # fmt: skip
MESH_SIZE, BORDER = 256, 128  # the face finder wants a face that does not fill the frame


def to_images(batch: torch.Tensor) -> list[ImageBGR]:
    rgb = batch.detach().float().permute(0, 2, 3, 1).numpy()[..., ::-1]
    return [np.ascontiguousarray((im * 255 + 0.5).clip(0, 255).astype(np.uint8)) for im in rgb]


def measure(finder: MediapipeFaceFinder, face: ImageBGR) -> npt.NDArray[np.float64] | None:
    big = cv2.resize(face, (MESH_SIZE, MESH_SIZE), interpolation=cv2.INTER_CUBIC)
    framed = np.asarray(
        cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE), np.uint8
    )
    found = finder.find(framed)
    return features(found[0].landmarks_478).as_array() if found else None


def correlations(measured: npt.NDArray[np.float64], truth: npt.NDArray[np.float64]) -> dict[str, float]:
    return {
        name: float(np.corrcoef(measured[:, Features.NAMES.index(name)], truth[:, k])[0, 1])
        for k, (name, _, _) in enumerate(MEASURES)
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--save", type=Path, help="the measured features and the truth, as .npz")
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    frames = json.loads((ws.root / "truth.json").read_text(encoding="utf-8"))["frames"]
    model, _ = load_model(ws, torch.device("cpu"))
    size = model.config.resolution
    finder = MediapipeFaceFinder()
    rows: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in PICTURES}
    truth = []
    try:
        for path in sorted(ws.dst_aligned.glob("*.png")):
            image, meta = read_aligned_face(path)
            crop = np.asarray(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), np.uint8)
            with torch.no_grad():
                swapped, _ = model.swap(to_tensor(crop[None]))
                rebuilt, _ = model.reconstruct(to_tensor(crop[None]), "dst")
            measured = [measure(finder, p) for p in (crop, to_images(rebuilt)[0], to_images(swapped)[0])]
            if any(m is None for m in measured):
                continue  # a face meshed in one picture and not another would skew the comparison
            for name, m in zip(PICTURES, measured, strict=True):
                rows[name].append(m)  # type: ignore[arg-type]
            known = frames[meta.frame_index]
            truth.append([known[key] * sign for _, key, sign in MEASURES])
    finally:
        finder.close()
    known_arr = np.asarray(truth, np.float64)
    print(f"{len(known_arr)} dst faces meshed in all three pictures; correlation with the true expression")
    print("| picture | " + " | ".join(name for name, _, _ in MEASURES) + " |")
    print("| --- |" + " --- |" * len(MEASURES))
    for name, values in rows.items():
        found = correlations(np.asarray(values), known_arr)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in found.values()) + " |")
    if args.save:
        np.savez(args.save, truth=known_arr, **{n.replace(" ", "_"): np.asarray(v) for n, v in rows.items()})


if __name__ == "__main__":
    main()
