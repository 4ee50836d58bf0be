"""Fuzzing the aligned-face reader with damaged and hostile files.

Whatever a file holds, reading it either gives metadata whose every field is within the schema's
bounds or fails with FaceFileError (exit 2, one sentence); any other exception is a crash.
The bounds are restated here from the file-format contract rather than imported, so that a bound
loosened by mistake in the reader shows up as a failure.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from faceweave.formats.aligned import FaceFileError, FaceMeta, meta_to_json, read_aligned_face, read_face_meta
from faceweave.formats.embed import KEYWORD, EmbedError, jpeg_with_text, png_with_text
from tests.unit.test_face_format import png_with_chunk, sample_meta

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis folder in the checkout; a failure prints how to reproduce it
)

FACE_TYPES = {"half", "mid", "full", "whole", "head"}
META = sample_meta()
TEXT = meta_to_json(META)
DOCUMENT: dict[str, Any] = json.loads(TEXT)
_ok, _png = cv2.imencode(".png", np.zeros((META.size_px, META.size_px, 3), np.uint8))
_ok2, _jpg = cv2.imencode(".jpg", np.zeros((META.size_px, META.size_px, 3), np.uint8))
CROP_PNG, CROP_JPG = _png.tobytes(), _jpg.tobytes()


def stored_png(raw: bytes) -> bytes:
    """A PNG with the metadata in an uncompressed iTXt chunk (the writer always compresses)."""
    return png_with_chunk(KEYWORD + b"\x00\x00\x00\x00\x00" + raw, META.size_px)


CONTAINERS: dict[str, Callable[[str], bytes]] = {
    "png": lambda text: png_with_text(CROP_PNG, text),
    "png-stored": lambda text: stored_png(text.encode()),
    "jpg": lambda text: jpeg_with_text(CROP_JPG, text),
}


def embedded(container: str, text: str) -> bytes:
    try:
        return CONTAINERS[container](text)
    except EmbedError:
        assume(False)  # too large for one JPEG segment: not a file the writer can make
        raise AssertionError("unreachable") from None


def assert_within_bounds(meta: FaceMeta) -> None:
    def exact_int(value: object) -> bool:
        return type(value) is int

    def finite(value: object, lo: float = -math.inf, hi: float = math.inf) -> bool:
        return type(value) is float and math.isfinite(value) and lo <= value <= hi

    assert isinstance(meta.source, str) and len(meta.source) <= 4096
    assert isinstance(meta.smoothing, str) and len(meta.smoothing) <= 64
    assert meta.face_type in FACE_TYPES
    for index in (meta.frame_index, meta.face_index, meta.track_id):
        assert exact_int(index) and index >= 0
    for side in (meta.frame_width, meta.frame_height):
        assert exact_int(side) and 1 <= side <= 65536
    assert exact_int(meta.size_px) and 8 <= meta.size_px <= 8192
    assert exact_int(meta.found_rotation_deg) and meta.found_rotation_deg in (0, 90, 180, 270)
    assert finite(meta.pts_s, -1e9, 1e9) and finite(meta.score, 0.0, 1.0)
    assert all(finite(angle, -180.0, 180.0) for angle in (meta.pose.yaw, meta.pose.pitch, meta.pose.roll))
    assert len(meta.bbox_xyxy) == 4 and all(finite(v) for v in meta.bbox_xyxy)
    assert meta.identity_distance is None or finite(meta.identity_distance, 0.0)
    for array, shape in ((meta.landmarks_frame_raw, (478, 3)), (meta.landmarks_frame, (478, 3)),
                         (meta.landmarks_crop, (478, 2)), (meta.face_to_frame, (2, 3))):  # fmt: skip
        assert array.dtype == np.float64 and array.shape == shape and np.isfinite(array).all()


def check_file(folder: Path, data: bytes, suffix: str = ".png") -> None:
    """Both readers on `data`: bounded metadata or FaceFileError; anything else propagates."""
    path = folder / f"fuzzed{suffix}"
    path.write_bytes(data)
    try:
        assert_within_bounds(read_face_meta(path))
    except FaceFileError as exc:
        assert str(path) in str(exc)
    try:
        image, meta = read_aligned_face(path)
    except FaceFileError as exc:
        assert str(path) in str(exc)
    else:
        assert_within_bounds(meta)
        assert image.shape == (meta.size_px, meta.size_px, 3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# JSON literals that Python's json reads into values that break naive code.
RAW_LITERALS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 400, "-" + "9" * 5000,
                "1e-999", "-0", "1E308", "[" * 60 + "]" * 60, "{" * 30 + "}" * 30, '"\\ud800"',
                "true", "null", "[]", "{}", '"' + "x" * 5000 + '"']  # fmt: skip

long_strings = st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 20_000))
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.integers(-10, 70_000)
    | st.floats(-200.0, 200.0)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | long_strings
    | st.sampled_from([0, -1, 8, 7, 8192, 8193, 65536, 65537, 90, 45, 180.0, 180.5, 1.0, 1.0001])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
MARKER = "@@raw@@"
# A value as JSON text: hypothesis values (NaN and infinities written as json writes them) or a raw literal.
value_texts = json_values.map(lambda v: json.dumps(v, allow_nan=True)) | st.sampled_from(RAW_LITERALS)
# schema_version last: hypothesis favours a list's first elements, and that key alone would
# otherwise end most examples before any other field is read.
keys = st.sampled_from([*sorted(set(DOCUMENT) - {"schema_version"}), "unknown", "schema_version"])


@st.composite
def substituted_documents(draw: st.DrawFn) -> str:
    """The valid metadata with a few values replaced (at the top, in pose, in an array) or removed."""
    document = json.loads(TEXT)
    raws: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        key: str | int = draw(keys)
        target: Any = document
        if key in document and draw(st.booleans()):
            inner = document[key]
            if isinstance(inner, dict) and inner:
                target, key = inner, draw(st.sampled_from(sorted(inner)))
            elif isinstance(inner, list) and inner:
                index = draw(st.integers(0, len(inner) - 1))
                if isinstance(inner[index], list) and inner[index]:
                    target, key = inner[index], draw(st.integers(0, len(inner[index]) - 1))
                else:
                    target, key = inner, index
        if isinstance(target, dict) and draw(st.sampled_from(["replace"] * 5 + ["delete"])) == "delete":
            target.pop(key, None)
            continue
        target[key] = f"{MARKER}{len(raws)}"
        raws.append(draw(value_texts))
    text = json.dumps(document, separators=(",", ":"))
    for number, raw in enumerate(raws):
        text = text.replace(json.dumps(f"{MARKER}{number}"), raw)
    return text


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, landmarks: list[int]) -> bytes:
    """Bytes flipped, inserted, deleted or cut off, often near `landmarks` (chunk or field offsets)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        near = draw(st.sampled_from(landmarks)) + draw(st.integers(-16, 16))
        pos = min(max(draw(st.integers(0, len(out))) if draw(st.booleans()) else near, 0), len(out))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if op in ("flip", "set") and pos < len(out):
            out[pos] = (
                out[pos] ^ (1 << draw(st.integers(0, 7))) if op == "flip" else draw(st.integers(0, 255))
            )
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del out[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del out[pos:]
    return bytes(out)


def offsets(data: bytes, needles: list[bytes]) -> list[int]:
    found = [0, len(data)]
    for needle in needles:
        start = data.find(needle)
        while start != -1:
            found.append(start)
            start = data.find(needle, start + 1)
    return found


def with_fixed_crcs(png: bytes) -> bytes:
    """Recompute every chunk's CRC, so damage inside a chunk reaches the parser behind the check."""
    out, pos = bytearray(png), 8
    while pos + 12 <= len(out):
        (length,) = struct.unpack(">I", out[pos : pos + 4])
        if pos + 12 + length > len(out):
            break
        out[pos + 8 + length : pos + 12 + length] = struct.pack(
            ">I", zlib.crc32(out[pos + 4 : pos + 8 + length])
        )
        pos += 12 + length
    return bytes(out)


@FUZZ
@given(text=substituted_documents(), container=st.sampled_from(sorted(CONTAINERS)))
def test_substituted_values_are_bounded_or_refused(folder: Path, text: str, container: str) -> None:
    check_file(folder, embedded(container, text), ".jpg" if container == "jpg" else ".png")


JSON_MARKS = offsets(TEXT.encode(), [b'"', b"[", b"{", b":", b"."])


@FUZZ
@given(data=st.data(), container=st.sampled_from(sorted(CONTAINERS)))
def test_damaged_metadata_text_is_bounded_or_refused(
    folder: Path, data: st.DataObject, container: str
) -> None:
    raw = data.draw(mutated_bytes(TEXT.encode(), JSON_MARKS))
    if container == "png-stored":  # stored bytes may be any bytes, not only UTF-8
        check_file(folder, stored_png(raw))
    else:
        text = raw.decode("utf-8", "replace")
        check_file(folder, embedded(container, text), ".jpg" if container == "jpg" else ".png")


FILES = {fmt: embedded(container, TEXT) for fmt, container in (("png", "png"), ("jpg", "jpg"))}
FILE_MARKS = {
    fmt: offsets(data, [b"IHDR", b"iTXt", b"IDAT", b"IEND", KEYWORD, b"\xff\xeb", b"\xff\xc0", b"\xff\xda"])
    for fmt, data in FILES.items()
}


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["png", "jpg"]), fix_crcs=st.booleans())
def test_damaged_files_are_bounded_or_refused(
    folder: Path, data: st.DataObject, fmt: str, fix_crcs: bool
) -> None:
    damaged = data.draw(mutated_bytes(FILES[fmt], FILE_MARKS[fmt]))
    if fix_crcs and fmt == "png":
        damaged = with_fixed_crcs(damaged)
    check_file(folder, damaged, f".{fmt}")


@FUZZ
@given(
    depth=st.integers(0, 100_000), opener=st.sampled_from(["[", "{"]), tail=st.sampled_from(["", "]", "1"])
)
def test_nesting_of_any_depth_is_refused_cleanly(folder: Path, depth: int, opener: str, tail: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = (opener + ('"k":' if opener == "{" else "")) * depth + tail + closer * depth
    text = TEXT[:-1] + ',"extra":' + nested + "}"
    check_file(folder, embedded("png", text))
