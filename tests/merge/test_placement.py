"""The watermark goes where `verify` will find the face: on the merged face, not on dst's."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from faceweave.merge.placement import MarkPlacer
from faceweave.merge.prepare import Preparer
from faceweave.merge.run import merge_frame, open_merge
from faceweave.provenance.verify import _Faces
from faceweave.provenance.watermark import THRESHOLD, canonical_gray, decide_still, still_correlations
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
        placed, _ = merge_frame(frame, prepared, "overlay", MARK, 0, place)
    on_dst, _ = merge_frame(frame, prepared, "overlay", MARK, 0, at_dst)
    found, missed = still_score_as_read(placed), still_score_as_read(on_dst)
    assert found > THRESHOLD
    assert found > missed + 4
