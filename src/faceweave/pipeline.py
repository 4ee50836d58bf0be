"""`run_pipeline`: two videos in, result.mp4 out; every stage resumes where an earlier run stopped.

Stages: init, extract src, extract dst, train, merge. Extraction is skipped when the workspace
already holds a complete faceset of the same input (extract.json names it, with its frame count);
training resumes from the newest checkpoint and counts the time already spent; merge always runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from faceweave.config import Config
from faceweave.errors import UserError
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files
from faceweave.formats.checkpoint import latest_checkpoint, load_checkpoint
from faceweave.formats.summary import SummaryError, read_summary, summary_path
from faceweave.media.probe import probe_video
from faceweave.merge.preview import write_comparison
from faceweave.merge.run import MergeReport, run_merge
from faceweave.merge.session import describe, read_session
from faceweave.quality.report import EvalReport
from faceweave.quality.run import run_eval, workspace_inputs
from faceweave.train.run import TrainReport, run_train
from faceweave.workspace import Workspace, init_workspace

Say = Callable[[str], None]


@dataclass(frozen=True)
class PipelineReport:
    workspace: Workspace
    extracted: tuple[bool, bool]  # False where an earlier run's faceset was reused
    trained: TrainReport | None  # None when the training target was already reached
    merged: MergeReport
    comparison: Path
    evaluation: EvalReport | None  # None when the result could not be scored (the reason was said)


def extraction_done(ws: Workspace, side: str, source: Path) -> bool:
    """True when data_<side> holds a finished extraction of this very input."""
    path = summary_path(ws.src_aligned if side == "src" else ws.dst_aligned)
    if not path.is_file():
        return False
    try:
        summary = read_summary(path)
        same = Path(summary.source).resolve() == source.resolve()
        return bool(same and summary.frames == probe_video(source).frame_count)
    except (SummaryError, OSError):
        return False  # extracted again, from scratch


def training_left(ws: Workspace, config: Config) -> Config | None:
    """[train] for the rest of the target (total iterations, or total minutes across runs), or
    None when an earlier run reached it."""
    cfg = config.train
    if latest_checkpoint(ws.model) is None:
        return config
    state = load_checkpoint(ws.model).state
    if cfg.iterations:
        return config if state.iteration < cfg.iterations else None
    left = cfg.time_limit_min - state.elapsed_s / 60
    return replace(config, train=replace(cfg, time_limit_min=left)) if left > 0.05 else None


def run_pipeline(
    config: Config, root: Path, src: Path, dst: Path, say: Say = lambda _: None
) -> PipelineReport:
    for side, path in (("src", src), ("dst", dst)):
        if not path.exists():
            raise UserError(f"the {side} input {path} does not exist")
    if not config.train.iterations and not config.train.time_limit_min:
        raise UserError("give --iterations or --time so training can end")
    ws = init_workspace(root).workspace
    extracted = []
    for side, path in (("src", src), ("dst", dst)):
        if not path.is_dir() and extraction_done(ws, side, path):
            say(f"{side}: faces already extracted from {path.name}; reusing them")
            extracted.append(False)
            continue
        say(f"extracting {side} faces from {path} ...")
        report = run_extract(config, ws, side, source=path, overwrite=True)
        say(f"{side}: {report.faces} faces from {report.frames} frames")
        extracted.append(True)
    session = read_session(ws.merge_session)  # a damaged session is said before hours of training
    remaining = training_left(ws, config)
    trained = None
    if remaining is None:
        say("training target already reached; merging with the newest checkpoint")
    else:
        trained = run_train(remaining, ws, say=say)
    say("merging the swapped faces into every dst frame"
        + (f" with the merge session ({describe(session)})" if session else "") + " ...")  # fmt: skip
    merged = run_merge(config, ws, session=session)
    say(f"merged {merged.frames} frames ({merged.frames_with_faces} with faces) in {merged.seconds:.1f} s")
    if merged.set_aside:
        say(f"{merged.set_aside} dst face(s) in {ws.dst_aligned / '_rejected'}/ were not swapped")
    evaluation = evaluate(config, ws, say)
    middle = _middle_face_frame(ws)
    captions = comparison_captions(evaluation) if evaluation else []
    comparison = write_comparison(config, dst, merged.result, middle, ws.root / "comparison.png", captions)
    return PipelineReport(ws, (extracted[0], extracted[1]), trained, merged, comparison, evaluation)


def evaluate(config: Config, ws: Workspace, say: Say) -> EvalReport | None:
    """`faceweave eval` of the fresh result; a result it cannot score is said, not fatal: the
    video is made, and the user learns why it has no scores."""
    say("scoring the result (faceweave eval) ...")
    try:
        return run_eval(config, workspace_inputs(ws, None, None, (), None))
    except UserError as exc:
        say(f"eval could not score the result: {exc}")
        return None


def comparison_captions(report: EvalReport) -> list[str]:
    """The eval figures a glance at comparison.png should carry."""
    r, v = report.values["result"], report.verdicts

    def cell(key: str, fmt: str) -> str:
        value = r.get(key)
        return "n/a" if value is None else f"{format(value, fmt)} ({v.get(key, '')})"

    return [
        f"identity: closer to src {cell('retrieval', '.0%')}, distance to src {cell('to_src', '.2f')}",
        f"performance: mouth {cell('mouth_corr', '.2f')}, eyes {cell('eye_corr', '.2f')}, "
        f"smile {cell('smile_corr', '.2f')}, pose error {cell('pose_error', '.1f')} deg",
        f"stability: jitter {cell('jitter_x_floor', '.1f')}x, flicker {cell('flicker_x_floor', '.1f')}x "
        f"codec floor; skin dE {cell('skin_delta_e', '.1f')}, seam {cell('seam_x_dst', '.2f')}x dst",
    ]


def _middle_face_frame(ws: Workspace) -> int:
    files = list_face_files(ws.dst_aligned)
    return int(files[len(files) // 2].name.split("_")[0])
