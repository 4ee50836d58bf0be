"""Alignment math, templates, pose, tracking and smoothing: pure functions, exact expectations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from faceweave.extract.detect import rotate_points_back
from faceweave.extract.pose import CHIN, FOREHEAD, LEFT_EYE_OUTER, RIGHT_EYE_OUTER, head_pose
from faceweave.extract.template import ALIGN_POINTS, ALIGN_TEMPLATE, FACE_TYPES, template_in_crop
from faceweave.extract.tracking import OneEuro, Tracker, iou
from faceweave.extract.transform import frame_to_face
from faceweave.geometry import apply, invert, similarity, umeyama


@pytest.mark.parametrize(("scale", "angle", "tx", "ty"), [(1.0, 0.0, 0.0, 0.0), (2.5, 37.0, 120.0, -40.0),
                                                           (0.3, -170.0, 5.5, 900.25)])  # fmt: skip
def test_umeyama_recovers_a_known_similarity(scale: float, angle: float, tx: float, ty: float) -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 500, (17, 2))
    truth = similarity(scale, angle, tx, ty)
    noisy_dst = apply(truth, src) + rng.normal(0, 0.05, (17, 2))
    estimate = umeyama(src, noisy_dst)
    assert np.abs(apply(estimate, src) - apply(truth, src)).max() < 0.5
    assert np.allclose(umeyama(src, apply(truth, src)), truth, atol=1e-9)


def test_inverse_maps_back_exactly() -> None:
    m = similarity(1.7, 12.0, 30.0, -8.0)
    points = np.array([[0.0, 0.0], [255.0, 255.0], [10.5, 200.25]])
    assert np.allclose(apply(invert(m), apply(m, points)), points, atol=1e-9)


def test_template_is_symmetric_and_face_types_nest() -> None:
    pairs = [(33, 263), (133, 362), (127, 356), (98, 327)]
    for right, left in pairs:
        assert ALIGN_TEMPLATE[right][0] + ALIGN_TEMPLATE[left][0] == pytest.approx(1.0)
        assert ALIGN_TEMPLATE[right][1] == pytest.approx(ALIGN_TEMPLATE[left][1])
    spans = [np.ptp(template_in_crop(name, 256)[:, 0]) for name in ("half", "mid", "full", "whole", "head")]
    assert spans == sorted(spans, reverse=True)  # the more a crop covers, the smaller the face in it
    assert set(FACE_TYPES) == {"half", "mid", "full", "whole", "head"}


def test_frame_to_face_puts_template_points_on_the_template() -> None:
    crop = template_in_crop("full", 256)
    truth = similarity(0.8, -20.0, 300.0, 150.0)  # crop -> frame
    landmarks = np.zeros((478, 3))
    landmarks[list(ALIGN_POINTS), :2] = apply(truth, crop)
    m = frame_to_face(landmarks, "full", 256)
    assert np.allclose(m, invert(truth), atol=1e-9)


def _head(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    """A few 3-D face points rotated by known angles (y down, z into the screen)."""
    points = np.zeros((478, 3))
    points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER] = (-50, 0, 0), (50, 0, 0)
    points[FOREHEAD], points[CHIN] = (0, -80, 0), (0, 90, 0)
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return np.asarray(points @ (rz @ rx @ ry).T, np.float64)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(0, 0, 0), (30, 0, 0), (-25, 0, 0), (0, 20, 0), (0, 0, 15)]
)
def test_head_pose_reads_known_angles(yaw: float, pitch: float, roll: float) -> None:
    pose = head_pose(_head(yaw, pitch, roll))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.5)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_points_found_in_a_rotated_copy_map_back(rotation: int) -> None:
    import cv2

    from faceweave.media.decode import upright

    image = np.zeros((40, 60, 3), np.uint8)
    image[7, 11] = 255
    turned = upright(image, rotation)
    ys, xs = np.nonzero(turned[:, :, 0])
    back = rotate_points_back(np.array([[xs[0], ys[0]]], np.float64), rotation, 60, 40)
    assert back[0].tolist() == [11, 7]
    assert cv2 is not None


def test_tracker_keeps_ids_and_opens_new_tracks() -> None:
    tracker = Tracker(max_gap=2)
    a, b = (0.0, 0.0, 100.0, 100.0), (300.0, 0.0, 400.0, 100.0)
    assert tracker.assign(0, [a, b]) == [0, 1]
    moved_a, moved_b = (10.0, 5.0, 110.0, 105.0), (290.0, 0.0, 390.0, 100.0)
    assert tracker.assign(1, [moved_b, moved_a]) == [1, 0]
    assert tracker.assign(2, [(60.0, 0.0, 160.0, 100.0)]) == [0]  # fast move: centre within half a face
    assert tracker.assign(10, [a]) == [2]  # after a long gap: a new track
    assert iou(a, a) == 1.0 and iou(a, b) == 0.0


def test_one_euro_damps_jitter_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    steady = np.full((100, 1, 2), 50.0) + rng.normal(0, 1.0, (100, 1, 2))
    smooth = OneEuro(0.5)
    out = np.array([smooth(i / 25, steady[i], 200.0) for i in range(100)])
    assert np.abs(np.diff(out[20:], axis=0)).mean() < 0.4 * np.abs(np.diff(steady[20:], axis=0)).mean()
    ramp = np.array([[[i * 8.0, 0.0]] for i in range(50)])  # one face size per second
    follow = OneEuro(0.5)
    out = np.array([follow(i / 25, ramp[i], 200.0) for i in range(50)])
    assert np.abs(out[-1] - ramp[-1]).max() < 12.0  # lags at most a frame and a half
    off = OneEuro(0.0)
    assert np.array_equal(off(0.04, steady[1], 200.0), steady[1])


def test_tracker_relinks_a_returning_face_by_identity() -> None:
    people = {"ann": np.zeros(128), "bob": np.ones(128)}
    tracker = Tracker(max_gap=2)
    left, right = (0.0, 0.0, 100.0, 100.0), (400.0, 0.0, 500.0, 100.0)

    def who(*names: str) -> Callable[[int], npt.NDArray[np.float64]]:
        return lambda i: np.asarray(people[names[i]], np.float64)

    assert tracker.assign(0, [left, right], who("ann", "bob")) == [0, 1]
    assert tracker.assign(1, [], who()) == []
    # both come back after a long gap, on swapped sides: identity, not position, decides
    assert tracker.assign(9, [left, right], who("bob", "ann")) == [1, 0]
    assert tracker.assign(10, [(0.0, 300.0, 100.0, 400.0)], who("ann")) == [0]
    assert Tracker(max_gap=2).assign(0, [left], None) == [0]
