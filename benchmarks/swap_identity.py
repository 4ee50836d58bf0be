"""Does the trained model's swap look like src? Identity distances of dst->src swaps.

For every 10th dst face: swap it with the workspace's model, scale it back to the aligned crop
size, and compute its dlib 128-d descriptor with the dst face's own landmarks. Report the mean
distance to src faces and to dst faces (both seen at the model's resolution, so they lose as much
detail as the swap). dlib calls two faces the same person under 0.6.
Usage: python benchmarks/swap_identity.py WORKSPACE   (after `faceweave train -w WORKSPACE ...`)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.extract.identity import FaceDescriber
from faceweave.formats.aligned import FaceMeta, list_face_files, read_aligned_face
from faceweave.formats.checkpoint import load_checkpoint
from faceweave.models import to_tensor
from faceweave.records import ImageBGR


def at_resolution(image: ImageBGR, resolution: int) -> ImageBGR:
    small = cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.resize(small, image.shape[1::-1], interpolation=cv2.INTER_CUBIC), np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    ws: Path = args.workspace
    loaded = load_checkpoint(ws / "model")
    model, resolution, describer = loaded.model.eval(), loaded.model.config.resolution, FaceDescriber()

    def faces(side: str) -> list[tuple[ImageBGR, FaceMeta]]:
        return [read_aligned_face(p) for p in list_face_files(ws / f"data_{side}" / "aligned")[:: args.every]]

    def descriptors(items: list[tuple[ImageBGR, FaceMeta]]) -> npt.NDArray[np.float64]:
        return np.array(
            [describer.describe(at_resolution(i, resolution), m.landmarks_crop) for i, m in items]
        )

    src, dst = faces("src"), faces("dst")
    src_d, dst_d = descriptors(src), descriptors(dst)
    to_src, to_dst = [], []
    with torch.no_grad():
        for image, meta in dst:
            small = np.asarray(
                cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA), np.uint8
            )
            rgb, _ = model.swap(to_tensor(small[None]))
            out = (rgb[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).clip(0, 255).astype(np.uint8)
            swap = cv2.resize(np.ascontiguousarray(out), image.shape[1::-1], interpolation=cv2.INTER_CUBIC)
            d = describer.describe(np.asarray(swap, np.uint8), meta.landmarks_crop)
            to_src.append(float(np.linalg.norm(src_d - d, axis=1).mean()))
            to_dst.append(float(np.linalg.norm(dst_d - d, axis=1).mean()))
    pairs = np.linalg.norm(src_d[:, None] - src_d[None], axis=2)[np.triu_indices(len(src_d), 1)]
    print(f"model {loaded.path.name} ({loaded.state.iteration} iterations), {len(to_src)} dst faces swapped")
    closer = sum(a < b for a, b in zip(to_src, to_dst, strict=True))
    print(
        f"swap to src: mean {np.mean(to_src):.3f}, median {np.median(to_src):.3f}; "
        f"swap to dst: mean {np.mean(to_dst):.3f}"
    )
    print(
        f"closer to src than to dst: {closer}/{len(to_src)}; "
        f"under 0.6 to src: {sum(a < 0.6 for a in to_src)}/{len(to_src)}"
    )
    print(
        f"for scale: src to src {pairs.mean():.3f}, src to dst "
        f"{np.linalg.norm(src_d[:, None] - dst_d[None], axis=2).mean():.3f}"
    )


if __name__ == "__main__":
    main()
