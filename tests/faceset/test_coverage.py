"""Coverage: what dst does that src never shows, on constructed measures and on real facesets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.faceset.coverage import Side, coverage, frame_ranges, run_coverage
from faceweave.formats.aligned import Pose, list_face_files, read_face_meta
from faceweave.workspace import Workspace
from tests.faceset.conftest import add_variant


def _side(expression: npt.NDArray[np.float64], yaw: npt.NDArray[np.float64] | None = None,
          pitch: npt.NDArray[np.float64] | None = None) -> Side:  # fmt: skip
    n = len(expression)
    zeros = np.zeros(n)
    return Side(zeros if yaw is None else yaw, zeros if pitch is None else pitch, expression,
                np.arange(n, dtype=np.int64))  # fmt: skip


def _calm(n: int = 200) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(0)
    return np.column_stack(
        [rng.uniform(0, 0.1, n), rng.uniform(0.25, 0.3, n), np.full(n, 1.5), np.full(n, 0.9)]
    )


def test_coverage_names_what_src_lacks_and_the_frames() -> None:
    calm = _calm()
    wide = calm.copy()
    wide[40:100, 0] = 0.5  # dst opens its mouth wide in 30% of its faces: frames 40-99
    result = coverage(_side(calm), _side(wide))
    assert [g.measure for g in result.gaps] == ["mouth_open"]
    gap = result.gaps[0]
    assert "30%" in gap.sentence and "keep_mouth" in gap.sentence
    assert gap.frames == tuple(range(40, 100)) and "dst frames 40-99" in result.lines()[0]
    unaided = coverage(_side(calm), _side(wide), augmenting=False)
    assert "expression_aug is 0" in unaided.gaps[0].sentence
    assert coverage(_side(calm), _side(calm)).gaps == []
    other_person = calm + np.array([0.15, -0.05, 0.3, 0.2])  # lips apart at rest, a wider mouth
    assert coverage(_side(calm), _side(other_person)).gaps == []


def test_a_pose_band_src_lacks_is_flagged() -> None:
    rng = np.random.default_rng(1)
    calm = _calm()
    src = _side(calm, yaw=rng.uniform(-10, 10, 200), pitch=rng.uniform(-5, 5, 200))
    dst_yaw = rng.uniform(-10, 10, 200)
    dst_yaw[150:] = rng.uniform(30, 40, 50)  # dst turns further than src in its last quarter
    result = coverage(src, _side(calm, yaw=dst_yaw, pitch=rng.uniform(-5, 5, 200)), pose_deg=10)
    (gap,) = result.gaps
    assert gap.measure == "pose" and gap.frames == tuple(range(150, 200))
    assert "25%" in gap.sentence and "yaw +30..+40 deg" in gap.sentence
    near = dst_yaw.copy()
    near[150:] = 18.0  # within 10 degrees of src's reach: covered
    assert coverage(src, _side(calm, yaw=near, pitch=np.zeros(200)), pose_deg=10).gaps == []


def test_frame_ranges() -> None:
    assert frame_ranges([3, 4, 5, 9, 11, 12]) == "3-5, 9, 11-12"
    assert frame_ranges(list(range(0, 100, 2)), limit=3) == "0, 2, 4, ..."


def test_coverage_of_real_facesets_writes_picture_and_json(people: Workspace, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    faces = list_face_files(people.src_aligned)
    for k, face in enumerate(faces):
        pose = read_face_meta(face).pose
        turned = Pose(pose.yaw + 35, pose.pitch, pose.roll) if k >= 15 else pose
        add_variant(dst, face, k, pose=turned)
    result = run_coverage(people.src_aligned, dst, 10.0, tmp_path / "out")
    assert [g.measure for g in result.gaps] == ["pose"]
    assert result.gaps[0].frames == tuple(range(15, len(faces)))
    document = json.loads((tmp_path / "out" / "coverage.json").read_text())
    assert document["uncovered_frames"] == list(range(15, len(faces)))
    picture = cv2.imread(str(tmp_path / "out" / "coverage.png"))
    assert picture is not None and picture.shape[1] >= 1000
