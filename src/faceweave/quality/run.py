"""`run_eval`: score a result video against its dst and src, and write the report.

Steps: check that result and dst line up frame for frame; describe src's identity; re-encode dst
as the codec floor; one pass measuring every dst face in dst, the result and the floor; scores,
verdicts and the worst frames; report.json, report.html and worst_frames.png under `out_dir`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faceweave.atomic import discard, write_text_atomic
from faceweave.config import Config
from faceweave.detectors import FaceDetector, open_detector
from faceweave.errors import UserError, write_error
from faceweave.extract.identity import FaceDescriber
from faceweave.formats.aligned import FaceFileError, list_face_files, read_aligned_face, read_face_meta
from faceweave.formats.summary import SummaryError, read_summary, summary_path
from faceweave.media.decode import IMAGE_SUFFIXES, list_images, open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.probe import probe_video
from faceweave.quality import analysis
from faceweave.quality.metrics import retrieval
from faceweave.quality.observe import Observations, Observer
from faceweave.quality.report import EvalReport, contact_sheet, plots, render_html, to_json, verdicts
from faceweave.records import ImageBGR, VideoInfo
from faceweave.workspace import Workspace

Tick = Callable[[], None]
# dlib's descriptor costs about 60 ms a face here; 30 samples of each side tell identity apart.
MAX_SRC_SAMPLES = 30
IDENTITY_SAMPLES = 30


@dataclass(frozen=True)
class EvalInputs:
    result: Path
    dst: Path
    src: tuple[Path, ...]  # a video, a faceset folder, a folder of pictures, or pictures
    out_dir: Path
    truth: Path | None = None  # a pseudo-video's true expression per frame (JSON)


def check_pair(result: Path, dst: Path) -> tuple[VideoInfo, VideoInfo]:
    """Probe both videos; they must have the same frame count and size."""
    for name, path in (("result", result), ("dst", dst)):
        if not path.is_file():
            raise UserError(f"the {name} video {path} does not exist")
    result_info, dst_info = probe_video(result), probe_video(dst)
    # H.264 pads an odd side by one pixel: a result one pixel larger there is still this dst's.
    width_ok = result_info.width - dst_info.width in ((0, 1) if dst_info.width % 2 else (0,))
    height_ok = result_info.height - dst_info.height in ((0, 1) if dst_info.height % 2 else (0,))
    if not (width_ok and height_ok):
        raise UserError(
            f"the result {result} is {result_info.width}x{result_info.height} but dst {dst} is "
            f"{dst_info.width}x{dst_info.height}; eval compares frame i of each, so they must match"
        )
    if result_info.frame_count != dst_info.frame_count:
        raise UserError(
            f"the result {result} has {result_info.frame_count} frames but dst {dst} has "
            f"{dst_info.frame_count}; eval compares frame i of each, so the counts must match"
        )
    return result_info, dst_info


def _evenly(items: Sequence[Path], count: int) -> list[Path]:
    if len(items) <= count:
        return list(items)
    return [items[round(i)] for i in np.linspace(0, len(items) - 1, count)]


def _pictures(paths: Sequence[Path]) -> list[ImageBGR]:
    import cv2

    out = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"the src picture {path} cannot be read as an image")
        out.append(np.asarray(image, np.uint8))
    return out


def _video_frames(path: Path) -> list[ImageBGR]:
    """Up to MAX_SRC_SAMPLES frames spread over a src video."""
    info = probe_video(path)
    every = max(1, info.frame_count // MAX_SRC_SAMPLES)
    return [f.image_bgr_u8 for f in open_frames(path, on_error="skip") if f.index % every == 0]


def _src_images(paths: tuple[Path, ...]) -> list[ImageBGR]:
    """Pictures of src to find faces in: pictures given, folders' pictures and videos' frames."""
    pictures: list[Path] = []
    frames: list[ImageBGR] = []
    for path in paths:
        if path.is_dir():
            pictures.extend(list_images(path))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            pictures.append(path)
        else:
            frames.extend(_video_frames(path))
    return frames + _pictures(_evenly(pictures, MAX_SRC_SAMPLES))


def _is_faceset(first: Path) -> bool:
    try:
        read_face_meta(first)
    except FaceFileError:
        return False
    return True


def src_descriptors(
    paths: tuple[Path, ...], describer: FaceDescriber, finder: FaceDetector
) -> npt.NDArray[np.float64]:
    """(n, 128) identity descriptors of src, from a faceset, pictures or a video."""
    if not paths:
        raise UserError("eval needs src: a video, a faceset folder or pictures (--src)")
    for path in paths:
        if not path.exists():
            raise UserError(f"the src input {path} does not exist")
    faces = list_face_files(paths[0]) if len(paths) == 1 and paths[0].is_dir() else []
    if faces and not _is_faceset(faces[0]):
        faces = []  # a folder of plain pictures: faces are found in them below
    out = []
    if faces:
        for path in _evenly(faces, MAX_SRC_SAMPLES):
            image, meta = read_aligned_face(path)
            out.append(describer.describe(image, meta.landmarks_crop))
    else:
        for image in _src_images(paths):
            found = finder.find(image)
            if found:
                out.append(describer.describe(image, found[0].landmarks_478))
    if not out:
        raise UserError(f"no face was found in src {', '.join(str(p) for p in paths)}")
    return np.array(out)


def write_floor(dst: Path, info: VideoInfo, out: Path, crf: int) -> Path:
    """dst re-encoded once at `crf`, without sound: what re-encoding alone does to it."""
    settings = EncodeSettings(crf=crf, preset="veryfast", audio="none")
    with VideoWriter(out, fps=Fraction(info.fps), settings=settings) as writer:
        for frame in open_frames(dst):
            writer.write(frame.image_bgr_u8, frame.pts_s)
        writer.close()
    return out


def observe_all(inputs: EvalInputs, floor: Path, identity_every: int, tick: Tick) -> Observations:
    observer = Observer(identity_every, tick)
    try:
        streams = (open_frames(inputs.dst), open_frames(inputs.result), open_frames(floor))
        for dst, result, floor_frame in zip(*streams, strict=False):
            h, w = dst.image_bgr_u8.shape[:2]  # an encoder pads odd sizes by one pixel; crop it
            observer.frame(dst, result.image_bgr_u8[:h, :w], floor_frame.image_bgr_u8[:h, :w])
    finally:
        observer.close()
    return observer.out


TRUTH_KEYS = ("mouth_open", "blink", "smile", "brow_raise")


def _amount(value: object) -> float:
    """An expression amount: a finite number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{value!r} is not an amount from 0 to 1")
    return float(value)


def read_truth(path: Path) -> list[dict[str, float]]:
    """A pseudo-video's true expression per frame: {"frames": [{mouth_open, blink, smile,
    brow_raise}, ...]}, as `benchmarks/quality.py` writes it."""
    try:
        frames = json.loads(path.read_text(encoding="utf-8"))["frames"]
        truth = [{k: _amount(f[k]) for k in TRUTH_KEYS} for f in frames]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise UserError(
            f"the truth file {path} is not a JSON object whose 'frames' list gives "
            f"{', '.join(TRUTH_KEYS)} per frame ({type(exc).__name__}: {exc})"
        ) from exc
    if not truth:
        raise UserError(f"the truth file {path} lists no frames")
    return truth


def crops_for(
    inputs: EvalInputs, worst: list[analysis.Worst], observations: Observations
) -> dict[tuple[int, int], tuple[ImageBGR, ImageBGR]]:
    """Square crops of dst and the result around the faces of the worst frames."""
    wanted = {(w.frame_index, w.track) for w in worst}
    boxes = {
        (o.frame_index, o.track): o.box_xyxy for o in observations.faces if (o.frame_index, o.track) in wanted
    }
    frames = {i for i, _ in wanted}
    out = {}
    for dst, result in zip(open_frames(inputs.dst), open_frames(inputs.result), strict=False):
        if dst.index not in frames:
            continue
        for (index, track), (x0, y0, x1, y1) in boxes.items():
            if index == dst.index:
                out[(index, track)] = (dst.image_bgr_u8[y0:y1, x0:x1], result.image_bgr_u8[y0:y1, x0:x1])
    return out


def run_eval(
    config: Config, inputs: EvalInputs, tick: Tick = lambda: None, say: Callable[[str], None] = lambda _: None
) -> EvalReport:
    """Score `inputs.result` and write the report into `inputs.out_dir`."""
    start = time.monotonic()
    _, dst_info = check_pair(inputs.result, inputs.dst)
    truth = read_truth(inputs.truth) if inputs.truth else None
    if truth is not None and len(truth) != dst_info.frame_count:
        raise UserError(
            f"the truth file {inputs.truth} gives {len(truth)} frames but dst has {dst_info.frame_count}"
        )
    every = config.eval.identity_every or max(1, dst_info.frame_count // IDENTITY_SAMPLES)
    describer, finder = FaceDescriber(), open_detector()
    try:
        src = src_descriptors(inputs.src, describer, finder)
    finally:
        finder.close()
    out_dir = inputs.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the report folder {out_dir}: {exc.strerror}") from exc
    handle, name = tempfile.mkstemp(prefix=".codec_floor-", suffix=".mp4", dir=out_dir)
    os.close(handle)
    floor = Path(name)
    say(f"re-encoding dst at crf {config.eval.floor_crf} as the codec floor ...")
    try:
        write_floor(inputs.dst, dst_info, floor, config.eval.floor_crf)
        observations = observe_all(inputs, floor, every, tick)
    finally:
        discard(floor)
    if observations.frames != dst_info.frame_count:
        raise UserError(
            f"only {observations.frames} of {dst_info.frame_count} frames could be read from "
            f"{inputs.dst} and {inputs.result} together; is one of them damaged?"
        )
    return _report(inputs, observations, src, every, truth, start)


def _report(
    inputs: EvalInputs,
    observations: Observations,
    src: npt.NDArray[np.float64],
    every: int,
    truth: list[dict[str, float]] | None,
    start: float,
) -> EvalReport:
    if not observations.faces:
        raise UserError(f"no face was found in dst {inputs.dst}; there is nothing to score")
    if not any(o.result.features is not None for o in observations.faces):
        raise UserError(
            f"no face was found in the result {inputs.result} where dst {inputs.dst} has one; "
            "is it the merge of this dst?"
        )
    pairs = [(o, o.identity) for o in observations.faces if o.identity is not None]
    ident, identity_points = None, []
    if pairs:
        result_d = np.array([i[0] for _, i in pairs])
        dst_d = np.array([i[1] for _, i in pairs])
        ident = retrieval(result_d, src, dst_d)
        to_src = np.linalg.norm(result_d - src.mean(axis=0), axis=1)
        to_dst = np.linalg.norm(result_d - dst_d.mean(axis=0), axis=1)
        identity_points = [
            (o.frame_index, o.track, float(a), float(b))
            for (o, _), a, b in zip(pairs, to_src, to_dst, strict=True)
        ]
    values = analysis.scores(observations, ident)
    tracks = analysis.group_tracks(observations)
    worst = analysis.worst_frames(tracks)
    if identity_points:
        far = max(identity_points, key=lambda p: p[2])
        worst.insert(0, analysis.Worst("identity", far[0], far[1], far[2]))
    report = EvalReport(
        result=str(inputs.result),
        dst=str(inputs.dst),
        src=", ".join(str(p) for p in inputs.src),
        frames=observations.frames,
        width=observations.width,
        height=observations.height,
        dst_faces=len(observations.faces),
        tracks=len(tracks),
        identity_every=every,
        seconds=round(time.monotonic() - start, 2),
        values=values,
        verdicts=verdicts(values["result"]),
        worst=worst,
        truth=analysis.truth_scores(tracks, truth) if truth else None,
        out_dir=str(inputs.out_dir),
    )
    write_outputs(inputs, report, tracks, identity_points, observations)
    return report


def write_outputs(
    inputs: EvalInputs,
    report: EvalReport,
    tracks: list[analysis.TrackSeries],
    identity_points: list[tuple[int, int, float, float]],
    observations: Observations,
) -> None:
    import cv2

    from faceweave.provenance.manifest import write_signed_png

    sheet = contact_sheet(report.worst, crops_for(inputs, report.worst, observations))
    target = inputs.out_dir / "worst_frames.png"
    try:
        write_signed_png(target, sheet)
    except OSError as exc:
        raise write_error(target, exc) from exc
    ok, png = cv2.imencode(".png", sheet)
    figures = plots(tracks, identity_points)
    write_text_atomic(
        inputs.out_dir / "report.html", render_html(report, figures, png.tobytes() if ok else b"")
    )
    write_text_atomic(inputs.out_dir / "report.json", to_json(report) + "\n")


def workspace_inputs(
    ws: Workspace,
    result: Path | None,
    dst: Path | None,
    src: tuple[Path, ...],
    out_dir: Path | None,
    truth: Path | None = None,
) -> EvalInputs:
    """The workspace's defaults for whatever was not given: result.mp4, data_dst.mp4 (else the
    video its faceset names, when that exists), the src faceset (else data_src.mp4), and eval/."""
    if dst is None:
        dst = ws.dst_video
        summary = summary_path(ws.dst_aligned)
        if not dst.is_file() and summary.is_file():
            # extract -w names its input as given on its own command line (maybe relative to
            # another folder); data_dst.mp4, the convention, wins, and a missing one is said later.
            with contextlib.suppress(SummaryError):
                named = Path(read_summary(summary).source)
                dst = named if named.is_file() else dst
    if not src:
        src = (
            (ws.src_aligned,)
            if ws.src_aligned.is_dir() and list_face_files(ws.src_aligned)
            else (ws.src_video,)
        )
    return EvalInputs(result or ws.result, dst, src, out_dir or ws.root / "eval", truth)
