"""`run_merge`: decode dst, paste the swapped faces, encode result.mp4 with dst's audio, one pass."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.atomic import discard, temp_path_for, write_bytes_atomic
from faceweave.config import Config, MergeConfig
from faceweave.errors import UserError
from faceweave.faceset.moves import recover, set_aside_faces
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.formats.checkpoint import latest_checkpoint, load_checkpoint
from faceweave.formats.summary import read_summary, summary_path
from faceweave.geometry import region_of
from faceweave.media.decode import open_frames
from faceweave.media.encode import VideoWriter
from faceweave.media.probe import probe_video
from faceweave.merge.paste import to_u8, warp_into
from faceweave.merge.placement import MarkPlacer, Place
from faceweave.merge.prepare import DstFace, PreparedFace, Preparer, prepared_by_frame
from faceweave.merge.session import MergeSession
from faceweave.models import FaceSwapModel
from faceweave.provenance import synthetic_tags
from faceweave.provenance.manifest import sign_to
from faceweave.provenance.watermark import Field, embed, mark_field, new_payload
from faceweave.records import ImageBGR
from faceweave.registries import BLENDS
from faceweave.workspace import Workspace

Tick = Callable[[], None]
Merged = tuple[ImageBGR, npt.NDArray[np.float32]]  # a merged frame and its mask coverage
# Consecutive frames merged by one worker, so that the placement mesh of the first can place the
# mark on the second too (merge/placement.py): half the mesh's cost, no waiting between workers.
FRAMES_PER_JOB = 2


@dataclass(frozen=True)
class MergeReport:
    result: Path
    frames: int
    frames_with_faces: int
    faces: int
    seconds: float
    audio: str
    dump_dir: Path | None
    watermark: int  # the payload every merged face carries
    set_aside: int = 0  # dst faces in the faceset's _rejected/: their frames keep dst's own face


def parse_tracks(text: str) -> set[int] | None:
    """'all' -> None (every track); '0,2' -> {0, 2}."""
    if text.strip().lower() == "all":
        return None
    try:
        return {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise UserError(f"merge.tracks = {text!r}: give all, or track ids like 0,2") from None


def dst_source(ws: Workspace) -> tuple[Path, int]:
    """The dst video (or image folder) the faceset came from, and how many frames it had."""
    summary = read_summary(summary_path(ws.dst_aligned))
    return Path(summary.source), summary.frames


def dst_faces(ws: Workspace, tracks: set[int] | None) -> list[DstFace]:
    if ws.dst_aligned.is_dir():
        recover(ws.dst_aligned)  # a faceset sort a crash cut short: no face stays hidden
    files = list_face_files(ws.dst_aligned) if ws.dst_aligned.is_dir() else []
    if not files:
        raise UserError(f"{ws.dst_aligned} holds no faces: run `faceweave extract dst` first")
    faces = [DstFace(path, read_face_meta(path)) for path in files]
    chosen = [f for f in faces if tracks is None or f.meta.track_id in tracks]
    if not chosen:
        known = sorted({f.meta.track_id for f in faces})
        raise UserError(f"merge.tracks names no track of the dst faces; they have {known}")
    return sorted(chosen, key=lambda f: (f.meta.frame_index, f.meta.face_index))


def load_model(ws: Workspace, device: torch.device) -> tuple[FaceSwapModel, str]:
    """The newest checkpoint's model (eval mode, on `device`) and the face type it learnt."""
    if latest_checkpoint(ws.model) is None:
        raise UserError(f"there is no trained model in {ws.model}: run `faceweave train` first")
    loaded = load_checkpoint(ws.model)
    return loaded.model.to(device).eval(), loaded.state.face_type


def check_compatible(model: FaceSwapModel, learnt_face_type: str, faces: list[DstFace], source: Path,
                     frames: int) -> None:  # fmt: skip
    first = faces[0].meta
    if learnt_face_type and learnt_face_type != first.face_type:
        raise UserError(
            f"the model learnt {learnt_face_type} crops but the dst faces are {first.face_type}: "
            f"rerun `faceweave extract dst --face-type {learnt_face_type} --overwrite`, or retrain"
        )
    if first.size_px < model.config.resolution:
        raise UserError(
            f"the dst faces are {first.size_px} px but the model works at {model.config.resolution} px: "
            f"rerun `faceweave extract dst --size {model.config.resolution} --overwrite`"
        )
    if not source.exists():
        raise UserError(f"the dst source {source} is gone: put it back, or rerun `faceweave extract dst`")
    if source.is_dir():
        return
    info = probe_video(source)
    if (info.width, info.height) != (first.frame_width, first.frame_height) or info.frame_count != frames:
        raise UserError(
            f"{source} changed since extraction (now {info.width}x{info.height}, {info.frame_count} frames; "
            f"then {first.frame_width}x{first.frame_height}, {frames} frames): "
            "rerun `faceweave extract dst --overwrite`"
        )


def merge_frame(image: ImageBGR, faces: list[PreparedFace], mark: Field, index: int, place: Place) -> Merged:
    """The frame with every prepared face pasted in and watermarked (frame `index` sets the mark's
    sign; `place` finds each pasted face's landmarks for it), and the union of their masks."""
    out = image.copy()
    height, width = image.shape[:2]
    coverage = np.zeros((height, width), np.float32)
    for face in faces:
        region = region_of(face.face_to_frame, face.face.shape[0], width, height)
        if region.empty:
            continue
        rows, cols = slice(region.y0, region.y1), slice(region.x0, region.x1)
        pixels = warp_into(face.face, face.face_to_frame, region, cv2.BORDER_REPLICATE)
        alpha = warp_into(face.mask, face.mask_to_frame, region, cv2.BORDER_CONSTANT)
        alpha = np.clip(alpha, 0, 1)
        background = out[rows, cols].astype(np.float32) / 255
        out[rows, cols] = to_u8(BLENDS.get(face.blend).paste(background, pixels, alpha))
        coverage[rows, cols] = np.maximum(coverage[rows, cols], alpha)
    for face in faces:
        embed(out, place(out, face.landmarks_frame, face.track_id), mark, index, coverage)
    return out, coverage


def merge_frames(frames: list[tuple[ImageBGR, list[PreparedFace], int]], mark: Field,
                 placer: MarkPlacer) -> list[Merged]:  # fmt: skip
    """merge_frame on consecutive (frame, faces, index) in order, the marks placed by one follower:
    the placement mesh runs on every other frame of each track."""
    place = placer.follow()
    return [merge_frame(image, faces, mark, index, place) for image, faces, index in frames]


def _pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("merge.device = 'cuda' but no CUDA device is available; use auto or cpu")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")


def _png(image: npt.NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise UserError("could not encode a PNG")
    return bytes(data.tobytes())


@dataclass(frozen=True)
class MergeInputs:
    """Everything checked and loaded before the first frame: faces, their source, the model."""

    faces: list[DstFace]
    source: Path
    fps: Fraction
    model: FaceSwapModel
    device: torch.device


def open_merge(config: Config, ws: Workspace, model: FaceSwapModel | None = None,
               session: MergeSession | None = None) -> MergeInputs:  # fmt: skip
    """Load and cross-check the dst faces, their video and the model; `model` replaces the
    workspace's (tests use an identity model). The `session`'s tracks pick the faces."""
    device = _pick_device(config.merge.device)
    base = (session or MergeSession()).base(config.merge)
    faces = dst_faces(ws, parse_tracks(base.tracks))
    source, frames_then = dst_source(ws)
    if model is None:
        model, face_type = load_model(ws, device)
    else:
        model, face_type = model.to(device).eval(), ""
    check_compatible(model, face_type, faces, source, frames_then)
    image_fps = Fraction(config.decode.image_fps).limit_denominator(1001)
    fps = image_fps if source.is_dir() else probe_video(source).fps
    return MergeInputs(faces, source, fps, model, device)


def run_merge(config: Config, ws: Workspace, model: FaceSwapModel | None = None,
              tick: Tick | None = None, session: MergeSession | None = None) -> MergeReport:  # fmt: skip
    """Merge every dst frame into ws.result, each face with its settings from `config` and the
    merge `session` (the interactive merger's whole-video, track and frame-range settings)."""
    cfg: MergeConfig = config.merge
    start = time.monotonic()
    inputs = open_merge(config, ws, model, session)
    faces, source, fps = inputs.faces, inputs.source, inputs.fps
    dump_dirs = (ws.merged, ws.merged.parent / "merged_mask") if cfg.dump else None
    if dump_dirs:
        for folder in dump_dirs:
            folder.mkdir(parents=True, exist_ok=True)
    prepared = prepared_by_frame(Preparer(inputs.model, cfg, inputs.device, session), faces, cfg.batch_size)
    frames = open_frames(source, on_error=config.decode.on_error, image_fps=fps)
    settings = config.video.encode_settings()
    audio_from = None if source.is_dir() else source
    count = with_faces = 0
    payload = new_payload()  # one random id per run, in every face of every frame
    mark = mark_field(payload)
    # Encoded under a hidden name and published only once signed: no unsigned result.mp4, ever.
    unsigned = temp_path_for(ws.root / f"{ws.result.stem}.unsigned{ws.result.suffix}")
    writer = VideoWriter(unsigned, fps=fps, settings=settings, audio_from=audio_from, tags=synthetic_tags())
    with writer, MarkPlacer(cfg.workers) as placer, ThreadPoolExecutor(cfg.workers) as pool:
        window: deque[tuple[int, float | None, tuple[Future[list[Merged]], int] | ImageBGR]] = deque()
        run: list[tuple[int, float | None, ImageBGR, list[PreparedFace]]] = []  # frames with faces, not sent

        def send() -> None:
            if run:
                batch = [(image, faces, index) for index, _, image, faces in run]
                job = pool.submit(merge_frames, batch, mark, placer)
                window.extend((index, pts, (job, k)) for k, (index, pts, _, _) in enumerate(run))
                run.clear()

        def drain(limit: int) -> None:
            while len(window) > limit:
                index, pts, job = window.popleft()
                image, coverage = job[0].result()[job[1]] if isinstance(job, tuple) else (job, None)
                writer.write(image, pts)
                if dump_dirs:
                    mask = np.zeros(image.shape[:2], np.uint8) if coverage is None else to_u8(coverage)
                    write_bytes_atomic(dump_dirs[0] / f"{index:06d}.png", _png(image))
                    write_bytes_atomic(dump_dirs[1] / f"{index:06d}.png", _png(mask))
                if tick is not None:
                    tick()

        head = _advance(prepared)
        for frame in frames:
            while head is not None and head[0] < frame.index:
                head = _advance(prepared)  # faces of frames the decoder skipped
            pts = None if source.is_dir() else frame.pts_s
            if head is not None and head[0] == frame.index:
                run.append((frame.index, pts, frame.image_bgr_u8, head[1]))
                with_faces += 1
                head = _advance(prepared)
                if len(run) == FRAMES_PER_JOB:
                    send()
            else:
                send()
                window.append((frame.index, pts, frame.image_bgr_u8))
            count += 1
            drain(2 * cfg.workers * FRAMES_PER_JOB)
        send()
        drain(0)
        encoded = writer.close()
    try:
        sign_to(unsigned, ws.result)  # no switch: every result says what it is
    finally:
        discard(unsigned)
    return MergeReport(ws.result, count, with_faces, len(faces), time.monotonic() - start, encoded.audio,
                       dump_dirs[0] if dump_dirs else None, payload,
                       set_aside_faces(ws.dst_aligned))  # fmt: skip


def _advance(prepared: Iterator[tuple[int, list[PreparedFace]]]) -> tuple[int, list[PreparedFace]] | None:
    return next(prepared, None)
