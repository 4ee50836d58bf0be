"""The study behind the shipped watermark's moving mark: can a spread-spectrum mark in the aligned
face survive re-encoding, and how should it be read? (Issue 6.) It embeds with the shipped
`embed`, which also adds the still mark (2 px chips, outside this study's band).

The mark lives in the canonical face (a "full" aligned crop of 128 px made from the landmarks): a
sync pattern plus 64 payload patterns, smooth random +-1 fields on a 32 x 32 chip grid inside an
ellipse over the face, added to the luminance at --amplitude levels. Reading: find the face
(mediapipe), align it, band-pass, correlate with the sync, the bits and 255 decoy patterns; the
score is the sync's mean correlation in units of the decoys' spread (the no-mark spread measured
on the very clip, so its own frame-to-frame correlation is accounted for).

--mode static: the same mark in every frame; read from single frames.
--mode alternate: the mark's sign flips every frame; read from differences of consecutive aligned
frames, which cancel the (nearly static) face and double the mark.
Usage: python benchmarks/watermark_study.py WORKSPACE [--mode alternate] [--amplitude 3] [--grid 32]
       [--frames 75]
"""

from __future__ import annotations

import argparse
import secrets
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.provenance.watermark import BITS, as_read, canonical_face, canonical_gray, embed, make_patterns
from faceweave.records import ImageBGR

Field = npt.NDArray[np.float32]


def embed_one(image: ImageBGR, landmarks: npt.NDArray[np.float64], field: Field, index: int) -> ImageBGR:
    out = image.copy()
    embed(out, landmarks, field, index, np.ones(image.shape[:2], np.float32))
    return out


def reencode(frames: list[ImageBGR], path: Path, crf: int, scale: float) -> list[ImageBGR]:
    with VideoWriter(path, fps=Fraction(25), settings=EncodeSettings(crf=crf, preset="medium")) as writer:
        for image in frames:
            if scale != 1:
                image = np.asarray(
                    cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
                )
            writer.write(image)
        writer.close()
    return [f.image_bgr_u8 for f in open_frames(path)]


def score(
    frames: list[ImageBGR], flat: npt.NDArray[np.float64], mode: str, finder: MediapipeFaceFinder
) -> float:
    crops = []
    for image in frames:
        found = finder.find(image)
        crops.append(canonical_face(canonical_gray(image, found[0].landmarks_478)) if found else None)
    rows = []
    for i, crop in enumerate(crops):
        if crop is None or (mode == "alternate" and (i == 0 or crops[i - 1] is None)):
            continue
        signal = crop - crops[i - 1] if mode == "alternate" else crop  # type: ignore[operator]
        flat_signal = signal.reshape(-1).astype(np.float64)
        rows.append(sign(mode, i) * (flat @ flat_signal) / (np.linalg.norm(flat_signal) + 1e-9))
    mean = np.stack(rows).mean(axis=0)
    decoys = mean[1 + BITS :]
    return float(abs(mean[0] - decoys.mean()) / decoys.std(ddof=1))


def sign(mode: str, index: int) -> float:
    return -1.0 if mode == "alternate" and index % 2 else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--mode", default="alternate", choices=("static", "alternate"))
    parser.add_argument("--amplitude", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--grid", type=int, default=32, help="chips per side of the 128 px face")
    args = parser.parse_args()
    stack = make_patterns(args.grid)
    raw = np.array([1.0 if secrets.randbits(1) else -1.0 for _ in range(BITS)], np.float32)
    field = (
        args.amplitude
        * (stack[0] + np.tensordot(raw, stack[1 : 1 + BITS], axes=1) / np.sqrt(BITS))
        / np.sqrt(2)
    )
    flat = as_read(stack)
    metas = {
        m.frame_index: m
        for m in (read_face_meta(p) for p in list_face_files(args.workspace / "data_dst" / "aligned"))
    }
    clean = [f.image_bgr_u8 for f in open_frames(args.workspace / "data_dst.mp4")][: args.frames]
    marked = [
        embed_one(image, metas[i].landmarks_frame, field, i if args.mode == "alternate" else 0)
        if i in metas
        else image
        for i, image in enumerate(clean)
    ]  # fmt: skip
    finder = MediapipeFaceFinder()
    out = args.workspace / "watermark_study"
    out.mkdir(exist_ok=True)
    print(f"mode {args.mode}, amplitude {args.amplitude}, grid {args.grid}, {len(clean)} frames; threshold 6")
    for crf, scale in ((18, 1.0), (23, 1.0), (28, 1.0), (28, 0.5)):
        for name, frames in (("marked", marked), ("unmarked", clean)):
            back = reencode(frames, out / f"{name}_{crf}_{scale}.mp4", crf, scale)
            value = score(back, flat, args.mode, finder)
            print(f"crf {crf}, scale {scale}: {name:8s} score {value:5.1f}")


if __name__ == "__main__":
    main()
