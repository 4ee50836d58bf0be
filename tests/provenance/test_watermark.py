"""The invisible watermark: every merged video carries it, re-encoding does not remove it, unmarked
video does not show it, and the threshold keeps false positives below 1e-6."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.provenance.verify import read_watermark
from faceweave.provenance.watermark import (
    DECOYS,
    THRESHOLD,
    describe_payload,
    new_payload,
    payload_intact,
    student_t_tail,
)
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace
from tests.merge.conftest import IdentityModel


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """A 3 s expressive pseudo-video merged with an identity model: only the watermark changes."""
    ws = init_workspace(tmp_path_factory.mktemp("wm") / "ws").workspace
    spec = ClipSpec(seconds=3.0, fps=25, width=640, height=360, seed=2, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(2)), spec, 2)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    report = run_merge(load_config(overrides={"merge": {"color": "none"}}), ws, model=IdentityModel())
    return ws, report.result


def reencode(source: Path, out: Path, crf: int, box: tuple[slice, slice] | None = None) -> Path:
    with VideoWriter(out, fps=Fraction(25), settings=EncodeSettings(crf=crf, preset="medium")) as writer:
        for frame in open_frames(source):
            image = frame.image_bgr_u8
            writer.write(np.ascontiguousarray(image[box]) if box else image)
        writer.close()
    return out


def test_a_payload_names_faceweave_and_detects_any_flipped_bit() -> None:
    payload = new_payload()
    assert payload_intact(payload) and "faceweave" in describe_payload(payload)
    assert not any(payload_intact(payload ^ (1 << bit)) for bit in range(64))


def test_the_threshold_bounds_false_positives() -> None:
    # Two-sided, since the reader does not know on which frame parity a clip starts.
    assert 2 * student_t_tail(THRESHOLD, DECOYS - 1) < 1e-6
    assert student_t_tail(3.0, 100_000) == pytest.approx(0.00135, rel=0.01)  # the normal tail


def test_a_merged_video_carries_the_mark(marked: tuple[Workspace, Path]) -> None:
    assert read_watermark(marked[1]).found


@pytest.mark.parametrize("crf", [23, 28])
def test_the_mark_survives_reencoding(marked: tuple[Workspace, Path], tmp_path: Path, crf: int) -> None:
    found = read_watermark(reencode(marked[1], tmp_path / f"crf{crf}.mp4", crf))
    assert found.found, found


def test_unmarked_video_shows_no_mark(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, _ = marked
    for video in (ws.dst_video, reencode(ws.dst_video, tmp_path / "plain28.mp4", 28)):
        found = read_watermark(video)
        assert not found.found and found.score < THRESHOLD / 2, found


def test_the_mark_survives_cropping_to_the_face(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, result = marked
    boxes = np.array([read_face_meta(p).bbox_xyxy for p in list_face_files(ws.dst_aligned)])
    (x0, y0), (x1, y1) = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    pad = 0.2 * (x1 - x0)
    box = (slice(int(max(0, y0 - pad)), int(y1 + pad)), slice(int(max(0, x0 - pad)), int(x1 + pad)))
    found = read_watermark(reencode(result, tmp_path / "crop.mp4", 23, box))
    assert found.found, found
