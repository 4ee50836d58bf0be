"""Aligned face files: metadata inside PNG and JPEG, round trips, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceweave.formats.aligned import (
    FaceFileError,
    FaceMeta,
    Pose,
    meta_from_json,
    meta_to_json,
    read_aligned_face,
    read_face_meta,
    write_aligned_face,
)
from faceweave.formats.embed import EmbedError, jpeg_text, jpeg_with_text, png_text, png_with_text


def sample_meta() -> FaceMeta:
    rng = np.random.default_rng(0)
    marks = rng.uniform(0, 500, (478, 3))
    return FaceMeta(
        source="data_dst.mp4", frame_index=12, pts_s=0.48, frame_width=640, frame_height=360,
        face_index=1, track_id=3, bbox_xyxy=(10.0, 20.0, 110.0, 140.0), score=0.91,
        landmarks_frame_raw=marks, landmarks_frame=marks + 0.5, landmarks_crop=marks[:, :2] / 2,
        face_to_frame=np.array([[1.5, 0.1, 20.0], [-0.1, 1.5, 30.0]]), face_type="full", size_px=64,
        pose=Pose(-10.5, 3.25, 1.0), smoothing="one-euro", found_rotation_deg=90, identity_distance=0.31,
    )  # fmt: skip


def assert_same(a: FaceMeta, b: FaceMeta) -> None:
    assert a.frame_index == b.frame_index and a.track_id == b.track_id and a.pose == b.pose
    assert np.allclose(a.landmarks_frame, b.landmarks_frame, atol=1e-3)
    assert np.array_equal(a.face_to_frame, b.face_to_frame)  # full precision: it maps back exactly
    assert a.identity_distance == b.identity_distance and a.found_rotation_deg == b.found_rotation_deg


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_face_file_round_trip(tmp_path: Path, fmt: str) -> None:
    crop = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    path = write_aligned_face(tmp_path, crop, sample_meta(), fmt)
    assert path.name == f"000012_1.{fmt}"
    image, meta = read_aligned_face(path)
    assert_same(meta, sample_meta())
    if fmt == "png":
        assert np.array_equal(image, crop)  # lossless
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_embed_round_trips_and_finds_damage() -> None:
    png = png_with_text(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82", "hello")
    assert png_text(png) == "hello"
    damaged = bytearray(png)
    damaged[damaged.index(b"iTXt") + 20] ^= 0xFF
    with pytest.raises(EmbedError, match="damaged"):
        png_text(bytes(damaged))
    assert jpeg_text(jpeg_with_text(b"\xff\xd8\xff\xd9", "hi")) == "hi"


def test_foreign_missing_and_corrupt_metadata_give_clear_errors(tmp_path: Path) -> None:
    import cv2

    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FaceFileError, match="is not a faceweave aligned face: no faceweave metadata"):
        read_face_meta(plain)
    with pytest.raises(FaceFileError, match="does not exist"):
        read_face_meta(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(FaceFileError, match="neither a PNG nor a JPEG"):
        read_face_meta(text)
    crop = np.zeros((64, 64, 3), np.uint8)
    good = write_aligned_face(tmp_path, crop, sample_meta())
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(png_with_text(good.read_bytes()[:8] + b"\x00\x00\x00\x00IEND\xaeB`\x82",
                                      '{"schema_version": 1, "frame_index": "x"}'))  # fmt: skip
    with pytest.raises(FaceFileError, match="corrupt faceweave metadata: missing field"):
        read_face_meta(corrupt)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("landmarks_frame"), "missing field 'landmarks_frame'"),
        (lambda d: d.update(landmarks_crop=[[0, 0]] * 3), "shape"),
        (lambda d: d.update(schema_version=9), "newer"),
        (lambda d: d.update(track_id="a"), "'track_id' has the wrong type"),
    ],
)
def test_schema_validation_names_the_problem(edit: object, message: str) -> None:
    import json

    document = json.loads(meta_to_json(sample_meta()))
    edit(document)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        meta_from_json(json.dumps(document))
