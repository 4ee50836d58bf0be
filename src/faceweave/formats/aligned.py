"""Aligned face files: one image per face with versioned JSON metadata inside it.

`write_aligned_face` encodes the crop (PNG lossless, or JPEG), embeds the metadata and writes the
file atomically; `read_aligned_face` / `read_face_meta` validate the schema and fail with one clear
sentence on missing, damaged or foreign metadata. Schema changes get a migration in MIGRATIONS.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.atomic import write_bytes_atomic
from faceweave.errors import UserError
from faceweave.extract.template import FACE_TYPES
from faceweave.formats.embed import (
    MAX_TEXT_BYTES,
    EmbedError,
    embedded_text,
    jpeg_with_text,
    pixel_size,
    png_with_text,
    with_text_replaced,
)
from faceweave.records import ImageBGR, as_image

FACE_SCHEMA_VERSION = 3
FACE_SUFFIXES = (".png", ".jpg")


def _v1_to_v2(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "bridged": False}  # version 2 marks faces carried over a detector miss


def _v2_to_v3(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "labels": {"include": [], "exclude": []}}  # version 3 holds a user's mask labels


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}
POLYGONS_MAX = 256  # per kind and face
POLYGON_POINTS = (3, 4096)


@dataclass(frozen=True)
class Labels:
    """A user's mask labels (DeepFaceLab's XSeg polygons), in crop pixels: the face is what the
    `include` polygons cover, less what the `exclude` polygons cover (a hand, hair, glasses)."""

    include: tuple[npt.NDArray[np.float64], ...] = ()
    exclude: tuple[npt.NDArray[np.float64], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def to_json(self) -> dict[str, list[list[list[float]]]]:
        return {
            kind: [np.round(p, 2).tolist() for p in getattr(self, kind)] for kind in ("include", "exclude")
        }


def labels_from(value: object, size: int) -> Labels:
    """Labels checked: each polygon 3 to 4096 finite points within the crop's reach."""
    if not isinstance(value, dict) or set(value) - {"include", "exclude"}:
        raise ValueError("field 'labels' must be a table with include and exclude polygons")
    kinds: dict[str, tuple[npt.NDArray[np.float64], ...]] = {}
    for kind in ("include", "exclude"):
        polygons = value.get(kind, [])
        if not isinstance(polygons, list) or len(polygons) > POLYGONS_MAX:
            raise ValueError(f"field 'labels.{kind}' must be a list of at most {POLYGONS_MAX} polygons")
        checked = []
        for polygon in polygons:
            ok = isinstance(polygon, list) and POLYGON_POINTS[0] <= len(polygon) <= POLYGON_POINTS[1]
            ok = ok and all(
                isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in polygon
            )
            points = np.asarray(polygon, np.float64) if ok else np.zeros((0, 2))
            if not ok or not ((points >= -size) & (points <= 2 * size)).all():
                raise ValueError(
                    f"field 'labels.{kind}' must hold polygons of 3 to 4096 [x, y] points "
                    f"within the {size} px crop"
                )
            checked.append(points)
        kinds[kind] = tuple(checked)
    return Labels(kinds["include"], kinds["exclude"])


# Bounds of the schema. They are loose enough for any real extraction and tight enough that no
# later stage can overflow, divide by zero or print a huge string because of a file's metadata.
INDEX_MAX = 2**31 - 1  # frame, face and track numbers
FRAME_SIDE_RANGE = (1, 65536)
SIZE_PX_RANGE = (8, 8192)
COORD_LIMIT = 1e6  # |pixel coordinate| and |matrix entry|: far beyond a 65536 px frame
PTS_MAX_S = 1e9
DISTANCE_MAX = 1e6
ANGLE_LIMIT = 180.0
ROTATIONS = (0, 90, 180, 270)  # the turns extraction searches a frame in
SOURCE_MAX_CHARS = 4096
SMOOTHING_MAX_CHARS = 64
JSON_MAX_DEPTH = 8  # the schema itself nests 3 deep (object, landmark array, row)
_LONGEST_INT_LITERAL = 40  # digits; no valid field needs more
_BRACKET_STEP = np.zeros(256, np.int64)  # per byte: +1 opens a level, -1 closes one
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1
# A string literal, or an unterminated one up to the end: every quote starts a match that always
# succeeds, so the scan stays linear however many quotes and backslashes a hostile text holds.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)


class FaceFileError(UserError):
    """An aligned face file is missing, damaged, or not one of ours."""


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees: yaw + turns to the image's right, pitch + looks down, roll + clockwise."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class FaceMeta:
    """Everything a later stage needs to know about one aligned face.

    Landmarks are (478, 3) in frame pixels (z: depth, smaller is nearer) and (478, 2) in crop
    pixels. `landmarks_frame` is what alignment used: smoothed over time when `smoothing` is not
    "none"; `landmarks_frame_raw` is the detector's own, unsmoothed.
    """

    source: str
    frame_index: int
    pts_s: float
    frame_width: int
    frame_height: int
    face_index: int
    track_id: int
    bbox_xyxy: tuple[float, float, float, float]
    score: float
    landmarks_frame_raw: npt.NDArray[np.float64]
    landmarks_frame: npt.NDArray[np.float64]
    landmarks_crop: npt.NDArray[np.float64]
    face_to_frame: npt.NDArray[np.float64]
    face_type: str
    size_px: int
    pose: Pose
    smoothing: str
    found_rotation_deg: int = 0
    identity_distance: float | None = None
    bridged: bool = False  # the detector missed this face; its mesh was re-fitted where the track was
    labels: Labels = Labels()

    def file_name(self, fmt: str) -> str:
        return f"{self.frame_index:06d}_{self.face_index}.{fmt}"


_ARRAYS = {"landmarks_frame_raw": (478, 3), "landmarks_frame": (478, 3), "landmarks_crop": (478, 2),
           "face_to_frame": (2, 3)}  # fmt: skip
_PRECISION = {"landmarks_frame_raw": 3, "landmarks_frame": 3, "landmarks_crop": 3}


def meta_to_json(meta: FaceMeta) -> str:
    document: dict[str, Any] = {"schema_version": FACE_SCHEMA_VERSION}
    for key, value in asdict(meta).items():
        if key == "labels":
            value = meta.labels.to_json()
        elif key in _ARRAYS:
            array = np.asarray(value, np.float64)
            digits = _PRECISION.get(key)
            value = (np.round(array, digits) if digits else array).tolist()
        document[key] = value
    text = json.dumps(document, separators=(",", ":"))
    # A file the reader would refuse is better not written at all: fail here, at its cause.
    meta_from_json(text)
    return text


def _json_depth(text: str) -> int:
    """How deep arrays and objects nest, counted without recursion (brackets in strings skipped)."""
    brackets = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "surrogatepass"), np.uint8)
    return int(np.cumsum(_BRACKET_STEP[brackets]).max(initial=0))


def _int_literal(digits: str) -> int | float:
    # A literal longer than any valid value would make int() slow and float() overflow; as an
    # infinity it fails its field's check, which then names the field.
    if len(digits.lstrip("-")) > _LONGEST_INT_LITERAL:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(document: dict[str, Any], key: str, label: str) -> Any:
    if key not in document:
        raise ValueError(f"missing field {label!r}")
    return document[key]


def _integer(document: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = _get(document, key, key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"field {key!r} must be an integer from {lo} to {hi}")
    return value


def _number(document: dict[str, Any], key: str, lo: float, hi: float, label: str | None = None) -> float:
    label = label or key
    value = _get(document, key, label)
    # The chained comparison is False for NaN and for infinities (the bounds are finite), and
    # compares an arbitrarily large int exactly, so float() below cannot overflow.
    if not _is_number(value) or not lo <= value <= hi:
        raise ValueError(f"field {label!r} must be a finite number from {lo:g} to {hi:g}")
    return float(value)


def _text(document: dict[str, Any], key: str, max_chars: int) -> str:
    value = _get(document, key, key)
    if not isinstance(value, str) or len(value) > max_chars:
        raise ValueError(f"field {key!r} must be a string of at most {max_chars} characters")
    return value


def _choice(document: dict[str, Any], key: str, choices: tuple[Any, ...]) -> Any:
    value = _get(document, key, key)
    if isinstance(value, bool) or not isinstance(value, type(choices[0])) or value not in choices:
        raise ValueError(f"field {key!r} must be one of {', '.join(map(str, choices))}")
    return value


def _array(document: dict[str, Any], key: str, shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    rows = _get(document, key, key)
    problem = ValueError(f"field {key!r} must be finite numbers of shape {shape} within ±{COORD_LIMIT:g}")
    # Element types are checked first: numpy would read a bool as 1.0 and a string as a number.
    # (json only makes exact ints and floats, so a set of types is enough, and fast.)
    if not isinstance(rows, list) or len(rows) != shape[0]:
        raise problem
    if not all(isinstance(row, list) and len(row) == shape[1] for row in rows):
        raise problem
    if not {type(v) for row in rows for v in row} <= {int, float}:
        raise problem
    try:
        array = np.array(rows, np.float64)
    except OverflowError as exc:
        raise problem from exc
    if not (np.abs(array) <= COORD_LIMIT).all():  # False for NaN too
        raise problem
    return array


def _bbox(document: dict[str, Any]) -> tuple[float, float, float, float]:
    box = _get(document, "bbox_xyxy", "bbox_xyxy")
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(_is_number(v) and -COORD_LIMIT <= v <= COORD_LIMIT for v in box)
        or not (box[0] <= box[2] and box[1] <= box[3])
    ):
        raise ValueError(
            f"field 'bbox_xyxy' must be 4 finite numbers x0 <= x1, y0 <= y1 within ±{COORD_LIMIT:g}"
        )
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0, y0, x1, y1


def _pose(document: dict[str, Any]) -> Pose:
    angles = _get(document, "pose", "pose")
    if not isinstance(angles, dict):
        raise ValueError("field 'pose' must be an object with yaw, pitch and roll")
    lo, hi = -ANGLE_LIMIT, ANGLE_LIMIT
    return Pose(*(_number(angles, k, lo, hi, f"pose.{k}") for k in ("yaw", "pitch", "roll")))


def _document(text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT_BYTES:
        raise ValueError(f"the metadata is longer than {MAX_TEXT_BYTES} characters")
    # json recurses once per nesting level; a cheap scan first keeps a hostile file from
    # exhausting the stack (RecursionError is caught too, should the scan ever be fooled).
    if _json_depth(text) > JSON_MAX_DEPTH:
        raise ValueError(f"the metadata nests more than {JSON_MAX_DEPTH} levels deep")
    try:
        document = json.loads(text, parse_int=_int_literal)
    except (ValueError, RecursionError) as exc:
        raise ValueError("the metadata is not valid JSON") from exc
    if not isinstance(document, dict):
        raise ValueError("the metadata is not a JSON object")
    return document


def meta_from_json(text: str) -> FaceMeta:
    """Parse and validate; ValueError naming the problem (the field, when one is at fault)."""
    document = _document(text)
    if "schema_version" not in document:
        raise ValueError("schema_version is missing")
    version = _integer(document, "schema_version", 1, INDEX_MAX)
    del document["schema_version"]
    if version > FACE_SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is newer than this faceweave reads ({FACE_SCHEMA_VERSION})"
        )
    while version < FACE_SCHEMA_VERSION:
        document = MIGRATIONS[version](document)
        version += 1
    fields: dict[str, Any] = {key: _array(document, key, shape) for key, shape in _ARRAYS.items()}
    # Merge scales and inverts this map; a singular one would squash the face to a line.
    if abs(np.linalg.det(fields["face_to_frame"][:, :2])) < 1e-9:
        raise ValueError("field 'face_to_frame' must be an invertible affine map")
    fields["pose"] = _pose(document)
    fields["bbox_xyxy"] = _bbox(document)
    fields["source"] = _text(document, "source", SOURCE_MAX_CHARS)
    fields["smoothing"] = _text(document, "smoothing", SMOOTHING_MAX_CHARS)
    fields["face_type"] = _choice(document, "face_type", tuple(FACE_TYPES))
    fields["found_rotation_deg"] = _choice(document, "found_rotation_deg", ROTATIONS)
    for key in ("frame_index", "face_index", "track_id"):
        fields[key] = _integer(document, key, 0, INDEX_MAX)
    for key in ("frame_width", "frame_height"):
        fields[key] = _integer(document, key, *FRAME_SIDE_RANGE)
    fields["size_px"] = _integer(document, "size_px", *SIZE_PX_RANGE)
    # A frame without a timestamp in a stream that does not start at zero can sit before zero.
    fields["pts_s"] = _number(document, "pts_s", -PTS_MAX_S, PTS_MAX_S)
    fields["score"] = _number(document, "score", 0.0, 1.0)
    bridged = document.get("bridged")
    if not isinstance(bridged, bool):
        raise ValueError("field 'bridged' must be true or false")
    fields["bridged"] = bridged
    fields["labels"] = labels_from(document.get("labels"), fields["size_px"])
    fields["identity_distance"] = (
        None if document.get("identity_distance") is None
        else _number(document, "identity_distance", 0.0, DISTANCE_MAX)
    )  # fmt: skip
    _check_consistent(fields)
    return FaceMeta(**fields)


def _check_consistent(fields: dict[str, Any]) -> None:
    """Fields that must agree: landmarks in (or near) the frame and the crop they claim, and a
    source that is a file name (extraction records the input's name, never a path)."""
    w, h, size = fields["frame_width"], fields["frame_height"], fields["size_px"]
    for key in ("landmarks_frame", "landmarks_frame_raw"):
        xy = fields[key][:, :2]
        if not ((xy >= (-w, -h)) & (xy <= (2 * w, 2 * h))).all():
            raise ValueError(f"field {key!r} lies far outside its {w}x{h} frame")
    if not ((fields["landmarks_crop"] >= -size) & (fields["landmarks_crop"] <= 2 * size)).all():
        raise ValueError(f"field 'landmarks_crop' lies far outside its {size} px crop")
    x0, y0, x1, y1 = fields["bbox_xyxy"]
    if x1 < -w or x0 > 2 * w or y1 < -h or y0 > 2 * h:
        raise ValueError(f"field 'bbox_xyxy' lies far outside its {w}x{h} frame")
    centre = fields["face_to_frame"] @ np.array([size / 2, size / 2, 1.0])
    if not (-w <= centre[0] <= 2 * w and -h <= centre[1] <= 2 * h):
        raise ValueError(f"field 'face_to_frame' places the crop far outside its {w}x{h} frame")
    source = fields["source"]
    if not source or "/" in source or "\\" in source or source in (".", ".."):
        raise ValueError("field 'source' must be a file name, not a path")
    if any(ord(c) < 32 or ord(c) == 127 for c in source):
        raise ValueError("field 'source' must not hold control characters")


def encode_face(crop: ImageBGR, meta: FaceMeta, fmt: str, jpeg_quality: int = 95) -> bytes:
    if crop.shape[:2] != (meta.size_px, meta.size_px):
        raise ValueError(f"a {crop.shape[1]}x{crop.shape[0]} crop does not match size_px {meta.size_px}")
    text = meta_to_json(meta)
    if fmt == "jpg":
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        return jpeg_with_text(buf.tobytes(), text) if ok else b""
    # Huffman-only at level 1 measured here 2x faster than the default and smaller too (noisy crops).
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
    ok, buf = cv2.imencode(".png", crop, params)
    return png_with_text(buf.tobytes(), text) if ok else b""


def write_aligned_face(folder: Path, crop: ImageBGR, meta: FaceMeta, fmt: str = "png",
                       jpeg_quality: int = 95) -> Path:  # fmt: skip
    """Write one aligned face under its canonical name, atomically; returns the path."""
    path = folder / meta.file_name(fmt)
    write_bytes_atomic(path, encode_face(crop, meta, fmt, jpeg_quality))
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise FaceFileError(f"{path} does not exist") from exc
    except OSError as exc:
        raise FaceFileError(f"{path} cannot be read ({exc.strerror})") from exc


def read_face_meta(path: Path, check_size: bool = False) -> FaceMeta:
    """The metadata of an aligned face file, validated; with `check_size`, also against the size
    its image header gives (cheap: nothing is decoded)."""
    data = _read_bytes(path)
    meta = _parse(path, data)
    if check_size:
        _check_header(path, data, meta.size_px)
    return meta


def _check_header(path: Path, data: bytes, side: int) -> None:
    size = pixel_size(data)
    if size is not None and size != (side, side):
        raise FaceFileError(
            f"{path} has corrupt faceweave metadata: field 'size_px' is {side} but the image is "
            f"{size[0]}x{size[1]} pixels"
        )


def _parse(path: Path, data: bytes) -> FaceMeta:
    try:
        return meta_from_json(embedded_text(data))
    except EmbedError as exc:
        raise FaceFileError(f"{path} is not a faceweave aligned face: {exc}") from exc
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise FaceFileError(f"{path} has corrupt faceweave metadata: {exc}") from exc


def rewrite_face_meta(path: Path, meta: FaceMeta) -> None:
    """Replace the metadata of the face file at `path` (its pixels untouched), atomically."""
    try:
        data = with_text_replaced(_read_bytes(path), meta_to_json(meta))
    except EmbedError as exc:
        raise FaceFileError(f"{path} is not a faceweave aligned face: {exc}") from exc
    write_bytes_atomic(path, data)


def read_aligned_face(path: Path) -> tuple[ImageBGR, FaceMeta]:
    data = _read_bytes(path)
    meta = _parse(path, data)
    side = meta.size_px
    # The header is checked before decoding so a tiny file cannot make the decoder allocate a huge image.
    _check_header(path, data, side)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise FaceFileError(f"{path} has metadata but its pixels cannot be decoded")
    if image.shape[:2] != (side, side):
        raise FaceFileError(
            f"{path} has corrupt faceweave metadata: field 'size_px' is {side} but the image is "
            f"{image.shape[1]}x{image.shape[0]} pixels"
        )
    return as_image(image), meta


def list_face_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in FACE_SUFFIXES and not p.name.startswith("."))
