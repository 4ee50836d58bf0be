"""Shading: dst's light laid onto the swap, the swap's own detail kept, features left out."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceweave.merge.shading import match_shading

SIZE = 64


def _detail(seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.05, (SIZE, SIZE, 1)).astype(np.float32).repeat(3, axis=2)


def test_dst_light_replaces_the_swaps_and_its_detail_stays() -> None:
    ramp = np.linspace(0.3, 0.7, SIZE, dtype=np.float32)[None, :, None].repeat(SIZE, 0).repeat(3, 2)
    dst = ramp + _detail(0)  # lit from the right
    face = np.full((SIZE, SIZE, 3), 0.5, np.float32) + _detail(1)  # evenly lit, other skin detail
    skin = np.ones((SIZE, SIZE), np.float32)
    out = match_shading(face, dst, skin, 1.0)
    centre = slice(16, 48)
    left, right = out[centre, 10:20].mean(), out[centre, 44:54].mean()
    assert right - left > 0.8 * (dst[centre, 44:54].mean() - dst[centre, 10:20].mean())
    detail = out - np.asarray(ramp)
    assert np.corrcoef(detail[centre, centre, 0].ravel(), _detail(1)[centre, centre, 0].ravel())[0, 1] > 0.8
    assert np.array_equal(match_shading(face, dst, skin, 0.0), face)


def test_a_dark_mouth_in_dst_alone_leaves_no_smudge() -> None:
    dst = np.full((SIZE, SIZE, 3), 0.6, np.float32)
    dst[40:50, 24:40] = 0.1  # dst's open mouth
    face = np.full((SIZE, SIZE, 3), 0.6, np.float32)  # the swap's closed one
    skin = np.ones((SIZE, SIZE), np.float32)
    skin[36:54, 20:44] = 0  # the mouth is not skin
    out = match_shading(face, dst, skin, 1.0)
    assert np.abs(out - face).max() < 0.02
