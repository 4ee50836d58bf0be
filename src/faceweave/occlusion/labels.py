"""A user's mask labels (DeepFaceLab's XSeg): polygons stored in each face file, the masks a
segmenter taught on them writes beside the faceset, and both carried over a re-extraction.

Labels live in the face file's metadata (`labels`: include and exclude polygons in crop pixels).
Masks live in `<faceset>/_masks/<face file stem>.png` (8-bit, 255 = face), written by
`faceweave mask apply`; training and the `xseg` mask source read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.atomic import write_bytes_atomic
from faceweave.errors import UserError
from faceweave.formats.aligned import (
    FaceFileError,
    FaceMeta,
    Labels,
    labels_from,
    list_face_files,
    meta_to_json,
    read_face_meta,
    rewrite_face_meta,
)
from faceweave.formats.jsonfile import read_json
from faceweave.geometry import apply, compose, invert

MASKS_DIR = "_masks"
LABEL_FILE_MAX_BYTES = 256 << 20


def mask_path(face: Path) -> Path:
    return face.parent / MASKS_DIR / f"{face.stem}.png"


def label_mask(labels: Labels, crop_size: int, size: int) -> npt.NDArray[np.float32]:
    """(size, size): 1 inside the include polygons and outside the exclude ones."""
    mask = np.zeros((size, size), np.float32)
    scale = size / crop_size
    for kind, value in (("include", 1.0), ("exclude", 0.0)):
        for polygon in getattr(labels, kind):
            points = np.round(((polygon + 0.5) * scale - 0.5) * 16).astype(np.int32)
            cv2.fillPoly(mask, [points], (value,), cv2.LINE_AA, shift=4)
    return mask


def read_mask(face: Path, size: int) -> npt.NDArray[np.float32] | None:
    """The applied mask of a face file at `size` px, or None when there is none."""
    path = mask_path(face)
    if not path.is_file():
        return None
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise UserError(f"the mask {path} cannot be read; run `faceweave mask apply` again")
    return np.asarray(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), np.float32) / 255


def write_mask(face: Path, mask: npt.NDArray[np.float32]) -> None:
    path = mask_path(face)
    path.parent.mkdir(exist_ok=True)
    encoded = cv2.imencode(".png", np.asarray(np.clip(mask * 255 + 0.5, 0, 255), np.uint8))[1]
    write_bytes_atomic(path, encoded.tobytes())


def labels_from_json(path: Path) -> dict[str, Any]:
    """{"faces": {"000012_0.png": {"include": [[[x, y], ...]], "exclude": [...]}, ...}}."""
    document = read_json(
        path, LABEL_FILE_MAX_BYTES, "a label file (JSON with a 'faces' table)", "does not exist"
    )
    faces = document.get("faces") if isinstance(document, dict) else None
    if not isinstance(faces, dict):
        raise UserError(f"{path} has no 'faces' table naming face files and their polygons")
    return faces


def labels_from_images(folder: Path) -> dict[str, Any]:
    """Mask pictures named after face files (white = face): outlines become include polygons and
    holes exclude polygons."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of mask pictures")
    found: dict[str, Any] = {}
    for picture in sorted(folder.iterdir()):
        if picture.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
            continue
        image = cv2.imread(str(picture), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise UserError(f"{picture} cannot be read as a picture")
        contours, hierarchy = cv2.findContours((image >= 128).astype(np.uint8), cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)  # fmt: skip
        include: list[list[list[float]]] = []
        exclude: list[list[list[float]]] = []
        for contour, info in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=False):
            if len(contour) < 3:
                continue
            (exclude if info[3] >= 0 else include).append(contour[:, 0, :].astype(float).tolist())
        found[f"{picture.stem}.png"] = {"include": include, "exclude": exclude, "_size": image.shape[0]}
    return found


def import_labels(faceset: Path, labels: dict[str, Any], wait_s: float = 0.0) -> int:
    """Store `labels` (face file name -> polygons) in the faceset's face files. Everything is checked
    first: a label for a face that is not there, or a polygon outside its crop, changes nothing."""
    if not faceset.is_dir():
        raise UserError(f"{faceset} is not a faceset folder")
    files = {p.name: p for p in list_face_files(faceset)}
    by_stem = {p.stem: p for p in files.values()}
    unknown = [name for name in labels if name not in files and Path(name).stem not in by_stem]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UserError(
            f"the labels name {len(unknown)} face(s) that are not in {faceset}: {shown}; nothing was changed"
        )
    updates: list[tuple[Path, FaceMeta]] = []
    for name, value in labels.items():
        path = files.get(name) or by_stem[Path(name).stem]
        meta = read_face_meta(path)
        if isinstance(value, dict) and "_size" in value:  # from a mask picture: to crop pixels
            k = meta.size_px / max(int(value["_size"]), 1)
            value = {
                kind: [[[x * k, y * k] for x, y in poly] for poly in value[kind]]
                for kind in ("include", "exclude")
            }
        try:
            parsed = labels_from(value, meta.size_px)
            labelled = _with_labels(meta, parsed)
            meta_to_json(labelled)  # the whole metadata must still fit a face file
        except ValueError as exc:
            raise UserError(f"labels of {path.name}: {exc}; nothing was changed") from exc
        updates.append((path, labelled))
    from faceweave.faceset.moves import folder_lock

    with folder_lock(faceset, wait_s):  # no sort, clean or studio move renames a face while it is rewritten
        for path, meta in updates:
            if not path.is_file():
                raise UserError(f"{path.name} was moved meanwhile; the faces before it were labelled")
            rewrite_face_meta(path, meta)
    return len(updates)


def _with_labels(meta: FaceMeta, labels: Labels) -> FaceMeta:
    from dataclasses import replace

    return replace(meta, labels=labels)


def labelled_faces(faceset: Path) -> list[tuple[Path, FaceMeta]]:
    found = []
    for path in list_face_files(faceset):
        meta = read_face_meta(path)
        if meta.labels:
            found.append((path, meta))
    return found


def carry_over(old_dir: Path, new_dir: Path) -> int:
    """Labels and applied masks of the faces in `old_dir` onto the faces of `new_dir` that show the
    same face in the same frame (boxes overlapping by half), moved into the new crops. Returns how
    many faces got them."""
    from faceweave.extract.tracking import iou

    old: dict[int, list[tuple[Path, FaceMeta]]] = {}
    for path in list_face_files(old_dir):
        try:
            meta = read_face_meta(path)
        except FaceFileError:
            continue
        if meta.labels or mask_path(path).is_file():
            old.setdefault(meta.frame_index, []).append((path, meta))
    carried = 0
    for path in list_face_files(new_dir):
        meta = read_face_meta(path)
        match = max(
            old.get(meta.frame_index, []), key=lambda e: iou(e[1].bbox_xyxy, meta.bbox_xyxy), default=None
        )
        if match is None or iou(match[1].bbox_xyxy, meta.bbox_xyxy) < 0.5:
            continue
        old_path, old_meta = match
        to_new = compose(invert(meta.face_to_frame), old_meta.face_to_frame)  # old crop -> new crop
        if old_meta.labels:
            rewrite_face_meta(path, _with_labels(meta, moved_labels(old_meta.labels, old_meta, meta)))
        applied = read_mask(old_path, old_meta.size_px)
        if applied is not None:
            size = meta.size_px
            write_mask(path, np.asarray(cv2.warpAffine(applied, to_new, (size, size)), np.float32))
        carried += 1
    return carried


def moved_labels(labels: Labels, old: FaceMeta, new: FaceMeta) -> Labels:
    """`labels` drawn on the crop of `old`, moved into the crop of `new` through the frame."""
    to_new = compose(invert(new.face_to_frame), old.face_to_frame)  # old crop -> new crop
    return Labels(
        *(tuple(apply(to_new, p) for p in getattr(labels, kind)) for kind in ("include", "exclude"))
    )


def copy_labels(face: Path, count: int, workers: int = 1, wait_s: float = 0.0) -> list[str]:
    """The labels of `face` onto the next `count` faces of its track (by frame), each moved into its
    own crop, as DeepFaceLab's editor copies a polygon forward. Returns the names labelled (a face
    the moved polygons would leave far outside its crop keeps its own labels)."""
    from faceweave.faceset.moves import folder_lock

    meta = read_face_meta(face)
    if not meta.labels:
        raise UserError(f"{face.name} has no labels to copy; save some first")
    with folder_lock(face.parent, wait_s):
        return _copy_forward(face, meta, count, workers)


def _copy_forward(face: Path, meta: FaceMeta, count: int, workers: int) -> list[str]:
    from faceweave.faceset.stats import faceset_stats

    stats = faceset_stats(face.parent, ("meta",), workers)
    frames, tracks = np.asarray(stats["frame_index"]), np.asarray(stats["track_id"])
    later = np.flatnonzero((tracks == meta.track_id) & (frames > meta.frame_index))
    chosen = [stats.names[int(i)] for i in later[np.argsort(frames[later], kind="stable")][:count]]
    labelled = []
    for name in chosen:
        path = face.parent / name
        target = read_face_meta(path)
        moved = moved_labels(meta.labels, meta, target)
        try:  # a polygon moved far outside this crop (a big turn of the head) is not copied there
            labels_from(moved.to_json(), target.size_px)
            meta_to_json(_with_labels(target, moved))
        except ValueError:
            continue
        rewrite_face_meta(path, _with_labels(target, moved))
        labelled.append(name)
    return labelled
