"""The faceset browser's work: faces in any sort method's order, page by page, thumbnails, one
face's details, moving faces to `_rejected/manual/` and back, and src's coverage of dst.

Orders come from the same statistics cache and sort methods as `faceweave faceset sort`, but
nothing is renamed: the browser only shows the order. Moves go through the faceset tools' own
functions (locked, journalled, masks moved along), so the CLI and the studio always agree.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.config import FacesetConfig
from faceweave.errors import UserError
from faceweave.faceset.clean import Rejection, move_rejected, rejected_reasons, restore_faces
from faceweave.faceset.moves import REJECTED_DIR, folder_lock, recover
from faceweave.faceset.sorts import SortInputs
from faceweave.faceset.stats import faceset_stats
from faceweave.formats.aligned import list_face_files, read_aligned_face, read_face_meta
from faceweave.occlusion.labels import mask_path
from faceweave.registries import SORTS

MANUAL = "manual"  # the _rejected/ shelf of faces the studio set aside
FACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(png|jpg|jpeg)$", re.ASCII)
THUMB_PX = 96
THUMBS_KEPT = 30_000
PAGE_MAX = 1000
LOCK_WAIT_S = 10.0  # a studio change waits this long for another change of the faceset
SHEET_MAX = 400  # thumbnails in one sheet
SHEET_COLUMNS = 20


def face_name(name: object) -> str:
    """A face file name from a request: a plain file name of the faceset, nothing else."""
    if not isinstance(name, str) or not FACE_NAME.match(name) or ".." in name:
        raise UserError(f"{str(name)[:80]!r} is not a face file name")
    return name


def shelf_name(name: object) -> str:
    """A face set aside: `<reason>/<file name>` inside `_rejected/`."""
    if not isinstance(name, str) or name.count("/") != 1:
        raise UserError(f"{str(name)[:80]!r} is not a set-aside face (reason/name)")
    reason, file = name.split("/")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$", reason, re.ASCII):
        raise UserError(f"{reason[:40]!r} is not a reason folder")
    return f"{reason}/{face_name(file)}"


@dataclass
class _Order:
    version: int
    names: list[str]


class FacesetViews:
    """Orders and thumbnails of a workspace's facesets, kept while the folders do not change."""

    def __init__(self, cfg: FacesetConfig) -> None:
        self.cfg = cfg
        self._orders: dict[tuple[Path, str, bool], _Order] = {}
        self._thumbs: OrderedDict[tuple[Path, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def order(self, folder: Path, method: str, reverse: bool) -> list[str]:
        """The faces of `folder` (names) in `method`'s order; "name" is the files' own order."""
        if not folder.is_dir():
            return []
        version = folder.stat().st_mtime_ns
        key = (folder, method, reverse)
        kept = self._orders.get(key)
        if kept is not None and kept.version == version:
            return kept.names
        if method == "name":
            names = [p.name for p in list_face_files(folder)]
        else:
            sort = SORTS.get(method)
            stats = faceset_stats(folder, sort.needs, self.cfg.workers)
            rows = sort.order(SortInputs(stats)) if len(stats) else np.zeros(0, np.int64)
            names = [stats.names[int(i)] for i in rows] + [d.name for d in stats.damaged]
        if reverse:
            names = names[::-1]
        self._orders[key] = _Order(folder.stat().st_mtime_ns, names)
        return names

    def page(self, folder: Path, method: str, reverse: bool, offset: int, limit: int) -> dict[str, Any]:
        names = self.order(folder, method, reverse)
        limit = max(1, min(limit, PAGE_MAX))
        version = str(self._orders[(folder, method, reverse)].version) if folder.is_dir() else "0"
        return {"total": len(names), "offset": offset, "names": names[offset : offset + limit],
                "rejected": rejected_counts(folder), "version": version}  # fmt: skip

    def sheet(self, folder: Path, method: str, reverse: bool, offset: int, limit: int, version: str) -> bytes:
        """The thumbnails of one page in one JPEG, SHEET_COLUMNS a row, in the page's order: one
        request per page instead of hundreds. `version` (from `page`) must still be the folder's,
        else the order changed in between and the sheet would not match the names shown."""
        names = self.order(folder, method, reverse)
        if not folder.is_dir() or str(self._orders[(folder, method, reverse)].version) != version:
            raise UserError("the faceset changed since this page was listed; reload it")
        limit = max(1, min(limit, SHEET_MAX))
        return self.sheet_of([folder / n for n in names[offset : offset + limit]])

    def sheet_of(self, paths: list[Path]) -> bytes:
        if not paths:
            raise UserError("there are no faces on that page")
        with ThreadPoolExecutor(2) as pool:  # decoding releases the GIL: both cores work
            smalls = list(pool.map(_small, paths))
        rows = -(-len(smalls) // SHEET_COLUMNS)
        sheet = np.full((rows * THUMB_PX, min(len(smalls), SHEET_COLUMNS) * THUMB_PX, 3), 221, np.uint8)
        for k, small in enumerate(smalls):
            y, x = divmod(k, SHEET_COLUMNS)
            sheet[y * THUMB_PX : (y + 1) * THUMB_PX, x * THUMB_PX : (x + 1) * THUMB_PX] = small
        return bytes(cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())

    def thumb(self, path: Path) -> bytes:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            raise UserError("there is no such face") from None
        key = (path, stamp)
        with self._lock:
            if key in self._thumbs:
                self._thumbs.move_to_end(key)
                return self._thumbs[key]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"{path.name} cannot be read as a picture")
        small = cv2.resize(image, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA)
        data = bytes(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
        with self._lock:
            self._thumbs[key] = data
            while len(self._thumbs) > THUMBS_KEPT:
                self._thumbs.popitem(last=False)
        return data


def _small(path: Path) -> npt.NDArray[np.uint8]:
    """A face at THUMB_PX; a face that cannot be read is a grey square (the grid still lines up)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return np.full((THUMB_PX, THUMB_PX, 3), 160, np.uint8)
    return np.asarray(cv2.resize(image, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA), np.uint8)


def rejected_counts(folder: Path) -> dict[str, int]:
    return {r: len(list_face_files(folder / REJECTED_DIR / r)) for r in rejected_reasons(folder)}


def set_aside_names(folder: Path) -> list[str]:
    """Every face in `_rejected/`, as `<reason>/<name>`."""
    return [
        f"{r}/{p.name}" for r in rejected_reasons(folder) for p in list_face_files(folder / REJECTED_DIR / r)
    ]


def face_details(path: Path) -> dict[str, Any]:
    """What the browser shows of one face: its metadata, landmarks (crop pixels), labels, mask."""
    meta = read_face_meta(path)
    return {
        "name": path.name,
        "size_px": meta.size_px,
        "frame_index": meta.frame_index,
        "face_index": meta.face_index,
        "track_id": meta.track_id,
        "face_type": meta.face_type,
        "score": round(float(meta.score), 4),
        "pose": {k: round(float(getattr(meta.pose, k)), 2) for k in ("yaw", "pitch", "roll")},
        "bbox": [round(float(v), 1) for v in meta.bbox_xyxy],
        "bridged": bool(meta.bridged),
        "source": Path(meta.source).name,
        "landmarks": np.round(meta.landmarks_crop[:, :2], 2).tolist(),
        "labels": meta.labels.to_json(),
        "has_mask": mask_path(path).is_file(),
    }


def face_jpeg(path: Path) -> bytes:
    image, _ = read_aligned_face(path)
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())


def reject(folder: Path, names: list[str]) -> int:
    with folder_lock(folder, LOCK_WAIT_S):  # a click while another change runs waits its turn
        recover(folder)
        present = {p.name for p in list_face_files(folder)}
        missing = [n for n in names if n not in present]
        if missing:
            raise UserError(f"{missing[0]} is not in the faceset (moved meanwhile?); nothing was moved")
        return move_rejected(folder, [Rejection(n, MANUAL, "set aside in the studio") for n in names])


def bring_back(folder: Path, names: list[str]) -> dict[str, Any]:
    with folder_lock(folder, LOCK_WAIT_S):
        result = restore_faces(folder, [Path(REJECTED_DIR, n) for n in names])
    return {"restored": result.restored, "left": result.left}


def coverage_points(src_dir: Path, dst_dir: Path, cfg: FacesetConfig, augmenting: bool) -> dict[str, Any]:
    """Both facesets' poses and expressions, each dst face's gaps (what src lacks there) and the
    gaps themselves with their frames, for the browser's coverage picture."""
    from faceweave.faceset.coverage import Side, coverage, excursion
    from faceweave.faceset.stats import check_faceset

    sides, names = [], []
    for folder in (src_dir, dst_dir):
        if not folder.is_dir() or not list_face_files(folder):
            raise UserError(f"{folder} holds no faces yet: extract both sides first")
        stats = faceset_stats(folder, ("meta",), cfg.workers)
        check_faceset(stats, damaged_ok=True)
        sides.append(Side.of(stats))
        names.append(stats.names)
    src, dst = sides
    result = coverage(src, dst, augmenting, cfg.pose_deg)

    def points(side: Side) -> dict[str, list[float]]:
        return {"yaw": np.round(side.yaw, 2).tolist(), "pitch": np.round(side.pitch, 2).tolist(),
                "mouth": np.round(excursion(side, "mouth_open", 1), 4).tolist(),
                "eyes": np.round(excursion(side, "eye_open", -1), 4).tolist()}  # fmt: skip

    beyond = {k: np.flatnonzero(v).tolist() for k, v in result.beyond.items()}
    return {**result.to_json(), "src": points(src), "dst": {**points(dst), "names": names[1],
            "frames": dst.frames.tolist()}, "beyond": beyond}  # fmt: skip


def trained_mask_png(path: Path, model_dir: Path) -> bytes:
    """The mask a segmenter draws on this face: the user's taught model when there is one, else the
    shipped occluder model; 255 where the face shows."""
    from faceweave.occlusion.segmenter import shipped_segmenter, visible
    from faceweave.occlusion.teach import MODEL_NAME, user_segmenter

    image, meta = read_aligned_face(path)
    segmenter = user_segmenter(model_dir) if (model_dir / MODEL_NAME).is_file() else shipped_segmenter()
    mask = visible(segmenter.occlusion([image])[0], meta.size_px)
    return bytes(cv2.imencode(".png", np.asarray(np.clip(mask * 255 + 0.5, 0, 255), np.uint8))[1].tobytes())
