"""`faceweave run`: two videos in, result.mp4 out, with sound; a second run resumes, not redoes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from click.testing import CliRunner

from faceweave.assets import load_sample_face
from faceweave.cli.main import cli
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.geometry import region_of
from faceweave.media.probe import probe_video
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, write_puppet_clip

TINY = ["train.encoder_dims=8", "train.bottleneck_dims=32", "train.decoder_dims=8", "train.mask_dims=4",
        "train.batch_size=4", "train.loader_workers=0", "train.preview_every=0", "extract.workers=1",
        "extract.size_px=64", "merge.workers=2", "video.crf=8"]  # fmt: skip


def decoded(path: Path) -> list[np.ndarray]:  # type: ignore[type-arg]
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24").astype(np.int16) for f in container.decode(video=0)]


def test_run_swaps_inside_the_face_only_and_resumes(tmp_path: Path) -> None:
    clips = {}
    for side, face in (("src", 0), ("dst", 1)):
        clips[side] = tmp_path / f"{side}.mp4"
        spec = ClipSpec(seconds=1.0, fps=25, width=320, height=240, seed=face, audio=True)
        write_puppet_clip(clips[side], FacePuppet.from_image(load_sample_face(face)), spec, face)
    ws = tmp_path / "ws"
    args = ["run", "--src", str(clips["src"]), "--dst", str(clips["dst"]), "-w", str(ws), "--iterations", "3"]
    for item in TINY:
        args += ["--set", item]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    result = ws / "result.mp4"
    assert f"result:     {result}" in first.output and (ws / "comparison.png").is_file()
    # the run ends with eval's summary (or says why the 3-step model's result could not be scored)
    assert "eval of " in first.output or "eval could not score the result" in first.output
    assert (ws / "eval" / "report.json").is_file() or "eval could not score" in first.output
    info = probe_video(result)
    assert info.has_audio and info.frame_count == probe_video(clips["dst"]).frame_count

    before, after = decoded(clips["dst"]), decoded(result)
    inside, outside = [], []
    for path in list_face_files(ws / "data_dst" / "aligned"):
        meta = read_face_meta(path)
        i = meta.frame_index
        region = region_of(meta.face_to_frame, meta.size_px, 320, 240, pad=4)
        diff = np.abs(after[i] - before[i]).mean(axis=2)
        x0, y0, x1, y1 = (int(v) for v in meta.bbox_xyxy)
        inside.append(diff[y0:y1, x0:x1].mean())
        away = np.ones_like(diff, bool)
        away[region.y0 : region.y1, region.x0 : region.x1] = False
        outside.append(diff[away].mean())
    assert np.mean(inside) > 8 > 1.5 > max(outside), (np.mean(inside), max(outside))

    checked = CliRunner().invoke(cli, ["verify", str(result), str(ws / "comparison.png")])
    assert checked.exit_code == 0 and checked.output.count("manifest: valid") == 2, checked.output

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "src: faces already extracted" in again.output and "dst: faces already extracted" in again.output
    assert "training target already reached" in again.output


def test_run_needs_existing_inputs(tmp_path: Path) -> None:
    missing = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]
    result = CliRunner().invoke(
        cli, ["run", "--src", missing[0], "--dst", missing[1], "-w", str(tmp_path / "ws")]
    )
    assert result.exit_code == 2 and "the src input" in result.output and "does not exist" in result.output
