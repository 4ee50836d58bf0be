"""Histogram matching of the swapped face to dst's, then an alpha blend: DeepFaceLab's hist-match."""

from __future__ import annotations

import numpy as np

from faceweave.merge.blends import BlendMode, Pixels, overlay
from faceweave.registries import BLENDS


def match_histograms(face: Pixels, dst: Pixels,
                     mask: Pixels) -> Pixels:  # fmt: skip
    """Per-channel histogram matching inside the mask ."""
    inside = mask > 0.5
    if inside.sum() < 16:
        return face
    out = face.copy()
    quantiles = np.linspace(0, 1, 256)
    for c in range(3):
        knots = np.quantile(face[..., c][inside], quantiles)
        out[..., c] = np.interp(face[..., c], knots, np.quantile(dst[..., c][inside], quantiles))
    return out


BLENDS.add(
    "hist-match",
    "match each colour channel's histogram to dst's inside the skin, then alpha blend",
    BlendMode(overlay, match_histograms),
    __name__,
    rank=2,
)
