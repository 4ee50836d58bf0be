"""Occluders: the segmenter finds them, and a merge keeps what covers dst's face in front of the swap."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
import torch

from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files, read_aligned_face, read_face_meta
from faceweave.geometry import compose, invert, resample_matrix
from faceweave.merge.run import run_merge
from faceweave.mesh import FACE_OVAL
from faceweave.models import FaceSwapModel, ModelConfig
from faceweave.occlusion.clips import OccludedFrame
from faceweave.occlusion.hands import hand_mask
from faceweave.occlusion.segmenter import INPUT_PX, shipped_segmenter, visible
from faceweave.occlusion.synth import KINDS, composite
from faceweave.train.data import load_faceset
from faceweave.workspace import Workspace

GREY = 0.5


class GreyModel(FaceSwapModel):
    """Every face swapped for flat grey with a full mask: grey shows what was swapped."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig(resolution=64)
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full_like(dst_faces, GREY), torch.ones_like(dst_faces[:, :1])


def _frames(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)]


def _regions(
    frame: OccludedFrame, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(under the occluder, the visible face), each well inside its border."""
    drawn = np.zeros(shape, np.uint8)
    ring = np.round(frame.truth.landmarks_xy[list(FACE_OVAL)]).astype(np.int32)
    cv2.fillConvexPoly(drawn, cv2.convexHull(ring), (1,))
    hull: npt.NDArray[np.bool_] = np.asarray(cv2.erode(drawn, np.ones((9, 9), np.uint8)) > 0, bool)
    solid = np.asarray(
        cv2.erode((frame.occluder >= 0.9).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0, bool
    )
    near = np.asarray(
        cv2.dilate((frame.occluder > 0.05).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0, bool
    )
    return solid & hull, hull & ~near


def _merge(ws: Workspace, mask: str) -> list[npt.NDArray[np.uint8]]:
    config = load_config(overrides={
        "merge": {"mask": mask, "color": "none", "blur": 0.0, "shading": 0.0, "temporal": 0.0, "workers": 1},
        "video": {"crf": 0, "preset": "ultrafast"},
    })  # fmt: skip
    run_merge(config, ws, GreyModel())
    return _frames(ws.result)


def test_the_occluder_stays_in_front_of_the_swap(occluded: tuple[Workspace, list[OccludedFrame]]) -> None:
    ws, truth = occluded
    dst = _frames(ws.dst_video)
    for mask, keeps in (("learned*dst*occlusion", True), ("learned*dst", False)):
        merged = _merge(ws, mask)
        under_error, visible_grey, counted = [], [], 0
        for frame, before, after in zip(truth, dst, merged, strict=True):
            under, visible = _regions(frame, (before.shape[0], before.shape[1]))
            if under.sum() < 30:
                continue
            counted += 1
            diff = np.abs(after.astype(float) - before.astype(float))
            under_error.append(diff[under].mean())
            visible_grey.append(np.abs(after[visible].astype(float) - GREY * 255).mean())
        assert counted >= 0.8 * len(truth)
        if keeps:
            assert np.median(under_error) <= 4, np.median(under_error)  # dst's hand, not the swap
        else:
            assert np.median(under_error) > 20  # without the occlusion mask the hand is painted over
        assert np.median(visible_grey) < 12  # the visible face was swapped either way


HELD_OUT = Path(__file__).resolve().parents[2] / "tools" / "faces" / "SFHQ_pt1_00002921.jpg"


@pytest.fixture(scope="module")
def unseen_face(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.float32]:
    """An aligned crop of a portrait the segmenter's training held out."""
    ws = Workspace(tmp_path_factory.mktemp("unseen"))
    photos = ws.root / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "0.png"), cv2.imread(str(HELD_OUT)))
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst", photos)
    image = read_aligned_face(list_face_files(ws.dst_aligned)[0])[0]
    return image.astype(np.float32) / 255


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_segmenter_finds_each_kind_of_occluder_on_a_face_it_never_saw(
    kind: str, unseen_face: npt.NDArray[np.float32]
) -> None:
    face = unseen_face
    rng = np.random.default_rng([7, len(kind)])
    inter = union = 0.0
    for _ in range(8):
        occluder = KINDS[kind](rng, 128)
        image = (composite(face, occluder) * 255 + 0.5).astype(np.uint8)
        found = shipped_segmenter().occlusion([image])[0] >= 0.5
        truth = cv2.resize(occluder.alpha, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA) >= 0.5
        inter, union = inter + float((found & truth).sum()), union + float((found | truth).sum())
    assert inter / max(union, 1) >= 0.55, inter / max(union, 1)
    clean = shipped_segmenter().occlusion([(face * 255).astype(np.uint8)])[0]
    assert (clean >= 0.5).mean() < 0.03  # a bare face is not an occluder


def test_a_hand_mask_covers_palm_and_fingers() -> None:
    palm = np.array([[50, 90], [40, 70], [45, 50], [55, 48], [65, 50], [72, 55]], float)
    points = np.zeros((21, 2))
    points[[0, 1, 5, 9, 13, 17]] = palm
    for k, base in enumerate((1, 5, 9, 13, 17)):
        for j in range(1, 4):
            points[base + j] = (
                points[base] + np.array([0, -8.0 * j]) + (np.array([-5.0 * j, 0]) if k == 0 else 0)
            )
    mask = hand_mask([points], 128)
    assert mask[70, 55] > 0.9  # the palm
    assert mask[int(points[8, 1]), int(points[8, 0])] > 0.5  # a fingertip
    assert mask[120, 120] == 0 and mask[5, 5] == 0


def test_training_masks_leave_the_occluder_out(occluded: tuple[Workspace, list[OccludedFrame]]) -> None:
    ws, truth = occluded
    resolution = 64
    plain = load_faceset(ws.dst_aligned, resolution)
    cut = load_faceset(ws.dst_aligned, resolution, occlusion=True)
    inside_plain, inside_cut = [], []
    for k, path in enumerate(list_face_files(ws.dst_aligned)):
        meta = read_face_meta(path)
        to_crop = compose(resample_matrix(meta.size_px, resolution), invert(meta.face_to_frame))
        alpha = cv2.warpAffine(truth[meta.frame_index].occluder, to_crop, (resolution, resolution))
        hand = (alpha >= 0.9) & (plain.masks[k] > 0.9)
        if hand.sum() >= 10:
            inside_plain.append(plain.masks[k][hand].mean())
            inside_cut.append(cut.masks[k][hand].mean())
    assert len(inside_cut) >= 10
    assert np.median(inside_plain) > 0.9 and np.median(inside_cut) < 0.2


def test_occlusion_masks_are_steady_from_frame_to_frame(unseen_face: npt.NDArray[np.float32]) -> None:
    """A still occluder under camera grain: the steadied mask moves far less between frames than the
    segmenter's raw answers do, and a moved occluder is followed at once."""
    from faceweave.merge.mask_sources import MaskInputs
    from faceweave.merge.mask_sources.occluders import Occlusion

    occluder = KINDS["hand"](np.random.default_rng(4), 128)
    rng = np.random.default_rng(5)
    source, raw, steadied = Occlusion(), [], []
    landmarks = np.zeros((478, 2))
    for index in range(12):
        noisy = np.clip(composite(unseen_face, occluder) + rng.normal(0, 0.03, unseen_face.shape), 0, 1)
        image = (noisy * 255 + 0.5).astype(np.uint8)
        raw.append(source.segmenter.occlusion([image])[0])
        steadied.append(
            source(MaskInputs(np.ones((96, 96), np.float32), landmarks, 96, 128, image, 0, index))
        )
    unsteady = [visible(p, 96) for p in raw]  # the same mask without the steadying
    raw_change = np.mean([np.abs(a - b).mean() for a, b in zip(unsteady[2:], unsteady[1:-1], strict=True)])
    steady_change = np.mean([np.abs(a - b).mean() for a, b in zip(steadied[2:], steadied[1:-1], strict=True)])
    assert steady_change < 0.6 * raw_change, (steady_change, raw_change)
    moved = KINDS["bars"](np.random.default_rng(6), 128)
    image = (composite(unseen_face, moved) * 255 + 0.5).astype(np.uint8)
    after = source(MaskInputs(np.ones((96, 96), np.float32), landmarks, 96, 128, image, 0, 12))
    truth = cv2.resize(moved.alpha, (96, 96)) >= 0.9
    assert after[truth].mean() < 0.3  # the new occluder is hidden in the very frame it appears
