"""One pass over dst, the result and the codec floor together: every dst face found, tracked,
meshed in all three pictures and measured. The side-effecting half of `faceweave eval`.

dst's faces are found by the same detector as extraction; the result's and the floor's meshes are
then taken in dst's box, with one tracking mesher per picture and track, so all three are read
the same way and their differences are the swap's, not the measuring's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from faceweave.detectors import open_detector
from faceweave.extract.detect import FaceMesher, native_stderr_silenced
from faceweave.extract.identity import FaceDescriber
from faceweave.extract.tracking import Tracker
from faceweave.quality.features import STABLE_POINTS, Features, expression_points, features
from faceweave.quality.pixels import (
    FaceRegions,
    PixelStats,
    face_difference,
    face_regions,
    measure,
    skin_points,
    untouched_error,
    untouched_mask,
)
from faceweave.records import Frame, ImageBGR, image_hw

Points = npt.NDArray[np.float64]
STREAMS = ("dst", "result", "floor")


@dataclass(frozen=True)
class Reading:
    """One picture's face (dst, result or floor), read in dst's regions."""

    features: Features | None  # None when the mesh found no face there
    expression: Points | None  # (k, 2) face-frame expression points
    stable: Points | None  # (17, 2) frame pixels
    pixels: PixelStats


@dataclass(frozen=True)
class FaceObservation:
    frame_index: int
    track: int
    iod_px: float
    box_xyxy: tuple[int, int, int, int]
    skin: npt.NDArray[np.bool_]  # (478,) dst mesh points on skin
    dst: Reading
    result: Reading
    floor: Reading
    result_difference: float  # mean |result - dst| in the hull, 8-bit levels
    floor_difference: float
    identity: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None  # (result, dst)


@dataclass
class Observations:
    frames: int = 0
    width: int = 0
    height: int = 0
    faces: list[FaceObservation] = field(default_factory=list)
    untouched: dict[str, list[float]] = field(
        default_factory=lambda: {"result": [0.0, 0.0], "floor": [0.0, 0.0]}
    )


def _read(
    mesher: FaceMesher, image: ImageBGR, box: tuple[float, float, float, float], regions: FaceRegions
) -> tuple[Reading, Points | None]:
    landmarks = mesher.in_box(image, box)
    pixels = measure(regions, image)
    if landmarks is None:
        return Reading(None, None, None, pixels), None
    stable = landmarks[list(STABLE_POINTS), :2]
    return Reading(features(landmarks), expression_points(landmarks), stable, pixels), landmarks


class Observer:
    """Finds, tracks and measures faces frame by frame; holds the mediapipe graphs (close it)."""

    def __init__(self, identity_every: int, say_progress: Callable[[], None] = lambda: None) -> None:
        self.finder = open_detector()
        self.tracker = Tracker()
        self.meshers: dict[tuple[str, int], FaceMesher] = {}
        self.describer = FaceDescriber()
        self.identity_every = max(identity_every, 1)
        self.tick = say_progress
        self.out = Observations()
        self.seen: dict[int, int] = {}  # faces observed per track
        self.last_frame: dict[int, int] = {}

    def close(self) -> None:
        self.finder.close()
        for mesher in self.meshers.values():
            mesher.close()

    def _close_gone(self, index: int, tracks: list[int]) -> None:
        """Close the meshers of tracks the tracker has given up on (long footage makes many)."""
        for track in tracks:
            self.last_frame[track] = index
        for track, last in list(self.last_frame.items()):
            if index - last > self.tracker.max_gap:
                for stream in STREAMS:
                    mesher = self.meshers.pop((stream, track), None)
                    if mesher is not None:
                        mesher.close()
                del self.last_frame[track]

    def _mesher(self, stream: str, track: int) -> FaceMesher:
        key = (stream, track)
        if key not in self.meshers:
            self.meshers[key] = FaceMesher(tracking=True)
        return self.meshers[key]

    def frame(self, dst: Frame, result: ImageBGR, floor: ImageBGR) -> None:
        """Measure one frame triple."""
        image = dst.image_bgr_u8
        self.out.frames += 1
        self.out.height, self.out.width = image.shape[:2]
        faces = self.finder.find(image)
        tracks = self.tracker.assign(dst.index, [f.bbox_xyxy for f in faces])
        self._close_gone(dst.index, tracks)
        dst_meshes = []
        with native_stderr_silenced():
            for face, track in zip(faces, tracks, strict=True):
                observed = self._face(
                    dst.index, track, face.bbox_xyxy, face.landmarks_478, image, result, floor
                )
                self.out.faces.append(observed[0])
                dst_meshes.append(observed[1])
        outside = untouched_mask(image_hw(image), dst_meshes)
        for name, picture in (("result", result), ("floor", floor)):
            sse, count = untouched_error(image, picture, outside)
            self.out.untouched[name][0] += sse
            self.out.untouched[name][1] += count
        self.tick()

    def _face(
        self,
        index: int,
        track: int,
        box: tuple[float, float, float, float],
        found: Points,
        image: ImageBGR,
        result: ImageBGR,
        floor: ImageBGR,
    ) -> tuple[FaceObservation, Points]:
        regions = face_regions(found, image_hw(image))
        dst_reading, dst_landmarks = _read(self._mesher("dst", track), image, box, regions)
        if dst_landmarks is None:  # the tracking mesh lost it: the detector's own mesh stands in
            dst_landmarks = found
            dst_reading = Reading(
                features(found), expression_points(found), found[list(STABLE_POINTS), :2], dst_reading.pixels
            )
        result_reading, result_landmarks = _read(self._mesher("result", track), result, box, regions)
        floor_reading, _ = _read(self._mesher("floor", track), floor, box, regions)
        identity = None
        seen = self.seen.get(track, 0)
        self.seen[track] = seen + 1
        if seen % self.identity_every == 0:  # per track, from its first face: short tracks count too
            identity = (
                self.describer.describe(
                    result, result_landmarks if result_landmarks is not None else dst_landmarks
                ),
                self.describer.describe(image, dst_landmarks),
            )
        observation = FaceObservation(
            frame_index=index,
            track=track,
            iod_px=regions.iod_px,
            box_xyxy=(regions.x0, regions.y0, regions.x1, regions.y1),
            skin=skin_points(regions),
            dst=dst_reading,
            result=result_reading,
            floor=floor_reading,
            result_difference=face_difference(regions, result, image),
            floor_difference=face_difference(regions, floor, image),
            identity=identity,
        )
        return observation, dst_landmarks


def zip_frames(*sources: Iterator[Frame]) -> Iterator[tuple[Frame, ...]]:
    """Frames of several sources in step; the caller checked that their counts agree."""
    yield from zip(*sources, strict=False)
