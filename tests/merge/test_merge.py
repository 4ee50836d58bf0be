"""Merging: exact warp-back, masks on the face, complete output with sound, clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
import torch
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.errors import UserError
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.media.probe import probe_video
from faceweave.media.synth import ClipSpec, write_pattern_clip
from faceweave.merge.masks import refine
from faceweave.merge.prepare import ColorSmoother, Preparer, prepared_by_frame
from faceweave.merge.run import dst_faces, merge_frame, open_merge, run_merge
from faceweave.mesh import FACE_OVAL
from faceweave.provenance.verify import verify_file
from faceweave.provenance.watermark import Landmarks, mark_field, new_payload
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace
from tests.merge.conftest import IdentityModel, copy_workspace, exact_config

MARK = mark_field(new_payload())


class MirrorModel(IdentityModel):
    """Structure changes, colours do not: every blend mode must show it."""

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        faces, mask = super().swap(dst_faces)
        return torch.flip(faces, dims=[3]), mask


def frames_of(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)]


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def hull_in_frame(landmarks: npt.NDArray[np.float64], width: int, height: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros((height, width), np.uint8)
    points = np.round(landmarks[list(FACE_OVAL), :2] * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(points), (1,), cv2.LINE_AA, 4)
    return mask > 0


def test_identity_model_gives_the_frames_back(dst_workspace: Workspace, tmp_path: Path) -> None:
    """An identity model and a full mask: merged frames equal dst, so the warp-back is exact."""
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    report = run_merge(exact_config(), ws, model=IdentityModel())
    before, after = frames_of(ws.dst_video), frames_of(report.result)
    assert len(after) == len(before) == report.frames and report.frames_with_faces == report.frames
    metas = [read_face_meta(p) for p in list_face_files(ws.dst_aligned)]
    for meta in metas[::5]:
        i = meta.frame_index
        assert psnr(before[i], after[i]) >= 40, i
        x0, y0, x1, y1 = (int(v) for v in meta.bbox_xyxy)
        assert psnr(before[i][y0:y1, x0:x1], after[i][y0:y1, x0:x1]) >= 33, i  # the face box itself


def at_dst(_image: ImageBGR, landmarks: Landmarks, _track: int) -> Landmarks:
    """Marks placed on the dst landmarks: these tests are about the paste, not the mark."""
    return landmarks


def test_the_mask_lands_on_the_face(dst_workspace: Workspace) -> None:
    inputs = open_merge(exact_config(mask="dst"), dst_workspace, model=IdentityModel())
    preparer = Preparer(inputs.model, exact_config(mask="dst").merge, inputs.device)
    face = inputs.faces[len(inputs.faces) // 2]
    image = np.zeros((face.meta.frame_height, face.meta.frame_width, 3), np.uint8)
    _, coverage = merge_frame(image, preparer.batch([face]), MARK, 0, at_dst)
    hull = hull_in_frame(face.meta.landmarks_frame, image.shape[1], image.shape[0])
    placed = coverage > 0.5
    iou = (placed & hull).sum() / (placed | hull).sum()
    assert iou >= 0.95, iou


@pytest.mark.parametrize("blend", ["overlay", "seamless", "hist-match"])
def test_every_blend_changes_the_face_only(dst_workspace: Workspace, blend: str) -> None:
    """A model that mirrors the face: the frame changes inside the face and nowhere else."""
    config = exact_config(blend=blend, mask="dst", blur=4.0)
    inputs = open_merge(config, dst_workspace, model=MirrorModel())
    face = inputs.faces[0]
    frame = frames_of(inputs.source)[face.meta.frame_index]
    prepared = Preparer(inputs.model, config.merge, inputs.device).batch([face])
    merged, coverage = merge_frame(frame, prepared, MARK, 0, at_dst)
    changed = np.abs(merged.astype(int) - frame.astype(int)).max(axis=2) > 2
    assert not changed[coverage == 0].any()
    hull = hull_in_frame(face.meta.landmarks_frame, frame.shape[1], frame.shape[0])
    assert changed[hull].mean() > 0.5


def test_output_has_every_frame_same_timing_and_sound(dst_workspace: Workspace, tmp_path: Path) -> None:
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    config = replace(exact_config(), merge=replace(exact_config().merge, color="rct", blur=6.0, workers=2))
    report = run_merge(config, ws, model=IdentityModel())
    src, out = probe_video(ws.dst_video), probe_video(report.result)
    assert out.frame_count == src.frame_count and out.fps == src.fps
    assert abs(out.duration_s - src.duration_s) < 1 / float(src.fps)
    assert report.audio == "copied" and out.has_audio
    audio = out.audio[0].duration_s
    assert audio is not None and abs(audio - out.duration_s) <= 1 / float(src.fps)
    verdict = verify_file(report.result)  # no switch: every result is signed and tagged
    assert verdict.manifest.valid and verdict.manifest.synthetic and verdict.tagged
    assert sorted(p.name for p in ws.root.glob(".*unsigned*")) == []  # the unsigned encode is gone


def test_dump_writes_frames_and_masks(dst_workspace: Workspace, tmp_path: Path) -> None:
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    report = run_merge(exact_config(dump=True), ws, model=IdentityModel())
    assert report.dump_dir is not None
    assert len(list(report.dump_dir.glob("*.png"))) == report.frames
    assert len(list((report.dump_dir.parent / "merged_mask").glob("*.png"))) == report.frames


def test_faces_are_grouped_by_frame_across_batches(dst_workspace: Workspace) -> None:
    inputs = open_merge(exact_config(), dst_workspace, model=IdentityModel())
    doubled = sorted(inputs.faces * 2, key=lambda f: f.meta.frame_index)  # two faces in every frame
    preparer = Preparer(inputs.model, exact_config().merge, inputs.device)
    grouped = list(prepared_by_frame(preparer, doubled, batch_size=3))
    assert [i for i, _ in grouped] == sorted({f.meta.frame_index for f in inputs.faces})
    assert all(len(faces) == 2 and {f.frame_index for f in faces} == {i} for i, faces in grouped)


def test_colour_smoothing_steadies_a_flickering_face() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.6, (32, 32, 3)).astype(np.float32)
    target = np.clip(base + 0.1, 0, 1)
    mask = np.ones((32, 32), np.float32)

    def spread(smoothing: float) -> float:
        smoother = ColorSmoother("rct", smoothing)
        means = []
        for _ in range(30):
            flicker = np.clip(target * rng.uniform(0.8, 1.2), 0, 1).astype(np.float32)
            means.append(float(smoother(0, base, flicker, mask).mean()))
        return float(np.std(means[5:]))

    assert spread(0.8) < 0.5 * spread(0.0)


def test_colour_smoothing_forgets_statistics_from_long_ago() -> None:
    """Back from a gap (a cut, a long miss, a session range with another colour setting), the
    colour is this frame's own, not blended with the one before the gap."""
    base = np.full((16, 16, 3), 0.4, np.float32)
    mask = np.ones((16, 16), np.float32)
    dark, light = np.full_like(base, 0.2), np.full_like(base, 0.7)
    smoother = ColorSmoother("rct", 0.7)
    smoother(0, base, dark, mask, 10)
    blended = smoother(0, base, light, mask, 11).mean()
    after_gap = smoother(0, base, light, mask, 60).mean()
    alone = ColorSmoother("rct", 0.7)(0, base, light, mask, 60).mean()
    assert blended < after_gap - 0.1 and after_gap == pytest.approx(alone, abs=1e-5)


def test_refine_erodes_grows_and_feathers() -> None:
    mask = np.zeros((100, 100), np.float32)
    cv2.circle(mask, (50, 50), 30, (1.0,), -1)
    assert refine(mask, 5, 0).sum() < mask.sum() < refine(mask, -5, 0).sum()
    soft = refine(mask, 0, 10)
    assert 0 < soft[50, 22] < 1 and soft[50, 50] == pytest.approx(1, abs=1e-3) and soft[50, 85] == 0


class DarkModel(IdentityModel):
    """Paints every face black: a swapped frame cannot pass for dst's."""

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(dst_faces), torch.ones_like(dst_faces[:, :1])


def test_merge_follows_faces_set_aside_and_restored(dst_workspace: Workspace, tmp_path: Path) -> None:
    """A dst face the faceset tools set aside keeps dst's own face in its frame on the next merge;
    restored, it is swapped again. Nothing is cached across runs."""
    from faceweave.faceset.clean import Rejection, move_rejected, restore

    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    faces = {read_face_meta(p).frame_index: p for p in list_face_files(ws.dst_aligned)}
    boxes = {i: [int(v) for v in read_face_meta(faces[i]).bbox_xyxy] for i in (4, 5, 6)}
    move_rejected(ws.dst_aligned, [Rejection(faces[5].name, "blur", "")])

    def face_psnr(result: Path) -> dict[int, float]:
        before, after = frames_of(ws.dst_video), frames_of(result)
        return {
            i: psnr(before[i][y0:y1, x0:x1], after[i][y0:y1, x0:x1]) for i, (x0, y0, x1, y1) in boxes.items()
        }

    report = run_merge(exact_config(), ws, model=DarkModel())
    scores = face_psnr(report.result)
    assert report.set_aside == 1 and report.faces == len(faces) - 1
    assert scores[5] >= 40 and scores[4] < 20 and scores[6] < 20, scores
    restore(ws.dst_aligned)
    again = run_merge(exact_config(), ws, model=DarkModel())
    assert again.set_aside == 0 and face_psnr(again.result)[5] < 20


def test_tracks_choose_faces(dst_workspace: Workspace) -> None:
    assert len(dst_faces(dst_workspace, {0})) == len(dst_faces(dst_workspace, None))
    with pytest.raises(UserError, match="names no track"):
        dst_faces(dst_workspace, {7})


def test_bad_inputs_are_clear_errors(
    dst_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    with pytest.raises(UserError, match=r"no trained model .*: run `faceweave train`"):
        run_merge(exact_config(), ws)
    with pytest.raises(UserError, match="dst faces are 128 px but the model works at 256 px"):
        run_merge(exact_config(), ws, model=IdentityModel(256))
    with monkeypatch.context() as patch:
        patch.setattr("faceweave.merge.run.load_model", lambda ws, device: (IdentityModel(), "whole"))
        with pytest.raises(UserError, match="learnt whole crops but the dst faces are full"):
            run_merge(exact_config(), ws)
    write_pattern_clip(ws.dst_video, ClipSpec(seconds=0.5, fps=25, width=160, height=120))
    with pytest.raises(UserError, match=r"changed since extraction .* extract dst --overwrite"):
        run_merge(exact_config(), ws, model=IdentityModel())
    empty = Workspace(tmp_path / "empty")
    with pytest.raises(UserError, match="holds no faces: run `faceweave extract dst`"):
        run_merge(exact_config(), empty, model=IdentityModel())


def test_cli_preview_writes_one_comparison_picture(dst_workspace: Workspace, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    monkeypatch.setattr("faceweave.merge.run.load_model", lambda ws, device: (IdentityModel(), "full"))
    frame = read_face_meta(list_face_files(ws.dst_aligned)[3]).frame_index
    result = CliRunner().invoke(cli, ["merge", "-w", str(ws.root), "--preview", str(frame)])
    assert result.exit_code == 0, result.output
    picture = cv2.imread(str(ws.root / f"preview_{frame}.png"))
    assert picture is not None and picture.shape[0] == 320 and picture.shape[1] > 6 * 100
    bad = CliRunner().invoke(cli, ["merge", "-w", str(ws.root), "--preview", "9999"])
    assert (bad.exit_code == 2 and "has no frame 9999" in bad.output) or "no dst face" in bad.output
