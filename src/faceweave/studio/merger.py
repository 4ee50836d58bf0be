"""The interactive merger behind the studio's merger page: any dst frame, merged with any settings,
fast enough to follow a slider.

The model's prediction for each face is computed once and kept (it does not depend on any merge
option); a change of option reruns only the finishing (mask, colour, blend) and the paste. Frames
are read by seeking to the keyframe before them and decoding forward, and the decoded frames are
kept, so stepping through neighbours costs nothing. The preview is watermarked like every output.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from faceweave.config import Config, load_config
from faceweave.errors import MediaError, UserError
from faceweave.formats.aligned import read_aligned_face
from faceweave.formats.checkpoint import latest_checkpoint
from faceweave.media._av import open_input, short_reason
from faceweave.media.decode import list_images, to_bgr, upright
from faceweave.merge.mask_sources import MaskSource
from faceweave.merge.prepare import DstFace, Memo, Preparer, predict
from faceweave.merge.run import dst_faces, dst_source, merge_frame, open_merge, parse_tracks
from faceweave.merge.session import MergeSession
from faceweave.provenance.watermark import Landmarks, mark_field, new_payload
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace

FRAMES_KEPT = 48  # decoded frames (a 720p frame is 2.7 MB)
PREDICTIONS_KEPT = 2048  # faces whose prediction is kept (a 128 px prediction is 0.2 MB)
MEMO_BYTES = 512 << 20  # kept masks and colour transfers
THUMB_HEIGHT = 72
THUMBS_KEPT = 20_000  # 3 KB each
JPEG_QUALITY = 90


def _jpeg(image: ImageBGR, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise UserError("could not encode a JPEG")
    return bytes(data.tobytes())


class FrameReader:
    """Frame i of a video (or image folder) by index, as the merge numbers them: in presentation
    order, the first frame 0. Thread-safe; keeps the last FRAMES_KEPT decoded frames."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._kept: OrderedDict[int, ImageBGR] = OrderedDict()
        if source.is_dir():
            self._images = list_images(source)
            self.count = len(self._images)
            return
        with open_input(source) as container:
            stream = container.streams.video[0]
            # The decoder drops discardable packets: they are not frames the merge counts.
            packets = [(p.pts, p.is_keyframe) for p in container.demux(stream)
                       if p.pts is not None and p.size and not p.is_discard]  # fmt: skip
        packets.sort()
        self._pts = [pts for pts, _ in packets]
        self._index = {pts: k for k, pts in enumerate(self._pts)}
        self._keyframes = [k for k, (_, key) in enumerate(packets) if key] or [0]
        self.count = len(self._pts)

    def frame(self, index: int) -> ImageBGR:
        if not 0 <= index < self.count:
            raise UserError(f"dst has frames 0 to {self.count - 1}; there is no frame {index}")
        with self._lock:
            if index in self._kept:
                self._kept.move_to_end(index)
                return self._kept[index]
            if self.source.is_dir():
                image = cv2.imread(str(self._images[index]), cv2.IMREAD_COLOR)
                if image is None:
                    raise UserError(f"{self._images[index].name} cannot be read as an image")
                self._keep(index, np.asarray(image, np.uint8))
            else:
                self._decode_to(index)
            return self._kept[index]

    def _keep(self, index: int, image: ImageBGR) -> None:
        self._kept[index] = image
        self._kept.move_to_end(index)
        while len(self._kept) > FRAMES_KEPT:
            self._kept.popitem(last=False)

    def _decode_to(self, index: int) -> None:
        """Seek to the keyframe at or before `index` and decode forward to it, keeping what passes."""
        key = max(k for k in self._keyframes if k <= index) if index >= self._keyframes[0] else 0
        try:
            with open_input(self.source) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                container.seek(self._pts[key], stream=stream, backward=True, any_frame=False)
                for decoded in container.decode(stream):
                    k = self._index.get(decoded.pts) if decoded.pts is not None else None
                    if k is None or k < key:
                        continue
                    if index - k < FRAMES_KEPT:
                        self._keep(k, upright(to_bgr(decoded), decoded.rotation))
                    if k >= index:
                        break
        except av.error.FFmpegError as exc:
            reason = short_reason(exc)
            raise MediaError(f"frame {index} of {self.source.name} cannot be decoded ({reason})") from exc
        if index not in self._kept:
            raise UserError(f"frame {index} of {self.source.name} cannot be decoded")


@dataclass(frozen=True)
class Rendered:
    jpeg: bytes
    ms: float  # time spent merging (prediction, finishing and paste), not decoding the frame
    faces: int


def _at_dst(_image: ImageBGR, landmarks: Landmarks, _track: int) -> Landmarks:
    # The preview marks each face on dst's landmarks: the merge proper finds the pasted face with
    # the mesh, which costs more than a redraw may.
    return landmarks


class InteractiveMerger:
    """One workspace's merger: model, dst faces and frames loaded once; `render` per change."""

    def __init__(self, root: Path) -> None:
        self.ws = Workspace(root)
        self.config: Config = load_config(self.ws.config if self.ws.config.is_file() else None)
        inputs = open_merge(self.config, self.ws)
        self.model, self.device = inputs.model, inputs.device
        self.version = self._version()
        self.faces = dst_faces(self.ws, None)  # every track: the session's `tracks` picks at render time
        self.by_frame: dict[int, list[DstFace]] = {}
        for face in self.faces:
            self.by_frame.setdefault(face.meta.frame_index, []).append(face)
        source, _ = dst_source(self.ws)
        self.reader = FrameReader(source)
        self.fps: Fraction = inputs.fps
        self.mark = mark_field(new_payload())
        self._predictions: OrderedDict[Path, tuple[npt.NDArray[np.uint8], Any, Any]] = OrderedDict()
        self._memo: Memo = {}
        self._sources: dict[str, MaskSource] = {}  # made once: the hand landmarker loads slowly
        self._lock = threading.Lock()
        self._thumbs: OrderedDict[int, bytes] = OrderedDict()

    def _version(self) -> tuple[Path | None, int, int, int]:
        def stamp(path: Path) -> int:
            return path.stat().st_mtime_ns if path.exists() else 0

        aligned = self.ws.dst_aligned
        checkpoint = latest_checkpoint(self.ws.model)
        return checkpoint, stamp(aligned), stamp(aligned / "_masks"), stamp(self.ws.config)

    def stale(self) -> bool:
        """A newer checkpoint (training went on), dst faces added, moved or re-extracted, masks
        applied, or faceweave.toml changed: a new merger sees them."""
        return self._version() != self.version

    def info(self) -> dict[str, Any]:
        tracks = sorted({f.meta.track_id for f in self.faces})
        first = self.faces[0].meta
        return {
            "frames": self.reader.count,
            "fps": float(self.fps),
            "width": first.frame_width,
            "height": first.frame_height,
            "tracks": tracks,
            "with_faces": sorted(self.by_frame),
        }

    def _predicted(self, faces: list[DstFace]) -> list[tuple[npt.NDArray[np.uint8], Any, Any]]:
        missing = [f for f in faces if f.path not in self._predictions]
        if missing:
            crops = [read_aligned_face(f.path)[0] for f in missing]
            swapped, learned = predict(self.model, crops, self.model.config.resolution, self.device)
            for face, crop, s, m in zip(missing, crops, swapped, learned, strict=True):
                self._predictions[face.path] = (crop, s, m)
        for face in faces:
            self._predictions.move_to_end(face.path)
        while len(self._predictions) > PREDICTIONS_KEPT:
            self._predictions.popitem(last=False)
        return [self._predictions[f.path] for f in faces]

    def render(self, index: int, session: MergeSession) -> Rendered:
        """Frame `index` merged with faceweave.toml's [merge] under `session`, as a JPEG."""
        image = self.reader.frame(index)
        start = time.perf_counter()
        with self._lock:
            base = session.base(self.config.merge)
            chosen = parse_tracks(base.tracks)
            faces = [f for f in self.by_frame.get(index, []) if chosen is None or f.meta.track_id in chosen]
            preparer = Preparer(
                self.model, self.config.merge, self.device, session, self._memo, self._sources
            )
            prepared = [
                preparer.one(face.meta, crop, swapped, learned, face.path)
                for face, (crop, swapped, learned) in zip(faces, self._predicted(faces), strict=True)
            ]
            if sum(v.nbytes for v in self._memo.values()) > MEMO_BYTES:
                self._memo.clear()
        merged, _ = merge_frame(image, prepared, self.mark, index, _at_dst)
        ms = (time.perf_counter() - start) * 1000
        return Rendered(_jpeg(merged), ms, len(prepared))

    def dst_jpeg(self, index: int) -> bytes:
        return _jpeg(self.reader.frame(index))

    def thumb(self, index: int) -> bytes:
        if index not in self._thumbs:
            image = self.reader.frame(index)
            width = max(1, round(image.shape[1] * THUMB_HEIGHT / image.shape[0]))
            small = cv2.resize(image, (width, THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
            self._thumbs[index] = _jpeg(np.asarray(small, np.uint8), 80)
            while len(self._thumbs) > THUMBS_KEPT:
                self._thumbs.popitem(last=False)
        return self._thumbs[index]


class Mergers:
    """The open merger: one at a time (a model and its kept predictions are large), opened on
    first use, again for another workspace, and again when its workspace changed."""

    def __init__(self) -> None:
        self._open: InteractiveMerger | None = None
        self._lock = threading.Lock()

    def get(self, root: Path) -> InteractiveMerger:
        with self._lock:
            merger = self._open
            if merger is None or merger.ws.root != root or merger.stale():
                self._open = None  # the old one goes before the new one loads its model
                merger = self._open = InteractiveMerger(root)
            return merger
