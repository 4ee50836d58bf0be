"""Pixel measures and expression features on a real synthetic face, against known changes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceweave.assets import load_sample_face
from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.pseudovideo import Expression, FacePuppet
from faceweave.quality.anchors import identity_distances, paste_still
from faceweave.quality.features import features
from faceweave.quality.metrics import seam_ratio
from faceweave.quality.pixels import face_regions, measure, psnr, untouched_error, untouched_mask
from faceweave.records import ImageBGR, image_hw
from tests.quality.conftest import MeshedFace


def lab_shift(image: ImageBGR, shift: tuple[float, float, float]) -> ImageBGR:
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_BGR2Lab) + np.array(shift, np.float32)
    back = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255
    return np.asarray(np.clip(np.round(back), 0, 255), np.uint8)


@pytest.mark.parametrize("shift", [(3.0, 0.0, 0.0), (0.0, 4.0, 0.0), (2.0, -2.0, 3.0)])
def test_a_shifted_colour_gives_the_delta_e_put_in(
    meshed_face: MeshedFace, shift: tuple[float, float, float]
) -> None:
    regions = face_regions(meshed_face.landmarks, image_hw(meshed_face.image))
    before = measure(regions, meshed_face.image).skin_lab
    after = measure(regions, lab_shift(meshed_face.image, shift)).skin_lab
    assert np.linalg.norm(after - before) == pytest.approx(np.linalg.norm(shift), abs=0.35)


def test_a_hard_edged_paste_has_a_stronger_seam_than_a_feathered_one(meshed_face: MeshedFace) -> None:
    image, landmarks = meshed_face.image, meshed_face.landmarks
    regions = face_regions(landmarks, image_hw(image))
    other = lab_shift(image, (12.0, 8.0, 0.0))  # the "swapped" face: same shape, other colour
    hull = np.zeros(image.shape[:2], np.float32)
    from faceweave.mesh import FACE_OVAL

    cv2.fillConvexPoly(
        hull, cv2.convexHull(np.round(landmarks[list(FACE_OVAL), :2]).astype(np.int32)), (1.0,)
    )
    hard = hull[..., None]
    soft = cv2.GaussianBlur(cv2.erode(hull, np.ones((3, 3), np.uint8), iterations=12), (0, 0), 10)[..., None]
    pasted_hard = np.asarray(image * (1 - hard) + other * hard, np.uint8)
    pasted_soft = np.asarray(image * (1 - soft) + other * soft, np.uint8)
    dst_seam = measure(regions, image).seam_gradient[None]
    hard_seam = seam_ratio(measure(regions, pasted_hard).seam_gradient[None], dst_seam)[0]
    soft_seam = seam_ratio(measure(regions, pasted_soft).seam_gradient[None], dst_seam)[0]
    same = seam_ratio(measure(regions, image).seam_gradient[None], dst_seam)[0]
    assert same == pytest.approx(1.0)
    assert hard_seam > 1.5 and hard_seam > soft_seam + 0.2


def test_a_blurred_face_is_less_sharp(meshed_face: MeshedFace) -> None:
    regions = face_regions(meshed_face.landmarks, image_hw(meshed_face.image))
    sharp = measure(regions, meshed_face.image).detail
    soft = measure(regions, np.asarray(cv2.GaussianBlur(meshed_face.image, (0, 0), 2.5), np.uint8)).detail
    assert soft / sharp < 0.5


def test_untouched_psnr_sees_the_background_not_the_face(meshed_face: MeshedFace) -> None:
    image, landmarks = meshed_face.image, meshed_face.landmarks
    in_face = image.copy()
    x, y = np.round(landmarks[1, :2]).astype(int)  # the nose tip
    in_face[y - 10 : y + 10, x - 10 : x + 10] = 0
    corner = image.copy()
    corner[:20, :20] = 255 - corner[:20, :20]
    outside = untouched_mask(image_hw(image), [landmarks])
    assert psnr(*untouched_error(image, in_face, outside)) == float("inf")
    assert psnr(*untouched_error(image, corner, outside)) < 40


def test_features_follow_each_expression_of_the_puppet() -> None:
    puppet = FacePuppet.from_image(load_sample_face(2))
    finder = MediapipeFaceFinder()
    try:

        def read(expression: Expression) -> dict[str, float]:
            found = finder.find(puppet.render(expression))
            f = features(found[0].landmarks_478)
            return {"mouth": f.mouth_open, "eyes": f.eye_open, "smile": f.smile, "brow": f.brow_raise}

        rest = read(Expression(0.0, 0.0))
        assert read(Expression(1.0, 0.0))["mouth"] > rest["mouth"] + 0.1
        assert read(Expression(0.0, 0.6))["eyes"] < rest["eyes"] - 0.05
        assert read(Expression(0.0, 0.0, smile=1.0))["smile"] > rest["smile"] + 0.03
        assert read(Expression(0.0, 0.0, brow_raise=1.0))["brow"] > rest["brow"] + 0.03
    finally:
        finder.close()


def test_paste_still_puts_the_face_where_dst_is(meshed_face: MeshedFace) -> None:
    src = load_sample_face(0)
    finder = MediapipeFaceFinder()
    try:
        src_marks = finder.find(src)[0].landmarks_478
        pasted = paste_still(src, src_marks, meshed_face.image, meshed_face.landmarks)
        found = finder.find(pasted)
    finally:
        finder.close()
    nose_shift = np.linalg.norm(found[0].landmarks_478[1, :2] - meshed_face.landmarks[1, :2])
    assert nose_shift < 8


def test_same_person_distances_fall_under_dlibs_threshold_and_different_people_above() -> None:
    same, other = identity_distances([load_sample_face(i) for i in range(4)])
    assert len(same) >= 4 * 8 and len(other) >= 6 * 16
    assert max(same) < 0.6 < float(np.mean(other))
    assert float(np.mean(same)) < 0.45 and float(np.percentile(other, 10)) > 0.6
