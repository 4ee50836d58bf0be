"""The command line: init, frames, video, probe, and one clear sentence for every bad input."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from faceweave.media import probe_video
from tests.conftest import FLASH_S, FPS
from tests.helpers import assert_user_error, audio_duration_s, beep_onset_s, run


def test_version_and_help_everywhere() -> None:
    assert run("--version").output.startswith("faceweave, version ")
    for command in ("init", "frames", "video", "probe", "demo"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_usage_mistakes_are_one_sentence_and_a_bare_group_shows_its_help() -> None:
    assert_user_error(run("--bogus"), "No such option '--bogus'", "see `")
    assert_user_error(run("merg"), "No such command 'merg'", "Did you mean 'merge'")
    assert_user_error(run("train", "--iterations", "abc"), "'--iterations'", "train --help`")
    assert_user_error(run("faceset", "sort", ".", "--by", "nope"), "'--by'", "faceset sort --help`")
    assert_user_error(run("mask", "train", "--time"), "'--time' requires an argument")
    for group in ("faceset", "mask"):
        shown = run(group)
        assert shown.exit_code == 2 and "Usage: " in shown.output and "error:" not in shown.output
        assert "Commands:" in shown.output


def test_init_creates_the_workspace_and_config(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    result = run("init", ws, "--preset", "quick")
    assert result.exit_code == 0, result.output
    for folder in ("data_src/aligned", "data_dst/aligned", "model"):
        assert (ws / folder).is_dir()
    text = (ws / "faceweave.toml").read_text()
    assert "schema_version = 1" in text and 'preset = "veryfast"' in text
    (ws / "faceweave.toml").write_text(text.replace("crf = 20", "crf = 99"))
    assert_user_error(run("init", ws), "video.crf = 99 is out of range", "0 to 51")


def test_frames_then_video_round_trip_with_audio(clip: Path, tmp_path: Path) -> None:
    frames_dir = tmp_path / "frames"
    result = run("frames", clip, frames_dir)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in frames_dir.iterdir())
    assert len(names) == 75 and names[0] == "000000.png" and names[-1] == "000074.png"
    out = tmp_path / "out.mp4"
    result = run("video", frames_dir, out, "--audio-from", clip, "--x264-preset", "ultrafast")
    assert result.exit_code == 0, result.output
    info = probe_video(out)
    assert info.frame_count == 75 and float(info.fps) == FPS
    assert audio_duration_s(out) == pytest.approx(info.duration_s, abs=1 / FPS)
    assert beep_onset_s(out) == pytest.approx(FLASH_S[0], abs=1 / FPS)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_frames_options_select_frames(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "sel"
    result = run("frames", clip, out, "--start", "1", "--end", "2", "--fps", "5", "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"0000{i}.jpg" for i in (25, 30, 35, 40, 45)]
    every = tmp_path / "every"
    assert run("frames", clip, every, "--every-nth", "25").exit_code == 0
    assert sorted(p.name for p in every.iterdir()) == ["000000.png", "000025.png", "000050.png"]


def test_probe_prints_rotation(rotated_clip: Path) -> None:
    result = run("probe", rotated_clip)
    assert result.exit_code == 0 and "240x320" in result.output and "rotated 90 deg" in result.output


def test_config_errors_name_the_key(clip: Path, tmp_path: Path) -> None:
    assert_user_error(run("frames", clip, tmp_path / "f", "--set", "frames.jpeg_quality=0"),
                      "frames.jpeg_quality = 0 is out of range")  # fmt: skip
    assert_user_error(run("video", tmp_path, tmp_path / "o.mp4", "--set", "video.speed=1"),
                      "unknown key video.speed")  # fmt: skip


@pytest.fixture()
def audio_only(tmp_path: Path) -> Path:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_bad_inputs_exit_2_with_one_sentence(
    tmp_path: Path, truncated_clip: Path, corrupt_clip: Path, audio_only: Path, clip: Path
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    out = tmp_path / "out"
    assert_user_error(run("frames", tmp_path / "missing.mp4", out), "does not exist")
    assert_user_error(run("frames", text, out), "is not a video FFmpeg can read")
    assert_user_error(run("frames", truncated_clip, out), "is truncated", "of 75")
    assert_user_error(run("frames", corrupt_clip, out), "decoding failed at frame")
    assert_user_error(run("frames", audio_only, out), "has no video stream")
    assert_user_error(run("video", clip, text / "x.mp4"), "cannot write", "not a folder")
    assert_user_error(run("video", clip, tmp_path / "nope" / "x.mp4"), "cannot write", "does not exist")
    assert_user_error(run("video", tmp_path / "empty_dir_missing", tmp_path / "x.mp4"), "does not exist")


def test_damaged_input_can_be_skipped_with_a_count(truncated_clip: Path, corrupt_clip: Path,
                                                   tmp_path: Path) -> None:  # fmt: skip
    result = run("frames", truncated_clip, tmp_path / "t", "--on-error", "skip")
    assert result.exit_code == 0 and "truncated?" in result.output
    result = run("frames", corrupt_clip, tmp_path / "c", "--on-error", "skip")
    assert result.exit_code == 0 and "skipped" in result.output and "damaged frame" in result.output


def test_full_disk_while_writing_leaves_nothing_that_looks_complete(clip: Path, tmp_path: Path) -> None:
    """A real process whose file size limit (RLIMIT_FSIZE) runs out mid-write, like a full disk."""
    out = tmp_path / "big.mp4"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run(
        [sys.executable, "-m", "faceweave", "video", str(clip), str(out), "--crf", "0"],
        capture_output=True, text=True, preexec_fn=limit, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot write" in proc.stderr and "limit" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_real_process_reports_errors_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "faceweave", "probe", str(tmp_path / "missing.mp4")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'missing.mp4'} does not exist"


def test_sigterm_mid_write_removes_the_unfinished_output(clip: Path, tmp_path: Path) -> None:
    frames_dir = tmp_path / "frames"
    assert run("frames", clip, frames_dir).exit_code == 0
    originals = sorted(frames_dir.iterdir())
    for i in range(len(originals), 400):  # a longer sequence, so the encode is surely still running
        os.link(originals[i % len(originals)], frames_dir / f"{i:06d}.png")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceweave", "video", str(frames_dir), str(out_dir / "x.mp4"),
         "--fps", "1000", "--crf", "0", "--x264-preset", "veryslow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(out_dir.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the encode finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []


def test_the_damaged_video_hint_works_with_the_command_that_gave_it(
    truncated_clip: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert run("init", ws).exit_code == 0
    commands: list[list[str | Path]] = [
        ["extract", "dst", "-w", ws, "--input", truncated_clip],
        ["frames", truncated_clip, ws / "f"],
    ]
    for command in commands:
        failed = run(*command)
        assert_user_error(failed, "truncated", "--set decode.on_error=skip")
        hinted = run(*command, "--set", "decode.on_error=skip")
        assert "is truncated" not in hinted.output and "no such option" not in hinted.output.lower()


def test_frames_starting_past_the_end_is_refused(clip: Path, tmp_path: Path) -> None:
    assert_user_error(run("frames", clip, tmp_path / "f", "--start", "99"), "past the end")
    assert not (tmp_path / "f").exists()
