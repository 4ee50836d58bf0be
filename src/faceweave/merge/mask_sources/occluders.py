"""Mask sources that keep what is in front of dst's face: the occluder segmenter, and hands."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.merge.mask_sources import Mask, MaskInputs
from faceweave.occlusion.segmenter import visible
from faceweave.registries import MASKS

# Per track, a pixel's occlusion moves toward the new frame's by this share when it changed
# little (noise), and jumps to it when it changed a lot (the occluder moved): steady, not late.
FOLLOW = 0.35
JUMP = 0.4


class Steadied:
    """Remembers each track's last occlusion map and steadies the next one against it."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[int, Mask]] = {}

    def steady(self, inputs: MaskInputs, occlusion: Mask) -> Mask:
        before = self.last.get(inputs.track_id)
        if before is not None and before[0] == inputs.frame_index - 1 and before[1].shape == occlusion.shape:
            calm = np.abs(occlusion - before[1]) < JUMP
            occlusion = np.where(calm, before[1] + FOLLOW * (occlusion - before[1]), occlusion).astype(
                np.float32
            )
        self.last[inputs.track_id] = (inputs.frame_index, occlusion)
        return occlusion


def _occlusion_of(inputs: MaskInputs) -> Mask:
    """The segmenter's occlusion map of this face, computed once even when two sources ask for it
    (`occlusion*hands`): the last answer is kept for the face it was computed on."""
    from faceweave.occlusion.segmenter import shipped_segmenter

    key = (inputs.track_id, inputs.frame_index, id(inputs.dst_crop))
    cached = _last_answer.get("occlusion")
    if cached is not None and cached[0] == key:
        return cached[1]
    occlusion = np.asarray(shipped_segmenter().occlusion([inputs.dst_crop])[0], np.float32)
    _last_answer["occlusion"] = (key, occlusion)
    return occlusion


_last_answer: dict[str, tuple[tuple[int, int, int], Mask]] = {}


class Occlusion(Steadied):
    """1 where nothing covers the face, by the shipped occluder segmenter."""

    def __init__(self) -> None:
        from faceweave.occlusion.segmenter import shipped_segmenter

        super().__init__()
        self.segmenter = shipped_segmenter()

    def __call__(self, inputs: MaskInputs) -> Mask:
        return visible(self.steady(inputs, _occlusion_of(inputs)), inputs.size)


class Hands(Steadied):
    """1 where no hand covers the face, by mediapipe's hand landmarker on the dst crop.

    The landmarker costs about 15 ms a face, five times the occluder segmenter, so it runs only
    where the segmenter sees something in front of the face (or a hand was there a frame ago): a
    hand over a face is an occluder first. Bare faces, most of any footage, cost 3 ms.
    """

    SEARCH_PX = 256
    TRIGGER = 0.01  # share of the crop the segmenter must see covered

    def __init__(self) -> None:
        from faceweave.occlusion.hands import HandFinder

        super().__init__()
        self.finder = HandFinder()
        self.seen: dict[int, int] = {}  # track -> last frame with a hand

    def __call__(self, inputs: MaskInputs) -> Mask:
        from faceweave.occlusion.hands import hand_mask

        side = self.SEARCH_PX
        covered = float((_occlusion_of(inputs) >= 0.5).mean())
        recent = self.seen.get(inputs.track_id, -10) >= inputs.frame_index - 1
        if covered < self.TRIGGER and not recent:
            occlusion = np.zeros((side, side), np.float32)
        else:
            crop = cv2.resize(inputs.dst_crop, (side, side), interpolation=cv2.INTER_AREA)
            hands = self.finder.find(np.asarray(crop, np.uint8))
            if hands:
                self.seen[inputs.track_id] = inputs.frame_index
            occlusion = hand_mask(hands, side)
        return visible(self.steady(inputs, occlusion), inputs.size)


def _user(inputs: MaskInputs) -> Mask:
    from faceweave.errors import UserError
    from faceweave.occlusion.labels import read_mask

    mask = read_mask(inputs.face_path, inputs.size) if inputs.face_path is not None else None
    if mask is None:
        where = inputs.face_path or "this face"
        raise UserError(f"{where} has no user mask: run `faceweave mask apply` on its faceset first")
    return mask


MASKS.add(
    "xseg",
    "the mask `faceweave mask apply` wrote for each dst face (taught on your labels, DeepFaceLab's XSeg)",
    _user, __name__, rank=5,
)  # fmt: skip
MASKS.add(
    "occlusion",
    "everything but what covers dst's face (hands, glasses frames, hair, objects), by the occluder "
    "segmenter shipped with faceweave",
    Occlusion, __name__, rank=3,
)  # fmt: skip
MASKS.add(
    "hands",
    "everything but hands, by mediapipe's hand landmarker, where the segmenter sees something in front",
    Hands,
    __name__,
    rank=4,
)
