"""Expression augmentation and balanced sampling, on real faces and meshes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from faceweave.assets import load_sample_face
from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.mesh import CHIN_POINT, IRISES, LIDS
from faceweave.quality.features import features
from faceweave.records import ImageBGR
from faceweave.train.data import balanced_indices, load_faceset, make_batch
from faceweave.train.expressions import (
    EXPRESSIONS,
    IRIS_POINTS,
    Expressed,
    ExpressionAmounts,
    displacement,
    express,
    random_amounts,
)
from faceweave.train.stream import StreamSettings, batch_for
from faceweave.workspace import Workspace


@pytest.fixture(scope="module")
def finder() -> Iterator[MediapipeFaceFinder]:
    found = MediapipeFaceFinder()
    yield found
    found.close()


def _mesh(finder: MediapipeFaceFinder, image: ImageBGR) -> npt.NDArray[np.float64]:
    faces = finder.find(image)
    assert faces, "the detector lost the face"
    return np.asarray(faces[0].landmarks_478, np.float64)


@pytest.fixture(scope="module")
def portrait(finder: MediapipeFaceFinder) -> tuple[ImageBGR, npt.NDArray[np.float64]]:
    face = load_sample_face(2)
    return face, _mesh(finder, face)


def test_no_amount_moves_nothing(portrait: tuple[ImageBGR, npt.NDArray[np.float64]]) -> None:
    face, mesh = portrait
    assert np.abs(displacement(mesh[:, :2], ExpressionAmounts())).max() == 0
    same = express(face, mesh[:, :2], ExpressionAmounts())
    assert np.abs(same.face.astype(int) - face.astype(int)).mean() < 1.0  # resampling only


def test_each_expression_moves_its_own_points(portrait: tuple[ImageBGR, npt.NDArray[np.float64]]) -> None:
    _, mesh = portrait
    p = mesh[:, :2]
    jaw = displacement(p, ExpressionAmounts(jaw=1.0))
    assert jaw[CHIN_POINT, 1] > 10 and np.abs(jaw[list(LIDS[0][0])]).max() == 0  # chin drops, eyes stay
    closed = p + displacement(p, ExpressionAmounts(close_eyes=1.0))
    upper, lower = LIDS[0]
    opening = float(np.abs(p[list(upper)] - p[list(lower)]).max())
    assert np.abs(closed[list(upper)] - closed[list(lower)]).max() < 0.05 * opening
    assert np.abs(closed[IRIS_POINTS] - p[IRIS_POINTS]).max() == 0  # a blink covers the eye, not moves it
    brow = displacement(p, ExpressionAmounts(brow=1.0))
    assert brow[105, 1] < -3 and abs(brow[CHIN_POINT, 1]) < 1e-6


@pytest.mark.parametrize(
    ("amounts", "measure", "direction"),
    [
        (ExpressionAmounts(jaw=0.8), "mouth_open", 1),
        (ExpressionAmounts(close_eyes=0.7), "eye_open", -1),
        (ExpressionAmounts(smile=1.0), "smile", 1),
        (ExpressionAmounts(brow=1.0), "brow_raise", 1),
    ],
)
def test_a_detector_reads_the_expression_off_the_warped_face(
    finder: MediapipeFaceFinder,
    portrait: tuple[ImageBGR, npt.NDArray[np.float64]],
    amounts: ExpressionAmounts,
    measure: str,
    direction: int,
) -> None:
    """Not our own numbers: mediapipe, run afresh on the warped picture, sees the expression."""
    face, mesh = portrait
    before = getattr(features(mesh), measure)
    after = getattr(features(_mesh(finder, express(face, mesh[:, :2], amounts).face)), measure)
    assert (after - before) * direction > 0.04, (before, after)


def _painted_eyes(mesh: npt.NDArray[np.float64], shape: tuple[int, ...]) -> ImageBGR:
    """A skin-coloured picture with the portrait's eye openings painted blue, and red irises."""
    picture = np.full((*shape[:2], 3), (120, 150, 200), np.uint8)
    for (upper, lower), iris in zip(LIDS, IRISES, strict=True):
        opening, disk = np.zeros(shape[:2], np.uint8), np.zeros(shape[:2], np.uint8)
        ring = np.vstack([mesh[list(upper)], mesh[list(lower[::-1])]])
        cv2.fillPoly(opening, [np.round(ring).astype(np.int32)], (1,))
        radius = float(np.linalg.norm(mesh[list(iris[1:])] - mesh[iris[0]], axis=1).mean())
        cv2.circle(disk, tuple(int(c) for c in np.round(mesh[iris[0]])), round(radius), (1,), -1)
        picture[opening > 0] = (255, 0, 0)
        picture[(opening > 0) & (disk > 0)] = (0, 0, 255)
    return picture


def test_a_closing_lid_covers_the_eye_and_does_not_squeeze_it(
    portrait: tuple[ImageBGR, npt.NDArray[np.float64]],
) -> None:
    face, mesh = portrait
    painted = _painted_eyes(mesh[:, :2], face.shape)
    eye = painted[..., 1] < 60
    half = express(painted, mesh[:, :2], ExpressionAmounts(close_eyes=0.5)).face
    closed = express(painted, mesh[:, :2], ExpressionAmounts(close_eyes=1.0)).face
    shown = cv2.erode((half[..., 1] < 60).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert 0.3 < shown.sum() / eye.sum() < 0.7  # about half the eye still shows...
    assert np.array_equal(half[shown], painted[shown])  # ...exactly where it was, iris not squeezed
    assert (closed[..., 1] < 60).sum() < 0.25 * eye.sum()  # closed: lid skin over the eye


def test_an_opened_mouth_is_painted_dark_and_weighted_low(facesets: Workspace) -> None:
    faceset = load_faceset(facesets.src_aligned, 64)
    rng = np.random.default_rng(0)
    plain = make_batch(faceset, np.arange(4), np.random.default_rng(0), warp=False)
    opened = make_batch(faceset, np.arange(4), rng, warp=False, expression_share=1.0)
    assert not np.allclose(plain.targets.numpy(), opened.targets.numpy())
    assert np.array_equal(opened.inputs.numpy(), opened.targets.numpy())  # input and target alike
    ratio = opened.weights / opened.masks.clamp(min=1e-6)
    assert float(ratio[opened.masks > 0.99].min()) < 0.3  # a painted cavity somewhere in the batch


def test_rare_expressions_are_drawn_as_often_as_common_ones() -> None:
    mouth = np.r_[np.zeros(95), np.ones(5)].astype(np.float32)
    picks = balanced_indices([(mouth, 3)], 4000, np.random.default_rng(1))
    assert 0.45 < float(np.mean(picks >= 95)) < 0.55


def test_only_the_chosen_expressions_are_drawn() -> None:
    rng = np.random.default_rng(3)
    drawn = [random_amounts(rng, ("brow",)) for _ in range(200)]
    assert all(a.jaw == a.smile == a.close_eyes == 0 and 0.15 <= a.brow <= 1 for a in drawn)
    mixed = [random_amounts(rng) for _ in range(400)]
    assert all(0.3 < np.mean([getattr(a, k) > 0 for a in mixed]) < 0.7 for k in EXPRESSIONS)


def test_dst_samples_get_brow_raises_only(facesets: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceweave.train.data as data_module

    src = load_faceset(facesets.src_aligned, 64)
    dst = load_faceset(facesets.dst_aligned, 64)
    seen: list[ExpressionAmounts] = []

    def recording(face: ImageBGR, points: npt.NDArray[np.float64], amounts: ExpressionAmounts) -> Expressed:
        seen.append(amounts)
        return express(face, points, amounts)

    monkeypatch.setattr(data_module, "express", recording)
    settings = StreamSettings(8, seed=0, warp=False, uniform_yaw=False, eyes_mouth_weight=1.0)
    batch_for(5, src, dst, replace(settings, brow_aug_dst=1.0))
    assert len(seen) == 8 and all(a.brow > 0 and a.jaw == a.smile == a.close_eyes == 0 for a in seen)
    seen.clear()
    batch_for(5, src, dst, replace(settings, expression_aug=1.0))  # src's shapes; dst untouched
    assert len(seen) == 8 and any(a.jaw or a.smile or a.close_eyes for a in seen)
