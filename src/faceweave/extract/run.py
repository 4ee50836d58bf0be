"""`run_extract`: a video (or a folder of photos) to an aligned faceset with metadata."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.atomic import discard
from faceweave.config import Config, ExtractConfig
from faceweave.detectors import open_detector
from faceweave.errors import MediaError, UserError, write_error
from faceweave.extract.detect import FaceMesher, RawFace
from faceweave.extract.identity import FaceDescriber
from faceweave.extract.pose import head_pose
from faceweave.extract.tracking import CutDetector, Identify, OneEuro, Tracker, iou
from faceweave.extract.transform import frame_to_face
from faceweave.extract.workers import DetectionPool, DetectSettings, FaceWrite, FrameFaces
from faceweave.formats.aligned import FaceMeta, list_face_files
from faceweave.formats.summary import ExtractSummary, summary_path, write_summary
from faceweave.geometry import apply, invert
from faceweave.media import open_frames
from faceweave.media.decode import ImageFolderFrames, VideoFrames
from faceweave.occlusion.labels import carry_over
from faceweave.records import Frame, ImageBGR, as_image
from faceweave.workspace import Workspace

SIDES = ("src", "dst")


@dataclass
class ExtractReport:
    side: str
    source: Path
    out_dir: Path
    frames: int = 0
    faces: int = 0
    frames_without_faces: list[int] = field(default_factory=list)
    dropped_by_identity: int = 0
    bridged: int = 0  # faces carried over a detector miss
    tracks: int = 0
    skipped_frames: int = 0
    debug_dir: Path | None = None


def find_input(ws: Workspace, side: str, explicit: Path | None) -> Path:
    """The explicit input, else data_<side>.mp4, else data_<side>/ holding images."""
    if explicit is not None:
        return explicit
    video, folder = (
        (ws.src_video, ws.root / "data_src") if side == "src" else (ws.dst_video, ws.root / "data_dst")
    )
    if video.exists():
        return video
    if folder.is_dir() and any(
        p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in folder.iterdir()
    ):
        return folder
    raise UserError(f"no {side} input: put a video at {video} or images in {folder}/, or pass --input")


def prepare_out_dir(out_dir: Path, overwrite: bool) -> Path:
    """A fresh hidden folder beside `out_dir` to build the new faceset in; `out_dir` itself is only
    replaced once the new faceset is complete (see `replace_faceset`)."""
    existing = list_face_files(out_dir)
    if existing and not overwrite:
        raise UserError(
            f"{out_dir} already holds {len(existing)} aligned faces; pass --overwrite to replace them"
        )
    building = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        discard(building)
        building.mkdir()
    except OSError as exc:
        raise write_error(out_dir, exc) from exc
    return building


OLD_FACES_BOOKKEEPING = ("_sort_log.json",)


def replace_faceset(building: Path, out_dir: Path) -> None:
    """Put the finished faceset in place of the old one. Files in the old folder that are not faces
    (notes, a user's subfolders) move over; the old faces go only after the new ones are in place."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    try:
        if out_dir.is_dir():
            carry_over(out_dir, building)  # a user's labels and masks outlive a re-extraction
            faces = set(list_face_files(out_dir))
            for entry in out_dir.iterdir():
                # The sort log, statistics cache and lock describe the old faces, not the new ones.
                if entry.name in OLD_FACES_BOOKKEEPING or entry.name.startswith(".faceweave-"):
                    continue
                if entry not in faces and not (building / entry.name).exists():
                    os.replace(entry, building / entry.name)
            os.replace(out_dir, old)
        os.replace(building, out_dir)
    except OSError as exc:
        if old.is_dir() and not out_dir.exists():
            os.replace(old, out_dir)
        raise write_error(out_dir, exc) from exc
    discard(old)


def reference_descriptors(
    paths: Sequence[Path], detector: str = "mediapipe"
) -> npt.NDArray[np.float64] | None:
    """128-d descriptors of the largest face in each reference picture."""
    if not paths:
        return None
    finder, describer, descriptors = open_detector(detector), FaceDescriber(), []
    try:
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise MediaError(f"reference {path} cannot be read as an image")
            faces = finder.find(as_image(image))
            if not faces:
                raise UserError(f"reference {path} shows no face")
            face = max(faces, key=lambda f: f.bbox_xyxy[2] - f.bbox_xyxy[0])
            descriptors.append(describer.describe(as_image(image), face.landmarks_478))
    finally:
        finder.close()
    return np.array(descriptors)


# A track missed by the detector is carried over at most this many frames in a row, by fitting the
# mesh where the face was: occlusion, motion blur or a look down lose a face for a moment.
BRIDGE_FRAMES = 5


class FaceAligner:
    """Order-dependent work on detections: tracks, bridges, smoothing, alignment and writing."""

    def __init__(self, cfg: ExtractConfig, source: str, out_dir: Path, video: bool) -> None:
        self.cfg, self.source, self.out_dir, self.video = cfg, source, out_dir, video
        self.tracker = Tracker()
        self.filters: dict[int, OneEuro] = {}
        self.smoothing = "one-euro" if video and cfg.smoothing > 0 else "none"
        self._describer: FaceDescriber | None = None
        self._cuts = CutDetector()
        self._mesher: FaceMesher | None = None
        self._last: dict[int, tuple[int, RawFace, int]] = {}  # track -> (frame, face, bridges in a row)
        self.bridged = 0

    def _bridges(self, frame: Frame, present: set[int]) -> list[tuple[RawFace, int]]:
        """Faces of tracks seen in the last frame but missed in this one, re-fitted in their last box."""
        found = []
        for track_id, (last_frame, face, run) in list(self._last.items()):
            if track_id in present or last_frame != frame.index - 1 or run >= BRIDGE_FRAMES:
                continue
            if self._mesher is None:
                self._mesher = FaceMesher()
            points = self._mesher.in_box(frame.image_bgr_u8, face.bbox_xyxy)
            if points is None:
                continue
            low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
            box = (float(low[0]), float(low[1]), float(high[0]), float(high[1]))
            if iou(face.bbox_xyxy, box) < 0.3:  # it moved too far to be the same face
                continue
            self.tracker.extend(track_id, frame.index, box)
            found.append((RawFace(box, face.score, points, face.rotation_deg), track_id))
        return found

    def close(self) -> None:
        if self._mesher is not None:
            self._mesher.close()

    def _identify(self, frame: Frame, faces: list[RawFace]) -> Identify | None:
        """Identity descriptors on demand (only for faces that position alone cannot link)."""
        if not self.cfg.track_identity:
            return None

        def identify(index: int) -> npt.NDArray[np.float64]:
            if self._describer is None:
                self._describer = FaceDescriber()
            return self._describer.describe(frame.image_bgr_u8, faces[index].landmarks_478)

        return identify

    def align(self, frame: Frame, result: FrameFaces) -> list[tuple[ImageBGR, FaceMeta]]:
        faces, distances = list(result.faces), list(result.distances)
        boxes = [f.bbox_xyxy for f in faces]
        bridged: set[int] = set()
        if self.video and self._cuts(frame.image_bgr_u8):
            self.tracker.forget()  # never carry a face (or a track id by position) across a cut
            self._last.clear()
        track_ids = (self.tracker.assign(frame.index, boxes, self._identify(frame, faces))
                     if self.video else list(range(len(faces))))  # fmt: skip
        if self.video:
            for face, track_id in self._bridges(frame, set(track_ids)):
                faces.append(face)
                track_ids.append(track_id)
                distances.append(None)
                bridged.add(len(faces) - 1)
            for k, (face, track_id) in enumerate(zip(faces, track_ids, strict=True)):
                run = self._last[track_id][2] + 1 if k in bridged and track_id in self._last else 0
                self._last[track_id] = (frame.index, face, run)
            self.bridged += len(bridged)
        h, w = frame.image_bgr_u8.shape[:2]
        out = []
        for face_index, (face, track_id, distance) in enumerate(
            zip(faces, track_ids, distances, strict=True)
        ):
            smoothed = face.landmarks_478
            if self.smoothing != "none":
                size = max(face.bbox_xyxy[2] - face.bbox_xyxy[0], face.bbox_xyxy[3] - face.bbox_xyxy[1])
                smoother = self.filters.setdefault(track_id, OneEuro(self.cfg.smoothing))
                smoothed = smoother(frame.pts_s, face.landmarks_478, size)
            to_face = frame_to_face(smoothed, self.cfg.face_type, self.cfg.size_px)
            crop = cv2.warpAffine(frame.image_bgr_u8, to_face, (self.cfg.size_px, self.cfg.size_px),
                                  flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            meta = FaceMeta(
                source=self.source, frame_index=frame.index, pts_s=round(frame.pts_s, 6),
                frame_width=w, frame_height=h, face_index=face_index, track_id=track_id,
                bbox_xyxy=tuple(round(v, 2) for v in face.bbox_xyxy),  # type: ignore[arg-type]
                score=round(face.score, 4), landmarks_frame_raw=face.landmarks_478,
                landmarks_frame=smoothed, landmarks_crop=apply(to_face, smoothed),
                face_to_frame=invert(to_face), face_type=self.cfg.face_type, size_px=self.cfg.size_px,
                pose=head_pose(smoothed), smoothing=self.smoothing,
                found_rotation_deg=face.rotation_deg,
                identity_distance=None if distance is None else round(distance, 4),
                bridged=face_index in bridged,
            )  # fmt: skip
            out.append((as_image(crop), meta))
        return out


def _keep_identity(result: FrameFaces, threshold: float) -> tuple[FrameFaces, int]:
    keep = [i for i, d in enumerate(result.distances) if d is None or d <= threshold]
    dropped = len(result.faces) - len(keep)
    faces = [result.faces[i] for i in keep]
    return FrameFaces(result.frame, faces, [result.distances[i] for i in keep]), dropped


def run_extract(
    config: Config,
    ws: Workspace,
    side: str,
    source: Path | None = None,
    references: Sequence[Path] = (),
    overwrite: bool = False,
    debug: bool = False,
    tick: Callable[[], None] | None = None,
) -> ExtractReport:
    """Detect, track, smooth and align every face of one side into its faceset."""
    if side not in SIDES:
        raise UserError(f"side must be src or dst, got {side!r}")
    cfg = config.extract
    source = find_input(ws, side, source)
    frames = open_frames(source, on_error=config.decode.on_error,
                         image_fps=Fraction(config.decode.image_fps))  # fmt: skip
    out_dir = ws.src_aligned if side == "src" else ws.dst_aligned
    building = prepare_out_dir(out_dir, overwrite)
    try:
        report = _extract_into(building, cfg, source, frames, references, debug, side, tick)
        if report.faces == 0:
            raise UserError(_nothing_found(report, source, bool(list_face_files(out_dir))))
        replace_faceset(building, out_dir)
    except BaseException:
        discard(building)  # the previous faceset, if any, stays as it was
        raise
    report.out_dir = out_dir
    write_summary(summary_path(out_dir), summary_of(report, cfg))
    return report


def _nothing_found(report: ExtractReport, source: Path, had_faces: bool) -> str:
    kept = "the previous faceset was kept" if had_faces else "nothing was extracted"
    if report.dropped_by_identity:
        return (
            f"{report.dropped_by_identity} faces were found in {source} ({report.frames} frames) but none "
            f"matched --reference within extract.reference_threshold; {kept}. Raise the threshold or "
            "give a reference picture of the person in this video"
        )
    return f"no face found in {source} ({report.frames} frames); {kept}"


def _extract_into(
    building: Path,
    cfg: ExtractConfig,
    source: Path,
    frames: VideoFrames | ImageFolderFrames,
    references: Sequence[Path],
    debug: bool,
    side: str,
    tick: Callable[[], None] | None,
) -> ExtractReport:
    report = ExtractReport(side, source, building)
    if debug:
        report.debug_dir = building.parent / "debug"
        report.debug_dir.mkdir(parents=True, exist_ok=True)
    settings = DetectSettings(
        cfg.min_score,
        cfg.max_faces,
        cfg.try_rotations,
        reference_descriptors(references, cfg.detector),
        cfg.detector,
    )
    aligner = FaceAligner(cfg, source.name, building, video=not source.is_dir())
    try:
        with DetectionPool(settings, cfg.workers) as pool:
            tracks = _align_all(pool, frames, aligner, cfg, report, tick)
    finally:
        aligner.close()
    report.bridged = aligner.bridged
    report.tracks, report.skipped_frames = len(tracks), frames.report.skipped
    return report


def _align_all(
    pool: DetectionPool,
    frames: Iterable[Frame],
    aligner: FaceAligner,
    cfg: ExtractConfig,
    report: ExtractReport,
    tick: Callable[[], None] | None,
) -> set[int]:
    """Detections in frame order -> identity filter, tracks, alignment, queued writes; track ids."""
    tracks: set[int] = set()
    for result in pool.detect(frames):
        kept, dropped = _keep_identity(result, cfg.reference_threshold)
        report.dropped_by_identity += dropped
        report.frames += 1
        aligned = aligner.align(kept.frame, kept)
        if not aligned:
            report.frames_without_faces.append(kept.frame.index)
        for crop, meta in aligned:
            pool.write(FaceWrite(report.out_dir, crop, meta, cfg.format, cfg.jpeg_quality))
            tracks.add(meta.track_id)
            report.faces += 1
        if report.debug_dir is not None:
            debug_image = cv2.imencode(".jpg", _debug(kept.frame, [m for _, m in aligned]))[1]
            (report.debug_dir / f"{kept.frame.index:06d}.jpg").write_bytes(debug_image.tobytes())
        if tick is not None:
            tick()
    return tracks


def _debug(frame: Frame, metas: list[FaceMeta]) -> ImageBGR:
    from faceweave.extract.debug import draw_debug

    return draw_debug(frame.image_bgr_u8, metas)


def summary_of(report: ExtractReport, cfg: ExtractConfig) -> ExtractSummary:
    return ExtractSummary(
        str(report.source), report.frames, report.faces, tuple(report.frames_without_faces),
        report.dropped_by_identity, report.tracks, report.skipped_frames, asdict(cfg),
    )  # fmt: skip
