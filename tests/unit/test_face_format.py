"""Aligned face files: metadata inside PNG and JPEG, round trips, and clear errors."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.faceset.info import faceset_info
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
from faceweave.formats.embed import (
    KEYWORD,
    EmbedError,
    jpeg_text,
    jpeg_with_text,
    png_text,
    png_with_text,
)


def sample_meta() -> FaceMeta:
    rng = np.random.default_rng(0)
    marks = rng.uniform(0, 500, (478, 3))
    return FaceMeta(
        source="data_dst.mp4", frame_index=12, pts_s=0.48, frame_width=640, frame_height=360,
        face_index=1, track_id=3, bbox_xyxy=(10.0, 20.0, 110.0, 140.0), score=0.91,
        landmarks_frame_raw=marks, landmarks_frame=marks + 0.5, landmarks_crop=marks[:, :2] * 64 / 500,
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
        (lambda d: d.update(schema_version=True), "'schema_version' must be an integer"),
        (lambda d: d.update(schema_version=10**50), "'schema_version' must be an integer"),
        (lambda d: d.update(track_id="a"), "'track_id' must be an integer"),
        (lambda d: d.update(frame_index=True), "'frame_index' must be an integer"),
        (lambda d: d.update(score=True), "'score' must be a finite number"),
    ],
)
def test_schema_validation_names_the_problem(edit: object, message: str) -> None:
    import json

    document = json.loads(meta_to_json(sample_meta()))
    edit(document)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        meta_from_json(json.dumps(document))


# Damaged and hostile files: every problem is one FaceFileError naming the file and the field.


def crop_png(side: int = 64) -> bytes:
    ok, buf = cv2.imencode(".png", np.zeros((side, side, 3), np.uint8))
    assert ok
    return buf.tobytes()


def png_with_chunk(body: bytes, side: int = 64) -> bytes:
    """A PNG crop with a hand-made iTXt chunk (body starts with the keyword) before IEND."""
    png = crop_png(side)
    chunk = len(body).to_bytes(4, "big") + b"iTXt" + body + zlib.crc32(b"iTXt" + body).to_bytes(4, "big")
    return png[:-12] + chunk + png[-12:]


def face_with_text(tmp_path: Path, text: str, side: int = 64, name: str = "face.png") -> Path:
    path = tmp_path / name
    path.write_bytes(png_with_text(crop_png(side), text))
    return path


def edited_text(edit: Callable[[dict[str, Any]], object]) -> str:
    document = json.loads(meta_to_json(sample_meta()))
    edit(document)
    return json.dumps(document)


def with_raw_value(key: str, literal: str, inner: str | None = None) -> str:
    """The sample metadata with `literal` (raw JSON text, e.g. 1e999) as the value of `key`."""
    marker = "@@value@@"

    def put(d: dict[str, Any]) -> None:
        if inner is None:
            d[key] = marker
        elif isinstance(d[key], dict):
            d[key][inner] = marker
        else:
            d[key][0][0] = marker

    return edited_text(put).replace(json.dumps(marker), literal)


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(FaceFileError) as caught:
        read_face_meta(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message and len(message) < 400 + len(str(path))  # one short sentence
    return message


BIG_INT = "9" * 400


@pytest.mark.parametrize(
    ("key", "inner", "literal"),
    [
        ("pts_s", None, "1e999"),
        ("score", None, "-1e999"),
        ("identity_distance", None, "1e999"),
        ("pose", "yaw", BIG_INT),
        ("bbox_xyxy", None, f"[0, 0, {BIG_INT}, 1]"),
        ("landmarks_frame", "row", BIG_INT),
        ("face_to_frame", "row", "-" + BIG_INT),
        ("frame_index", None, BIG_INT),
        ("pts_s", None, BIG_INT),
    ],
)
def test_numbers_too_large_for_a_float_are_refused(
    tmp_path: Path, key: str, inner: str | None, literal: str
) -> None:
    path = face_with_text(tmp_path, with_raw_value(key, literal, inner))
    refused(path, f"field '{key}" if inner != "yaw" else "field 'pose.yaw'")


def test_deeply_nested_metadata_is_refused_without_recursing(tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    path = face_with_text(tmp_path, with_raw_value("landmarks_crop", deep))
    refused(path, "nests more than")
    with pytest.raises(ValueError, match="nests more than"):
        meta_from_json('{"a":' + deep + "}")


@pytest.mark.parametrize(
    "body",
    [
        KEYWORD + b"\x00",  # the keyword alone
        KEYWORD + b"\x00\x01",  # compression flag but no method
        KEYWORD + b"\x00\x01\x00",  # no language, no translated keyword
        KEYWORD + b"\x00\x00\x00en",  # a language without its separator
        KEYWORD + b"\x00\x02\x00\x00\x00{}",  # a compression flag iTXt does not have
    ],
)
def test_truncated_itxt_headers_are_refused(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "face.png"
    path.write_bytes(png_with_chunk(body))
    refused(path, "is not a faceweave aligned face: the metadata chunk is damaged")


@pytest.mark.parametrize("size_px", [0, -64, 7, 8193])
def test_size_px_outside_its_range_is_refused(tmp_path: Path, size_px: int) -> None:
    path = face_with_text(tmp_path, edited_text(lambda d: d.update(size_px=size_px)))
    refused(path, "field 'size_px' must be an integer from 8 to 8192")


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_size_px_must_match_the_pixels(tmp_path: Path, fmt: str) -> None:
    text = meta_to_json(sample_meta())  # says 64 px
    small = cv2.imencode(f".{fmt}", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    path = tmp_path / f"face.{fmt}"
    path.write_bytes(png_with_text(small, text) if fmt == "png" else jpeg_with_text(small, text))
    assert read_face_meta(path).size_px == 64  # metadata alone cannot know
    with pytest.raises(FaceFileError, match=r"field 'size_px' is 64 but the image is 32x32 pixels"):
        read_aligned_face(path)
    with pytest.raises(ValueError, match="does not match size_px"):  # nor can such a file be written
        write_aligned_face(tmp_path, np.zeros((32, 32, 3), np.uint8), sample_meta(), fmt)


def test_pixels_far_larger_than_size_px_are_refused_before_decoding(tmp_path: Path) -> None:
    png = bytearray(png_with_text(crop_png(), meta_to_json(sample_meta())))
    # A header claiming 30000 x 30000 pixels (with a valid checksum) would cost 2.7 GB to decode.
    ihdr = png.index(b"IHDR")
    png[ihdr + 4 : ihdr + 12] = (30000).to_bytes(4, "big") * 2
    png[ihdr + 17 : ihdr + 21] = zlib.crc32(bytes(png[ihdr : ihdr + 17])).to_bytes(4, "big")
    path = tmp_path / "face.png"
    path.write_bytes(bytes(png))
    with pytest.raises(FaceFileError, match="30000x30000"):
        read_aligned_face(path)


@pytest.mark.parametrize(
    ("key", "inner", "literal", "field"),
    [
        ("pose", "yaw", "NaN", "pose.yaw"),
        ("pose", "roll", "Infinity", "pose.roll"),
        ("pose", "pitch", "270", "pose.pitch"),
        ("bbox_xyxy", None, "[0, NaN, 10, 10]", "bbox_xyxy"),
        ("bbox_xyxy", None, "[10, 0, 0, 10]", "bbox_xyxy"),
        ("pts_s", None, "NaN", "pts_s"),
        ("pts_s", None, "-1e12", "pts_s"),
        ("score", None, "NaN", "score"),
        ("score", None, "1.5", "score"),
        ("identity_distance", None, "NaN", "identity_distance"),
        ("identity_distance", None, "-0.5", "identity_distance"),
        ("identity_distance", None, "true", "identity_distance"),
        ("landmarks_crop", "row", "1e300", "landmarks_crop"),
        ("face_to_frame", None, "[[0, 0, 1], [0, 0, 2]]", "face_to_frame"),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_refused(
    tmp_path: Path, key: str, inner: str | None, literal: str, field: str
) -> None:
    refused(face_with_text(tmp_path, with_raw_value(key, literal, inner)), f"field '{field}'")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("frame_index", -1),
        ("face_index", -3),
        ("track_id", -1),
        ("frame_width", 0),
        ("frame_height", 65537),
        ("found_rotation_deg", 45),
        ("found_rotation_deg", 90.0),
        ("face_type", "banana"),
        ("source", "x" * 4097),
        ("smoothing", "s" * 65),
    ],
)
def test_out_of_range_integers_and_strings_are_refused(tmp_path: Path, key: str, value: object) -> None:
    refused(face_with_text(tmp_path, edited_text(lambda d: d.update({key: value}))), f"field '{key}'")


def test_the_writer_refuses_what_the_reader_would(tmp_path: Path) -> None:
    from dataclasses import replace

    small = replace(sample_meta(), size_px=4)
    with pytest.raises(ValueError, match="field 'size_px' must be an integer from 8 to 8192"):
        write_aligned_face(tmp_path, np.zeros((4, 4, 3), np.uint8), small)
    with pytest.raises(ValueError, match=r"field 'pose\.yaw'"):
        write_aligned_face(tmp_path, np.zeros((64, 64, 3), np.uint8),
                           replace(sample_meta(), pose=Pose(float("nan"), 0, 0)))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_compressed_metadata_is_inflated_only_up_to_a_cap(tmp_path: Path) -> None:
    import tracemalloc

    # 64 MB of JSON-looking text in a ~64 KB chunk: refused once the cap is reached, not after.
    text = '{"schema_version":1,"source":"' + "a" * (64 << 20) + '"}'
    body = KEYWORD + b"\x00\x01\x00\x00\x00" + zlib.compress(text.encode(), 9)
    path = tmp_path / "bomb.png"
    path.write_bytes(png_with_chunk(body))
    jpeg_path = tmp_path / "bomb.jpg"
    jpeg = cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
    segment = KEYWORD + b"\x00" + zlib.compress(b" " * (40 << 20), 9)
    assert len(segment) < 0xFFFF
    jpeg_path.write_bytes(b"\xff\xd8\xff\xeb" + (len(segment) + 2).to_bytes(2, "big") + segment + jpeg[2:])
    del text
    for bomb in (path, jpeg_path):
        tracemalloc.start()
        try:
            refused(bomb, "larger than")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 << 20


def test_a_ten_megabyte_source_is_refused_by_the_size_cap(tmp_path: Path) -> None:
    refused(face_with_text(tmp_path, edited_text(lambda d: d.update(source="x" * 10_000_000))), "larger than")


def test_stored_metadata_has_a_size_cap_too(tmp_path: Path) -> None:
    text = edited_text(lambda d: d.update(padding="p" * (3 << 20)))  # unknown fields are ignored
    body = KEYWORD + b"\x00\x00\x00\x00\x00" + text.encode()
    path = tmp_path / "face.png"
    path.write_bytes(png_with_chunk(body))
    refused(path, "larger than")


def test_faceset_info_says_what_is_wrong_with_each_file(tmp_path: Path) -> None:
    crop = np.zeros((64, 64, 3), np.uint8)
    write_aligned_face(tmp_path, crop, sample_meta())
    long_source = "S" * 4000  # valid, but not to be printed whole
    face_with_text(tmp_path, edited_text(lambda d: d.update(source=long_source, frame_index=13)),
                   name="000013_1.png")  # fmt: skip
    face_with_text(tmp_path, edited_text(lambda d: d.update(size_px=0)), name="000014_0.png")
    face_with_text(tmp_path, edited_text(lambda d: d.update(source="x" * 5000)), name="000015_0.png")
    face_with_text(tmp_path, with_raw_value("pose", "NaN", "yaw"), name="000016_0.png")
    (tmp_path / "000017_0.png").write_bytes(png_with_chunk(KEYWORD + b"\x00"))
    info = faceset_info(tmp_path)
    assert info.faces == 2
    reasons = {bad.name: bad.reason for bad in info.unreadable}
    assert sorted(reasons) == ["000014_0.png", "000015_0.png", "000016_0.png", "000017_0.png"]
    assert "field 'size_px'" in reasons["000014_0.png"] and "field 'source'" in reasons["000015_0.png"]
    assert str(tmp_path) not in reasons["000014_0.png"]  # the file is named once, by its name
    result = CliRunner().invoke(cli, ["faceset", "info", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "4 damaged file(s)" in result.output
    for name, field in (("000014_0.png", "size_px"), ("000015_0.png", "source"),
                        ("000016_0.png", "pose.yaw"), ("000017_0.png", "damaged")):  # fmt: skip
        line = next(line for line in result.output.splitlines() if name in line)
        assert field in line and len(line) < 300
    assert long_source not in result.output and "SSS..." in result.output
    assert len(result.output) < 4000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(frame_width=1, frame_height=1), "'landmarks_frame' lies far outside its 1x1"),
        (lambda d: d.update(landmarks_crop=[[1e6, 0]] * 478), "'landmarks_crop' lies far outside its 64 px"),
        (lambda d: d.update(source="../../../../etc/shadow.mp4"), "'source' must be a file name, not a path"),
        (lambda d: d.update(source=""), "'source' must be a file name"),
        (lambda d: d.update(source="a\x1b[31mred.mp4"), "'source' must not hold control characters"),
        (lambda d: d.update(bbox_xyxy=[6400.0, 10, 6500, 20]), "'bbox_xyxy' lies far outside"),
        (
            lambda d: d.update(face_to_frame=[[1.5, 0.1, 64000.0], [-0.1, 1.5, 30.0]]),
            "'face_to_frame' places the crop",
        ),
    ],
)
def test_fields_that_disagree_with_each_other_are_refused(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    refused(face_with_text(tmp_path, edited_text(change)), message)


def test_faceset_info_checks_image_headers_and_with_decode_the_pixels(tmp_path: Path) -> None:
    text = meta_to_json(sample_meta())
    small = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    (tmp_path / "000001_0.png").write_bytes(png_with_text(small, text))  # 32 px pixels, size_px 64
    good = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    data = bytearray(png_with_text(good, text))
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = bytes(20)  # the pixel data damaged, the header intact
    (tmp_path / "000002_0.png").write_bytes(bytes(data))
    quick = faceset_info(tmp_path)
    assert [bad.name for bad in quick.unreadable] == ["000001_0.png"]
    assert "'size_px' is 64 but the image is 32x32" in quick.unreadable[0].reason
    deep = faceset_info(tmp_path, decode=True)
    assert [bad.name for bad in deep.unreadable] == ["000001_0.png", "000002_0.png"]
    result = CliRunner().invoke(cli, ["faceset", "info", "--decode", str(tmp_path)])
    assert result.exit_code == 0 and "2 damaged file(s)" in result.output


def test_a_version_1_face_file_reads_as_not_bridged(tmp_path: Path) -> None:
    def as_version_1(document: dict[str, Any]) -> None:
        document["schema_version"] = 1
        del document["bridged"]

    meta = read_face_meta(face_with_text(tmp_path, edited_text(as_version_1)))
    assert meta.bridged is False and meta.track_id == sample_meta().track_id
    refused(face_with_text(tmp_path, edited_text(lambda d: d.update(bridged="yes")), name="000002_0.png"),
            "field 'bridged' must be true or false")  # fmt: skip
