"""Extraction on pseudo-videos with known landmarks: detection, alignment, metadata, tracks."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

from faceweave.assets import sample_face_path
from faceweave.cli.main import cli
from faceweave.errors import UserError
from faceweave.extract.run import run_extract
from faceweave.extract.template import ALIGN_POINTS
from faceweave.formats.aligned import list_face_files, read_aligned_face, read_face_meta
from faceweave.geometry import apply
from faceweave.media import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec, write_pattern_clip
from faceweave.pseudovideo import FacePuppet, scene_frames
from tests.extract.conftest import Clip, extract_config, workspace

STABLE = list(ALIGN_POINTS)


def test_faces_found_landmarks_true_and_alignment_steady(face_clip: Clip, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    report = run_extract(extract_config(smoothing=0.0), ws, "dst", source=face_clip.path)
    assert report.faces >= 0.95 * len(face_clip.truth) and report.tracks == 1
    metas = [read_face_meta(p) for p in list_face_files(ws.dst_aligned)]
    errors, crop_points = [], []
    for meta in metas:
        truth = face_clip.truth[meta.frame_index][0].landmarks_xy
        errors.append(np.linalg.norm(meta.landmarks_frame[STABLE, :2] - truth[STABLE], axis=1).mean())
        crop_points.append(meta.landmarks_crop[STABLE])
        # face_to_frame takes the crop landmarks back onto the frame landmarks
        back = apply(meta.face_to_frame, meta.landmarks_crop)
        assert np.abs(back - meta.landmarks_frame[:, :2]).max() < 0.5
    face_px = np.ptp(face_clip.truth[0][0].landmarks_xy[:, 0])
    assert np.median(errors) < 0.03 * face_px  # mesh vs truth, on a face about 200 px wide
    spread = np.linalg.norm(np.array(crop_points) - np.median(crop_points, axis=0), axis=2)
    assert np.median(spread) < 1.5  # px in a 128 px crop, across moving, talking frames
    # the mesh follows the mouth as it opens and closes (expressions are what a swap must keep)
    gap = [m.landmarks_frame[14, 1] - m.landmarks_frame[13, 1] for m in metas]
    true_gap = [face_clip.truth[m.frame_index][0].landmarks_xy[14, 1]
                - face_clip.truth[m.frame_index][0].landmarks_xy[13, 1] for m in metas]  # fmt: skip
    assert np.ptp(true_gap) > 10 and np.corrcoef(gap, true_gap)[0, 1] > 0.9


def test_metadata_describes_the_face(face_clip: Clip, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    run_extract(extract_config(face_type="whole", format="jpg"), ws, "dst", source=face_clip.path)
    path = list_face_files(ws.dst_aligned)[5]
    image, meta = read_aligned_face(path)
    assert path.name == f"{meta.frame_index:06d}_0.jpg" and image.shape == (128, 128, 3)
    assert meta.face_type == "whole" and meta.size_px == 128 and meta.source == "face.mp4"
    assert meta.pts_s == pytest.approx(meta.frame_index / 25, abs=1e-3)
    assert (meta.frame_width, meta.frame_height) == (480, 360) and 0.5 <= meta.score <= 1.0
    assert meta.smoothing == "one-euro" and not np.array_equal(meta.landmarks_frame, meta.landmarks_frame_raw)
    assert abs(meta.pose.yaw) < 30 and abs(meta.pose.roll) < 15


def test_smoothing_lowers_landmark_jitter(face_clip: Clip, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    run_extract(extract_config(smoothing=0.8), ws, "dst", source=face_clip.path)
    metas = [read_face_meta(p) for p in list_face_files(ws.dst_aligned)]
    truth = np.array([face_clip.truth[m.frame_index][0].landmarks_xy[STABLE] for m in metas])

    def jitter(points: npt.NDArray[np.float64]) -> float:
        # frame-to-frame change not explained by the true motion
        return float(np.abs(np.diff(points - truth, axis=0)).mean())

    raw = np.array([m.landmarks_frame_raw[STABLE, :2] for m in metas])
    smooth = np.array([m.landmarks_frame[STABLE, :2] for m in metas])
    assert jitter(smooth) < 0.7 * jitter(raw)


def test_two_faces_two_files_two_steady_tracks(two_face_clip: Clip, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    report = run_extract(extract_config(), ws, "dst", source=two_face_clip.path)
    assert report.tracks == 2 and report.faces >= 0.95 * 2 * len(two_face_clip.truth)
    sides: dict[int, set[bool]] = {}
    for meta in map(read_face_meta, list_face_files(ws.dst_aligned)):
        sides.setdefault(meta.track_id, set()).add(meta.bbox_xyxy[0] > 320)
    assert sorted(map(sorted, sides.values())) == [[False], [True]]  # each track stays on its side


def test_reference_keeps_the_right_person(two_face_clip: Clip, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    report = run_extract(extract_config(), ws, "dst", source=two_face_clip.path,
                         references=[sample_face_path(1)])  # fmt: skip
    metas = [read_face_meta(p) for p in list_face_files(ws.dst_aligned)]
    assert metas and all(m.bbox_xyxy[0] > 320 for m in metas)  # face 1 is in the right column
    assert report.dropped_by_identity >= 0.95 * len(two_face_clip.truth)
    assert all(m.identity_distance is not None and m.identity_distance < 0.6 for m in metas)


def test_rotated_face_needs_the_rotation_option(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    face = cv2.imread(str(sample_face_path(0)))
    cv2.imwrite(str(photos / "1.jpg"), cv2.rotate(face, cv2.ROTATE_90_CLOCKWISE))
    (photos / "2.jpg").write_bytes(b"broken")
    ws = workspace(tmp_path)
    with pytest.raises(UserError, match="no face found"):
        run_extract(extract_config(), ws, "src", source=photos)
    report = run_extract(extract_config(try_rotations=True), ws, "src", source=photos, overwrite=True)
    assert report.faces == 1 and report.skipped_frames == 1
    meta = read_face_meta(list_face_files(ws.src_aligned)[0])
    assert meta.found_rotation_deg == 90
    # the landmarks are in the original (rotated) photo: eyes side by side vertically now
    assert abs(meta.landmarks_frame[33, 0] - meta.landmarks_frame[263, 0]) < abs(
        meta.landmarks_frame[33, 1] - meta.landmarks_frame[263, 1])  # fmt: skip


def test_workers_give_the_same_output_as_a_serial_run(two_face_clip: Clip, tmp_path: Path) -> None:
    outputs = []
    for workers in (1, 2):
        ws = workspace(tmp_path / f"w{workers}")
        run_extract(extract_config(workers=workers), ws, "dst", source=two_face_clip.path)
        outputs.append({p.name: p.read_bytes() for p in list_face_files(ws.dst_aligned)})
    assert outputs[0] == outputs[1]


def test_cli_extract_info_debug_and_bad_inputs(face_clip: Clip, tmp_path: Path, media_dir: Path) -> None:
    ws = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(ws)]).exit_code == 0
    (ws / "data_dst.mp4").write_bytes(face_clip.path.read_bytes())
    args = ["extract", "dst", "-w", str(ws), "--size", "96", "--workers", "1"]
    result = runner.invoke(cli, [*args, "--debug"])
    assert result.exit_code == 0, result.output
    assert len(list((ws / "data_dst" / "debug").iterdir())) == len(face_clip.truth)
    count = len(list_face_files(ws / "data_dst" / "aligned"))
    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0
    assert len(list_face_files(ws / "data_dst" / "aligned")) == count  # no duplicates
    info = runner.invoke(cli, ["faceset", "info", str(ws / "data_dst" / "aligned")])
    assert info.exit_code == 0 and f"{count} faces" in info.output and "96px" in info.output
    assert "without a face: 0" in info.output
    no_face = media_dir / "no_face.mp4"
    write_pattern_clip(no_face, ClipSpec(seconds=0.4, audio=False))
    result = runner.invoke(cli, ["extract", "src", "-w", str(ws), "--input", str(no_face), "--workers", "1"])
    assert result.exit_code == 2 and "no face found" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, [*args, "--overwrite", "--size", "2000"])
    assert result.exit_code == 2 and "extract.size_px = 2000 is out of range" in result.output


def test_a_face_that_leaves_and_returns_keeps_its_track(puppets: list[FacePuppet], tmp_path: Path) -> None:
    """Face 1 on the left, then 30 empty frames, then face 1 on the right: one track, by identity."""
    clip = tmp_path / "return.mp4"
    spec = ClipSpec(seconds=2.4, fps=25, width=640, height=360, audio=False)
    frames = [frame for frame, _ in scene_frames([puppets[0], puppets[1]], spec)]
    empty = np.full_like(frames[0], 90)
    with VideoWriter(clip, fps=Fraction(25), settings=EncodeSettings(preset="ultrafast")) as writer:
        for i, frame in enumerate(frames):
            picture = empty.copy()
            if i < 15:
                picture[:, :320] = frame[:, 320:]  # face 1 moved into the left half
            elif i >= 45:
                picture[:, 320:] = frame[:, 320:]
            writer.write(picture)
        writer.close()
    for identity, expected in ((True, 1), (False, 2)):
        ws = workspace(tmp_path / str(identity))
        report = run_extract(extract_config(track_identity=identity), ws, "dst", source=clip)
        assert report.frames_without_faces == list(range(15, 45))
        assert report.tracks == expected


def _faceset_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_overwrite_replaces_the_faceset_only_when_the_new_one_is_complete(
    face_clip: Clip, tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(tmp_path)
    run_extract(extract_config(), ws, "dst", source=face_clip.path)
    (ws.dst_aligned / "notes.txt").write_text("my notes")
    before, summary = _faceset_bytes(ws.dst_aligned), (ws.dst_aligned.parent / "extract.json").read_bytes()
    # 1. the new run finds no face
    no_face = media_dir / "no_face_overwrite.mp4"
    write_pattern_clip(no_face, ClipSpec(seconds=0.4, audio=False))
    with pytest.raises(UserError, match=r"no face found .*the previous faceset was kept"):
        run_extract(extract_config(), ws, "dst", source=no_face, overwrite=True)
    # 2. --reference matches nobody: the faces were found, and the message says so
    with pytest.raises(UserError, match=r"\d+ faces were found .* none matched --reference"):
        run_extract(extract_config(), ws, "dst", source=face_clip.path, overwrite=True,
                    references=[sample_face_path(3)])  # fmt: skip
    # 3. the run crashes, or is interrupted, halfway
    import faceweave.extract.run as extract_run

    for failure in (RuntimeError("boom"), KeyboardInterrupt()):
        calls = {"n": 0}
        original = extract_run.FaceAligner.align

        def align_then_fail(self, frame, found, _failure=failure, _calls=calls, _original=original):  # type: ignore[no-untyped-def]
            _calls["n"] += 1
            if _calls["n"] > 5:
                raise _failure
            return _original(self, frame, found)

        monkeypatch.setattr(extract_run.FaceAligner, "align", align_then_fail)
        with pytest.raises(type(failure)):
            run_extract(extract_config(), ws, "dst", source=face_clip.path, overwrite=True)
        monkeypatch.undo()
    assert _faceset_bytes(ws.dst_aligned) == before
    assert (ws.dst_aligned.parent / "extract.json").read_bytes() == summary
    assert sorted(p.name for p in ws.dst_aligned.parent.iterdir()) == ["aligned", "extract.json"]
    # a successful run replaces the faces and keeps what was not a face
    report = run_extract(extract_config(max_faces=1), ws, "dst", source=face_clip.path, overwrite=True)
    assert report.out_dir == ws.dst_aligned and (ws.dst_aligned / "notes.txt").read_text() == "my notes"
    assert len(list_face_files(ws.dst_aligned)) == report.faces
    assert sorted(p.name for p in ws.dst_aligned.parent.iterdir()) == ["aligned", "extract.json"]
