"""The watermark goes where `verify` will find the face: on the merged face, not on dst's."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from faceweave.merge.placement import Follower, MarkPlacer
from faceweave.merge.prepare import Preparer
from faceweave.merge.run import merge_frame, open_merge
from faceweave.provenance.verify import _Faces
from faceweave.provenance.watermark import (
    THRESHOLD,
    Landmarks,
    canonical_gray,
    decide_still,
    still_correlations,
)
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace
from tests.merge.conftest import IdentityModel, exact_config
from tests.merge.test_merge import MARK, at_dst, frames_of


class ReshapedModel(IdentityModel):
    """A swap that moves the features, as a src face of other proportions does: the face comes
    back 8% larger and turned 3 degrees."""

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        faces, mask = super().swap(dst_faces)
        turn, scale = math.radians(3.0), 1 / 1.08
        theta = torch.tensor(
            [
                [scale * math.cos(turn), -scale * math.sin(turn), 0.0],
                [scale * math.sin(turn), scale * math.cos(turn), 0.0],
            ]
        ).expand(len(faces), 2, 3)
        grid = F.affine_grid(theta, list(faces.shape), align_corners=False)
        return F.grid_sample(faces, grid, padding_mode="border", align_corners=False), mask


def still_score_as_read(image: ImageBGR) -> float:
    """The still mark's score of one frame, read the way `verify` reads a video frame."""
    with _Faces() as faces:
        landmarks = faces.landmarks(image)
    assert landmarks is not None
    return decide_still([still_correlations(canonical_gray(image, landmarks))]).score


def test_the_mark_follows_the_swapped_face(dst_workspace: Workspace) -> None:
    config = exact_config()
    inputs = open_merge(config, dst_workspace, model=ReshapedModel())
    face = inputs.faces[len(inputs.faces) // 2]
    frame = frames_of(inputs.source)[face.meta.frame_index]
    prepared = Preparer(inputs.model, config.merge, inputs.device).batch([face])
    with MarkPlacer(1) as place:
        placed, _ = merge_frame(frame, prepared, MARK, 0, place)
    on_dst, _ = merge_frame(frame, prepared, MARK, 0, at_dst)
    found, missed = still_score_as_read(placed), still_score_as_read(on_dst)
    assert found > THRESHOLD
    assert found > missed + 4


def test_a_follower_meshes_every_other_frame_of_a_track_and_carries_its_correction() -> None:
    asked: list[float] = []

    def find(_image: ImageBGR, landmarks: Landmarks) -> Landmarks:
        asked.append(float(landmarks[0, 0]))
        return landmarks if landmarks[0, 0] == 30 else landmarks + 0.5  # no face found at x = 30

    place, image = Follower(find), np.zeros((4, 4, 3), np.uint8)
    at = [np.full((478, 3), float(x)) for x in (0, 1, 2, 30, 31, 32)]
    placed = [place(image, at[k], track) for k, track in ((0, 7), (1, 7), (2, 7), (3, 8), (4, 8), (5, 8))]
    # Track 7: meshed on its 1st and 3rd frames, the 2nd carries the 1st's correction. Track 8:
    # nothing found on its 1st frame, so its 2nd is meshed too, and its 3rd carries that.
    assert asked == [0, 2, 30, 31]
    assert [float(p[0, 0]) for p in placed] == [0.5, 1.5, 2.5, 30, 31.5, 32.5]
