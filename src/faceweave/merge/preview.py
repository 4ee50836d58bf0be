"""Pictures for choosing settings: one frame merged several ways side by side, and dst | result."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from faceweave.config import Config
from faceweave.errors import UserError
from faceweave.geometry import region_of
from faceweave.media.decode import open_frames
from faceweave.merge.placement import MarkPlacer
from faceweave.merge.prepare import Preparer
from faceweave.merge.run import MergeInputs, merge_frame
from faceweave.provenance.manifest import write_signed_png
from faceweave.provenance.watermark import mark_field, new_payload
from faceweave.records import ImageBGR

# (label, [merge] overrides) compared by `merge --preview`; the first is the settings as given.
VARIANTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("overlay, no colour", {"blend": "overlay", "color": "none"}),
    ("overlay, rct", {"blend": "overlay", "color": "rct"}),
    ("overlay, mkl", {"blend": "overlay", "color": "mkl"}),
    ("seamless", {"blend": "seamless", "color": "none"}),
    ("hist-match", {"blend": "hist-match", "color": "none"}),
    ("mask: dst hull", {"mask": "dst"}),
)
TILE_HEIGHT = 320


def read_frame(source: Path, index: int, config: Config) -> ImageBGR:
    rate = Fraction(config.decode.image_fps).limit_denominator(1001)
    for frame in open_frames(source, on_error="skip", image_fps=rate):
        if frame.index == index:
            return frame.image_bgr_u8
    raise UserError(f"{source} has no frame {index}")


def _labelled(image: ImageBGR, label: str) -> ImageBGR:
    scale = TILE_HEIGHT / image.shape[0]
    tile = cv2.resize(
        image, (max(1, round(image.shape[1] * scale)), TILE_HEIGHT), interpolation=cv2.INTER_AREA
    )
    cv2.rectangle(tile, (0, 0), (tile.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(tile, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.asarray(tile, np.uint8)


def _face_box(inputs: MergeInputs, index: int, width: int, height: int) -> tuple[slice, slice]:
    """The frame area around the faces of frame `index`, with a margin, or the whole frame."""
    faces = [f for f in inputs.faces if f.meta.frame_index == index]
    if not faces:
        return slice(0, height), slice(0, width)
    regions = [region_of(f.meta.face_to_frame, f.meta.size_px, width, height, pad=0) for f in faces]
    x0, y0 = min(r.x0 for r in regions), min(r.y0 for r in regions)
    x1, y1 = max(r.x1 for r in regions), max(r.y1 for r in regions)
    margin = (x1 - x0) // 6
    return slice(max(0, y0 - margin), min(height, y1 + margin)), slice(
        max(0, x0 - margin), min(width, x1 + margin)
    )


def write_preview(config: Config, inputs: MergeInputs, index: int, out: Path) -> Path:
    """`out`: frame `index` as dst, as merged with the given settings, and as merged with each of
    VARIANTS, cropped to the faces and labelled."""
    image = read_frame(inputs.source, index, config)
    faces = [f for f in inputs.faces if f.meta.frame_index == index]
    if not faces:
        with_faces = sorted({f.meta.frame_index for f in inputs.faces})
        raise UserError(
            f"frame {index} has no dst face to preview; frames with faces include {with_faces[:8]}"
        )
    rows, cols = _face_box(inputs, index, image.shape[1], image.shape[0])
    tiles = [_labelled(image[rows, cols], f"dst frame {index}")]
    mark = mark_field(new_payload())
    with MarkPlacer(1) as place:
        for label, overrides in (("your settings", {}), *VARIANTS):
            cfg = replace(config.merge, **overrides)  # type: ignore[arg-type]
            prepared = Preparer(inputs.model, cfg, inputs.device).batch(faces)
            merged, _ = merge_frame(image, prepared, mark, index, place)
            tiles.append(_labelled(merged[rows, cols], label))
    return write_signed_png(out, np.hstack(tiles))


def write_comparison(
    config: Config, dst: Path, result: Path, index: int, out: Path, captions: list[str] | None = None
) -> Path:
    """`out`: dst frame `index` | the same frame of the result, full frames side by side, with
    `captions` (eval's figures) in a strip below."""
    before, after = read_frame(dst, index, config), read_frame(result, index, config)
    picture = np.hstack([_labelled(before, "dst"), _labelled(after, "faceweave result")])
    if captions:
        strip = np.zeros((10 + 22 * len(captions), picture.shape[1], 3), np.uint8)
        for k, line in enumerate(captions):
            cv2.putText(strip, line, (6, 22 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (255, 255, 255), 1,
                        cv2.LINE_AA)  # fmt: skip
        picture = np.vstack([picture, strip])
    return write_signed_png(out, picture)
