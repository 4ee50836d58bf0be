"""Tracks that hold: a face missed for a few frames is bridged, never across a shot cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.detectors import open_detector
from faceweave.extract.run import FaceAligner, run_extract
from faceweave.extract.tracking import CutDetector
from faceweave.extract.workers import FrameFaces
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.media.synth import ClipSpec
from faceweave.occlusion.clips import write_occluded_clip
from faceweave.pseudovideo import FacePuppet, puppet_frames
from faceweave.records import Frame
from faceweave.workspace import init_workspace


def test_a_face_behind_bars_is_kept_in_every_frame(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws").workspace
    spec = ClipSpec(seconds=4.0, fps=25, width=320, height=240, seed=1, audio=False)
    truth = write_occluded_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, "bars", 5)
    report = run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    assert report.frames == len(truth) and report.faces >= 0.99 * len(truth)
    metas = [read_face_meta(p) for p in list_face_files(ws.dst_aligned)]
    assert len({m.track_id for m in metas}) == 1
    for meta in (m for m in metas if m.bridged):  # a bridged face is where the face is
        span = np.ptp(truth[meta.frame_index].truth.landmarks_xy[:, 0])
        error = np.linalg.norm(
            meta.landmarks_frame_raw[:, :2] - truth[meta.frame_index].truth.landmarks_xy, axis=1
        )
        assert np.median(error) < 0.05 * span


def _frames(face: int, count: int, start: int) -> list[Frame]:
    spec = ClipSpec(seconds=count / 25, fps=25, width=320, height=240, seed=face, audio=False)
    puppet = FacePuppet.from_image(load_sample_face(face))
    return [
        Frame(start + i, (start + i) / 25, image)
        for i, (image, _) in enumerate(puppet_frames(puppet, spec, face))
    ]


def _bridged_after_misses(second_shot: list[Frame]) -> list[int]:
    """Frames 0-4 detected normally, then the detector finds nothing: which frames get a bridged face?"""
    first = _frames(0, 5, 0)
    aligner = FaceAligner(load_config().extract, "clip.mp4", Path("/nonexistent"), video=True)
    detector = open_detector()
    try:
        for frame in first:
            faces = detector.find(frame.image_bgr_u8)
            assert len(faces) == 1
            aligner.align(frame, FrameFaces(frame, faces, [None]))
        got = [meta.frame_index for frame in second_shot
               for _, meta in aligner.align(frame, FrameFaces(frame, [], []))]  # fmt: skip
    finally:
        detector.close()
        aligner.close()
    return got


def test_a_missed_face_is_bridged_for_a_few_frames_but_not_across_a_cut() -> None:
    same_shot = _frames(0, 12, 0)[5:]
    assert _bridged_after_misses(same_shot) == [5, 6, 7, 8, 9]  # at most five frames in a row
    other_shot = _frames(2, 4, 5)  # another person where the face was: a cut, not the same track
    assert _bridged_after_misses(other_shot) == []


def test_cuts_are_found_and_motion_is_not() -> None:
    cuts = CutDetector()
    frames = _frames(0, 10, 0) + _frames(2, 10, 10)
    found = [frame.index for frame in frames if cuts(frame.image_bgr_u8)]
    assert found == [10]
