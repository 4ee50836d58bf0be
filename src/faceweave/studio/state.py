"""What the studio shows of a workspace, read from the same files the CLI writes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from faceweave.errors import UserError
from faceweave.formats.aligned import list_face_files
from faceweave.workspace import Workspace

PHOTOS = (".jpg", ".jpeg", ".png")  # what extraction reads from data_<side>/
LOSS_POINTS = 600  # the loss curve is thinned to this many points, whatever the log's length


# Probing a 10-minute video counts its packets (about half a second); a face count lists a folder.
# Both are kept while the file (or the folder's entries) are unchanged: the page asks twice a second.
_probed: dict[tuple[str, int, int], dict[str, Any]] = {}
_counted: dict[tuple[str, int], int] = {}


def _probe(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        from faceweave.studio.inputs import side_photos

        names = [p.name for p in side_photos(path.with_suffix(""))]  # data_src.mp4 -> data_src/
        return {"photos": len(names), "first": names[0]} if names else None  # the first is shown
    info_key = (str(path), path.stat().st_size, path.stat().st_mtime_ns)
    if info_key not in _probed:
        if len(_probed) > 256:
            _probed.clear()
        _probed[info_key] = _probe_now(path)
    return _probed[info_key]


def _probe_now(path: Path) -> dict[str, Any]:
    from faceweave.media.probe import probe_video

    try:
        info = probe_video(path)
    except UserError as exc:
        return {"error": str(exc)}
    return {
        "width": info.width, "height": info.height, "fps": round(float(info.fps), 3),
        "frames": info.frame_count, "seconds": round(info.duration_s, 2), "codec": info.codec,
        "audio": bool(info.audio), "bytes": path.stat().st_size,
    }  # fmt: skip


def _faces(folder: Path) -> int:
    """How many face files; nothing is opened, and the count is kept while the folder's entries
    are unchanged (adding, removing or renaming a file changes the folder's mtime)."""
    if not folder.is_dir():
        return 0
    key = (str(folder), folder.stat().st_mtime_ns)
    if key not in _counted:
        if len(_counted) > 256:
            _counted.clear()
        _counted[key] = len(list_face_files(folder))
    return _counted[key]


def _checkpoints(model: Path) -> list[dict[str, Any]]:
    """Each kept checkpoint with its step and the preview drawn at (or last before) that step."""
    from faceweave.formats.checkpoint import list_checkpoints

    folder = model / "previews"
    numbered = [p.stem for p in folder.iterdir()] if folder.is_dir() else []
    previews = sorted(int(s) for s in numbered if re.fullmatch(r"[0-9]{1,12}", s))
    out = []
    for path in list_checkpoints(model):
        digits = path.name.removeprefix("ckpt-")
        step = int(digits) if re.fullmatch(r"[0-9]{1,12}", digits) else 0
        drawn = [p for p in previews if p <= step]
        preview = f"model/previews/{drawn[-1]:09d}.png" if drawn else None
        out.append({"name": path.name, "iteration": step, "preview": preview})
    return out


def _elapsed_s(model: Path, last: dict[str, Any] | None) -> float | None:
    """Training time so far: the newest checkpoint's (state.json), plus the steps logged since it
    at the newest step's pace, so that it runs on between saves."""
    from faceweave.formats.checkpoint import latest_checkpoint

    newest = latest_checkpoint(model) if model.is_dir() else None
    try:
        state = json.loads((newest / "state.json").read_text(encoding="utf-8")) if newest else {}
        if not isinstance(state, dict):
            return None
        elapsed, saved_at = float(state.get("elapsed_s", 0.0)), int(state.get("iteration", 0))
        if last is not None and int(last.get("iteration", 0)) > saved_at:
            elapsed += (int(last["iteration"]) - saved_at) * float(last.get("s_per_it") or 0.0)
        return elapsed if math.isfinite(elapsed) else None
    except (OSError, ValueError, TypeError):
        return None


def _model(ws: Workspace) -> dict[str, Any]:
    try:
        checkpoints = _checkpoints(ws.model) if ws.model.is_dir() else []
    except (UserError, OSError):
        checkpoints = []
    preview = ws.model / "preview.png"
    last = last_log_record(ws.model / "train_log.jsonl")
    return {
        "checkpoints": [c["name"] for c in checkpoints],
        "kept": checkpoints,
        "elapsed_s": _elapsed_s(ws.model, last),
        "preview_mtime": preview.stat().st_mtime if preview.is_file() else None,
        "last": last,
    }


def last_log_record(path: Path, tail_bytes: int = 8192) -> dict[str, Any] | None:
    """The last training step of train_log.jsonl, read from the file's end (a 1-hour log is big)."""
    if not path.is_file():
        return None
    with path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - tail_bytes))
        lines = log.read().decode("utf-8", "replace").splitlines()
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "iteration" in record:
            return record
    return None


def losses(path: Path, points: int = LOSS_POINTS) -> dict[str, list[float]]:
    """(iteration, src loss, dst loss) of every training step, thinned to about `points`."""
    its: list[float] = []
    src: list[float] = []
    dst: list[float] = []
    if path.is_file():
        with path.open(encoding="utf-8", errors="replace") as log:
            for line in log:
                if '"iteration"' not in line:
                    continue
                try:
                    record = json.loads(line)
                    its.append(float(record["iteration"]))
                    src.append(float(record["loss_src"]))
                    dst.append(float(record["loss_dst"]))
                except (ValueError, KeyError, TypeError):
                    continue
    step = max(1, len(its) // points)
    return {"iteration": its[::step], "src": src[::step], "dst": dst[::step]}


def workspace_state(name: str, root: Path) -> dict[str, Any]:
    ws = Workspace(root)
    result = ws.result
    return {
        "name": name,
        "inputs": {"src": _probe(ws.src_video), "dst": _probe(ws.dst_video)},
        "faces": {"src": _faces(ws.src_aligned), "dst": _faces(ws.dst_aligned)},
        "model": _model(ws),
        "result": {"exists": result.is_file(), "mtime": result.stat().st_mtime if result.is_file() else None},
        "eval": (root / "eval" / "report.html").is_file(),
    }
