"""`faceweave eval` end to end: the calibration anchors land on opposite sides, the truth is
recovered, the report is written, and bad input gets one sentence and exit 2."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.detect import RawFace
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, expressive_at, write_puppet_clip
from faceweave.quality.anchors import write_pasted_still
from faceweave.quality.report import EvalReport
from faceweave.quality.run import EvalInputs, run_eval
from tests.helpers import assert_user_error, run
from tests.quality.conftest import EvalClips


def run_eval_cli(
    result: Path, clips: EvalClips, out: Path, *extra: str | Path, src: Path | None = None
) -> Result:
    """`faceweave eval` of `result` against the clips' dst and src (or `src`)."""
    return run("eval", "--result", result, "--dst", clips.dst, "--src", src or clips.src, "-o", out, *extra)


def evaluate(clips: EvalClips, result: Path, out: Path) -> EvalReport:
    inputs = EvalInputs(result, clips.dst, (clips.src,), out, clips.truth)
    return run_eval(load_config(overrides={"eval": {"identity_every": 3}}), inputs)


@pytest.fixture(scope="module")
def passthrough(eval_clips: EvalClips, tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    """dst itself as the "swap": every performance kept, src's identity absent."""
    return evaluate(eval_clips, eval_clips.dst, tmp_path_factory.mktemp("passthrough"))


@pytest.fixture(scope="module")
def pasted(eval_clips: EvalClips, tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    """src's first face pasted still on every dst frame: src's identity, none of dst's performance."""
    folder = tmp_path_factory.mktemp("pasted")
    video = write_pasted_still(eval_clips.src, eval_clips.dst, folder / "pasted.mp4")
    return evaluate(eval_clips, video, folder / "eval")


def test_dst_passed_through_keeps_the_performance_and_fails_identity(passthrough: EvalReport) -> None:
    result, verdicts = passthrough.values["result"], passthrough.verdicts
    assert verdicts["retrieval"] == "poor" and verdicts["to_src"] == "poor"
    for key in ("mouth_corr", "eye_corr", "smile_corr", "brow_corr", "pose_error", "skin_delta_e"):
        assert verdicts[key] == "ok", (key, result[key])
    assert result["swapped_share"] == 0.0


def test_a_still_src_face_keeps_identity_and_fails_the_performance(pasted: EvalReport) -> None:
    result, verdicts = pasted.values["result"], pasted.verdicts
    assert verdicts["retrieval"] == "ok" and verdicts["to_src"] == "ok", result
    assert result["to_src"] < result["to_dst"]  # type: ignore[operator]
    for key in ("mouth_corr", "eye_corr", "expression_error"):
        assert verdicts[key] == "poor", (key, result[key])
    assert result["swapped_share"] == 1.0


def test_the_codec_floor_reads_as_a_perfect_performance(passthrough: EvalReport) -> None:
    floor = passthrough.values["floor"]
    assert floor["mouth_corr"] > 0.95 and floor["eye_corr"] > 0.9  # type: ignore[operator]
    assert floor["jitter_x_floor"] == 1.0 and floor["psnr_outside"] > 38  # type: ignore[operator]


def test_the_measured_dst_follows_the_pseudo_videos_true_expression(passthrough: EvalReport) -> None:
    assert passthrough.truth is not None
    dst = passthrough.truth["dst"]
    assert dst["mouth_open"] > 0.9 and dst["eye_open"] > 0.8 and dst["brow_raise"] > 0.8  # type: ignore[operator]


def test_the_report_files_are_written_and_self_contained(pasted: EvalReport) -> None:
    out = Path(pasted.out_dir)
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert document["verdicts"]["retrieval"] == "ok" and document["thresholds"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 3
    assert re.search(r"""(src|href)=['"](?!data:)""", page) is None  # nothing fetched: opens offline
    assert "synthetic" in page
    sheet = (out / "worst_frames.png").read_bytes()
    assert sheet.startswith(b"\x89PNG") and b"c2pa" in sheet  # signed like every picture we make
    assert not list(out.glob(".*"))  # the codec floor's temporary video is gone


def test_the_cli_prints_the_summary(eval_clips: EvalClips, tmp_path: Path) -> None:
    result = run_eval_cli(eval_clips.dst, eval_clips, tmp_path / "eval", "--identity-every", "10")
    assert result.exit_code == 0, result.output
    assert "mouth-opening correlation" in result.output and "poor" in result.output
    assert (tmp_path / "eval" / "report.html").is_file()


def test_src_may_be_a_folder_of_plain_pictures(eval_clips: EvalClips, tmp_path: Path) -> None:
    import cv2

    from faceweave.assets import load_sample_face

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    cv2.imwrite(str(pictures / "a.png"), load_sample_face(0))
    cv2.imwrite(str(pictures / "b.jpg"), load_sample_face(0))
    result = run_eval_cli(
        eval_clips.dst, eval_clips, tmp_path / "eval", "--identity-every", "25", src=pictures
    )
    assert result.exit_code == 0, result.output


def test_bad_input_is_one_sentence(eval_clips: EvalClips, tmp_path: Path) -> None:
    clips = eval_clips
    assert_user_error(
        run("eval", "--result", clips.src, "--dst", clips.dst, "--src", clips.src, "-o", tmp_path), "frames"
    )
    assert_user_error(
        run(
            "eval", "--result", clips.dst, "--dst", clips.dst, "--src", tmp_path / "nope.mp4", "-o", tmp_path
        ),
        "src",
        "does not exist",
    )
    assert_user_error(
        run(
            "eval", "--result", tmp_path / "none.mp4", "--dst", clips.dst, "--src", clips.src, "-o", tmp_path
        ),
        "does not exist",
    )
    assert_user_error(run("eval", "-w", tmp_path / "empty"), "does not exist")
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text('{"frames": [{"mouth_open": 0.5}]}', encoding="utf-8")
    assert_user_error(
        run(
            "eval",
            "--result",
            clips.dst,
            "--dst",
            clips.dst,
            "--src",
            clips.src,
            "--truth",
            bad_truth,
            "-o",
            tmp_path,
        ),
        "truth file",
        "blink",
    )
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, fps=Fraction(25), settings=EncodeSettings(crf=23, preset="ultrafast")) as writer:
        for frame in open_frames(clips.dst):
            writer.write(np.full_like(frame.image_bgr_u8, 128), frame.pts_s)
        writer.close()
    assert_user_error(
        run("eval", "--result", blank, "--dst", clips.dst, "--src", clips.src, "-o", tmp_path),
        "no face was found in the result",
    )
    assert_user_error(
        run("eval", "--result", clips.dst, "--dst", blank, "--src", clips.src, "-o", tmp_path),
        "no face was found in dst",
    )
    assert_user_error(
        run("eval", "--result", clips.dst, "--dst", clips.dst, "--src", blank, "-o", tmp_path),
        "no face was found in src",
    )


def test_a_result_of_another_size_is_one_sentence(eval_clips: EvalClips, tmp_path: Path) -> None:
    import cv2

    small = tmp_path / "small.mp4"
    with VideoWriter(small, fps=Fraction(25), settings=EncodeSettings(crf=23, preset="ultrafast")) as writer:
        for frame in open_frames(eval_clips.dst):
            image = frame.image_bgr_u8
            size = (image.shape[1] // 2 // 2 * 2, image.shape[0] // 2 // 2 * 2)
            writer.write(np.asarray(cv2.resize(image, size), np.uint8), frame.pts_s)
        writer.close()
    assert_user_error(run_eval_cli(small, eval_clips, tmp_path / "out"), "but dst", "must match")


def test_a_result_that_loses_the_face_halfway_is_reported_not_refused(
    eval_clips: EvalClips, tmp_path: Path
) -> None:
    """Partial coverage: the frames where the mesh finds no face in the result are counted and
    said, and the rest are scored."""
    half = tmp_path / "half.mp4"
    frames = list(open_frames(eval_clips.dst))
    with VideoWriter(half, fps=Fraction(25), settings=EncodeSettings(crf=18, preset="ultrafast")) as writer:
        for k, frame in enumerate(frames):
            image = frame.image_bgr_u8 if k < len(frames) // 2 else np.full_like(frame.image_bgr_u8, 128)
            writer.write(image, frame.pts_s)
        writer.close()
    report = evaluate(eval_clips, half, tmp_path / "eval")
    found = report.values["result"]["face_found_share"]
    assert found is not None and 0.4 <= found <= 0.6, found
    assert report.verdicts["face_found_share"] == "poor"
    assert report.values["result"]["mouth_corr"] is not None  # the found half is still scored


def leftmost(faces: list[RawFace]) -> list[RawFace]:
    return [min(faces, key=lambda f: float(f.landmarks_478[:, 0].mean()))] if faces else []


def test_two_faces_are_scored_each_against_its_own_dst_face(eval_clips: EvalClips, tmp_path: Path) -> None:
    """Two dst faces with performances of their own: each result face must be matched to its own
    dst face, or dst passed through would read as a performance lost; a result that swaps only
    one of them is half swapped, and its lost half shows in the pooled performance."""
    dst = tmp_path / "two.mp4"
    puppets = [FacePuppet.from_image(load_sample_face(k)) for k in (1, 3)]
    write_puppet_clip(dst, puppets, ClipSpec(3.0, 25, 640, 360, seed=5), 5, timeline=expressive_at)
    config = load_config(overrides={"eval": {"identity_every": 3}})
    kept = run_eval(config, EvalInputs(dst, dst, (eval_clips.src,), tmp_path / "kept"))
    assert kept.tracks == 2 and kept.dst_faces == 150, (kept.tracks, kept.dst_faces)
    result = kept.values["result"]
    for key in ("mouth_corr", "eye_corr", "smile_corr", "brow_corr"):
        assert result[key] is not None and result[key] > 0.95, (key, result[key])  # type: ignore[operator]
    assert result["swapped_share"] == 0.0 and result["face_found_share"] == 1.0
    half = write_pasted_still(eval_clips.src, dst, tmp_path / "half.mp4", pick=leftmost)
    report = run_eval(config, EvalInputs(half, dst, (eval_clips.src,), tmp_path / "half"))
    values = report.values["result"]
    assert 0.4 <= values["swapped_share"] <= 0.6, values["swapped_share"]  # type: ignore[operator]
    lost, kept_mouth = values["mouth_corr"], result["mouth_corr"]
    assert lost is not None and kept_mouth is not None and lost < 0.8 < kept_mouth, (lost, kept_mouth)
    assert values["retrieval"] is not None and 0.3 <= values["retrieval"] <= 0.7, values["retrieval"]
