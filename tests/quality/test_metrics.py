"""Each eval measure on constructed cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from faceweave.quality import metrics as m

T = 100
TIME = np.arange(T) / 25.0
MOUTH = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * TIME / 1.6))


def test_a_mouth_that_opens_with_dsts_correlates_fully_even_with_another_size() -> None:
    assert m.correlation(0.7 * MOUTH + 0.05, MOUTH) == pytest.approx(1.0)


def test_a_frozen_face_follows_nothing() -> None:
    assert m.correlation(np.full(T, 0.1), MOUTH) == 0.0
    rng = np.random.default_rng(0)
    noisy_still = 0.1 + rng.normal(0, 0.003, T)  # a still face read by a noisy mesh
    assert abs(m.correlation(noisy_still, MOUTH) or 0) < 0.3


def test_a_dst_that_does_not_move_has_no_correlation_to_report() -> None:
    assert m.correlation(MOUTH, np.full(T, 0.2), 0.01) is None


def test_missing_frames_are_left_out_not_counted_as_zero() -> None:
    result = MOUTH.copy()
    result[10:40] = np.nan
    assert m.correlation(result, MOUTH) == pytest.approx(1.0)


def test_a_constant_pose_offset_is_not_an_error_but_a_lag_is() -> None:
    dst = np.stack([5 * np.sin(TIME), 3 * np.cos(TIME), np.zeros(T)], axis=1)
    assert m.pose_error(dst + np.array([4.0, -8.0, 2.0]), dst).max() == pytest.approx(0.0, abs=1e-9)
    lagged = np.roll(dst, 5, axis=0)
    assert m.pose_error(lagged, dst)[10:, 0].mean() > 0.4  # a 0.2 s lag of a 5-degree sway


def test_expression_error_ignores_face_shape_and_sees_a_mouth_that_does_not_move() -> None:
    rng = np.random.default_rng(1)
    shape_dst = rng.normal(0, 1, (20, 2))
    motion = np.zeros((T, 20, 2))
    motion[:, :5, 1] = MOUTH[:, None]  # five lip points move with the mouth
    dst = shape_dst + motion
    other_face = shape_dst + rng.normal(0, 0.1, (20, 2)) + motion  # another shape, same motion
    assert np.nanmax(m.expression_error(other_face, dst)) == pytest.approx(0.0, abs=1e-9)
    frozen = np.broadcast_to(shape_dst, dst.shape)
    assert np.nanmean(m.expression_error(frozen, dst)) > 0.02


def test_jitter_is_the_motion_the_swap_added() -> None:
    rng = np.random.default_rng(2)
    path = np.cumsum(rng.normal(0, 1, (T, 17, 2)), axis=0) + 300
    iod = np.full(T, 100.0)
    assert np.nanmax(m.jitter(path + 3.0, path, iod)) == pytest.approx(0.0, abs=1e-9)
    shaky = path + rng.normal(0, 1.0, path.shape)
    # the velocity difference of two independent 1 px shakes: sqrt(2) * sqrt(2) * E|N(0,1)|... in 2-D
    expected = np.mean(np.linalg.norm(rng.normal(0, np.sqrt(2), (200000, 2)), axis=1)) / 100
    assert np.nanmean(m.jitter(shaky, path, iod)) == pytest.approx(expected, rel=0.05)


def test_flicker_is_the_brightness_change_dst_does_not_have() -> None:
    dst = 50 + 5 * np.sin(TIME)[:, None] + np.zeros((T, 30))
    pumping = dst + np.where(np.arange(T) % 2 == 0, 1.0, -1.0)[:, None]  # +-1 L every other frame
    assert np.nanmean(m.flicker(dst + 4.0, dst)) == pytest.approx(0.0, abs=1e-9)
    assert np.nanmean(m.flicker(pumping, dst)) == pytest.approx(2.0)


def test_delta_e_and_ratio() -> None:
    assert m.delta_e(np.array([[50.0, 3.0, 4.0]]), np.array([[50.0, 0.0, 0.0]]))[0] == pytest.approx(5.0)
    out = m.ratio(np.array([2.0, 1.0, 1.0]), np.array([1.0, 0.0, np.nan]))
    assert out[0] == 2.0 and np.isnan(out[1:]).all()


def test_retrieval_counts_who_each_face_is_closer_to() -> None:
    src = np.zeros((4, 128)) + np.eye(4, 128) * 0.1
    dst = np.ones((4, 128)) * 0.1
    result = np.vstack([src[:3] + 0.01, dst[:1]])
    r = m.retrieval(result, src, dst)
    assert r.closer_to_src == 0.75 and r.samples == 4 and r.to_src < r.to_dst


def test_flicker_keeps_one_value_per_frame_even_without_skin_points() -> None:
    empty = np.zeros((6, 0))
    assert m.flicker(empty, empty).shape == (6,)
