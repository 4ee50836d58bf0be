"""The steadiness filter: still where dst is still, no lag where dst changes, motion followed."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from faceweave.merge.temporal import TemporalFilter

SIZE = 64


def _texture(seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.2, 0.8, (8, 8, 3)).astype(np.float32)
    return np.asarray(np.kron(coarse, np.ones((8, 8, 1), np.float32)), np.float32)


def _change(frames: list[npt.NDArray[np.float32]]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)]))


def test_a_prediction_that_boils_over_a_still_dst_is_steadied() -> None:
    dst = _texture(0)
    steady = TemporalFilter(0.8)
    rng = np.random.default_rng(1)
    raw, out = [], []
    for i in range(12):
        face = np.clip(dst + rng.normal(0, 0.03, (1, 1, 3)), 0, 1).astype(np.float32)  # brightness pumps
        raw.append(face)
        out.append(steady(0, i, dst, face, np.ones((SIZE, SIZE), np.float32))[0])
    assert _change(out) < 0.5 * _change(raw)


def test_where_dst_changes_the_prediction_passes_at_once() -> None:
    steady = TemporalFilter(0.9)
    dst0, dst1 = _texture(0), _texture(0)
    dst1[20:40, 20:40] += 0.3  # dst's mouth opens here
    face0, face1 = dst0.copy(), dst1.copy()
    mask = np.ones((SIZE, SIZE), np.float32)
    steady(0, 0, dst0, face0, mask)
    out, _ = steady(0, 1, dst1, face1, mask)
    assert np.abs(out[26:34, 26:34] - face1[26:34, 26:34]).max() < 0.02


def test_a_wavering_alignment_is_not_smoothed_over() -> None:
    """dst's aligned face shifts by 2 px (the alignment wavered): the shifted prediction is kept
    where the shift shows, not blended with the old one into a double image."""
    steady = TemporalFilter(0.9)
    mask = np.ones((SIZE, SIZE), np.float32)
    face = _texture(3)
    moved = np.roll(face, 2, axis=1)
    steady(0, 0, face, face, mask)
    out, _ = steady(0, 1, moved, moved, mask)
    edges = np.abs(moved - face).mean(axis=2) > 0.1
    assert np.abs(out - moved)[edges].mean() < 0.03


def test_a_gap_in_the_track_starts_afresh() -> None:
    steady = TemporalFilter(0.9)
    mask = np.ones((SIZE, SIZE), np.float32)
    steady(0, 0, _texture(0), _texture(0), mask)
    fresh = _texture(5)
    out, _ = steady(0, 5, _texture(0), fresh, mask)
    assert np.array_equal(out, fresh)
