"""Checkpoints that survive crashes: one folder per save, a pointer to the newest, K backups.

model/
  latest                  name of the newest complete checkpoint folder (replaced atomically)
  ckpt-000001200/         model.safetensors, config.json, state.json, optimizer.pt
  ckpt-000001000/         an older one, kept as a backup

The files of one checkpoint (schema CHECKPOINT_SCHEMA, in config.json):
  model.safetensors       the weights, by parameter name (safetensors: no pickle, no code)
  config.json             {"schema_version": 1, "model": ModelConfig as a table}: enough to rebuild
                          the architecture (its `arch` names a plugin in MODELS)
  state.json              TrainState: iteration, seed, elapsed_s, learning_rate, nan_recoveries,
                          face_type; every field type- and range-checked on load
  optimizer.pt            {"optimizer": AdamW state, "torch_rng": uint8 tensor}, read with
                          torch.load(weights_only=True), which refuses anything but tensors and
                          plain containers

A save serialises everything in memory first, then writes a hidden temporary folder, fsyncs every
file, renames it into place and only then
moves `latest`: a crash, Ctrl-C or full disk at any moment leaves the previous checkpoint intact.
Loading never falls back silently: a damaged checkpoint is an error that names the file and the
newest good backup to resume from.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors

from faceweave.atomic import discard, write_text_atomic
from faceweave.errors import UserError, write_error
from faceweave.models import FaceSwapModel, ModelConfig, build_model

CHECKPOINT_SCHEMA = 1
LATEST = "latest"
FILES = ("model.safetensors", "config.json", "state.json", "optimizer.pt")


class CheckpointError(UserError):
    """A checkpoint is missing, damaged or does not match."""


@dataclass
class TrainState:
    """Where training stands; everything a resume needs besides weights and optimizer."""

    iteration: int = 0
    seed: int = 0
    elapsed_s: float = 0.0
    learning_rate: float = 0.0
    nan_recoveries: int = 0
    face_type: str = ""  # of the facesets it learnt from; merging needs the same crop


_STATE_TYPES = {f.name: f.type for f in fields(TrainState)}


def state_from_json(text: str, origin: Path) -> TrainState:
    """TrainState from state.json, every field checked: a hand-edited or damaged file is refused with
    the field named, like any other damaged checkpoint, never half-trusted."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{origin} is not a JSON object")
    values: dict[str, Any] = {}
    for name, kind in _STATE_TYPES.items():
        if name not in document:
            raise ValueError(f"{origin} lacks {name!r}")
        value = document[name]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53,
            "float": isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0,
            "str": isinstance(value, str) and len(value) <= 64,
        }[str(kind)]  # fmt: skip
        if not ok:
            raise ValueError(f"{origin}: {name!r} must be a non-negative {kind}, not {str(value)[:40]!r}")
        values[name] = float(value) if str(kind) == "float" else value
    return TrainState(**values)


def checkpoint_name(iteration: int) -> str:
    return f"ckpt-{iteration:09d}"


def save_checkpoint(
    model_dir: Path, model: FaceSwapModel, optimizer: torch.optim.Optimizer, state: TrainState, keep: int = 3
) -> Path:
    """Write a new checkpoint atomically and keep the newest `keep` (at least 1 backup + current)."""
    final = model_dir / checkpoint_name(state.iteration)
    temp = model_dir / f".{final.name}.partial-{os.getpid()}"
    # Serialised in memory first: safetensors and torch's zip writer report a full disk as a bare
    # message ("unexpected pos"), while a plain write raises an OSError that names the cause.
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    extra = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}, extra)
    files = {
        "model.safetensors": save_tensors(weights),
        "config.json": json.dumps({"schema_version": CHECKPOINT_SCHEMA, "model": model.config.to_dict()},
                                  indent=1).encode(),
        "state.json": json.dumps(asdict(state), indent=1).encode(),
        "optimizer.pt": extra.getvalue(),
    }  # fmt: skip
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        discard(temp)
        temp.mkdir()
        for name, data in files.items():
            with open(temp / name, "wb") as handle:
                handle.write(data)
                os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
        write_text_atomic(model_dir / LATEST, final.name + "\n")
    except OSError as exc:
        discard(temp)
        raise write_error(final, exc) from exc
    except BaseException:
        discard(temp)
        raise
    for old in list_checkpoints(model_dir)[:-keep]:
        discard(old)
    return final


def list_checkpoints(model_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not model_dir.is_dir():
        return []
    return sorted(p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith("ckpt-"))


def latest_checkpoint(model_dir: Path) -> Path | None:
    pointer = model_dir / LATEST
    if pointer.is_file():
        return model_dir / pointer.read_text(encoding="utf-8").strip()
    found = list_checkpoints(model_dir)
    return found[-1] if found else None


@dataclass
class Loaded:
    model: FaceSwapModel
    optimizer_state: dict[str, Any]
    torch_rng: torch.Tensor
    state: TrainState
    path: Path


def _read_checkpoint(path: Path) -> Loaded:
    """Load one checkpoint folder; ValueError/OSError/SafetensorError describe what is wrong."""
    for name in FILES:
        if not (path / name).is_file():
            raise ValueError(f"{path / name} is missing")
    document = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if document.get("schema_version") != CHECKPOINT_SCHEMA:
        raise ValueError(f"{path / 'config.json'} has schema_version {document.get('schema_version')!r}")
    model = build_model(ModelConfig.from_dict(document["model"]))
    try:
        weights = load_file(str(path / "model.safetensors"))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ValueError(f"{path / 'model.safetensors'} is damaged ({exc})") from exc
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path / 'model.safetensors'} does not match its config.json")
    state = state_from_json((path / "state.json").read_text(encoding="utf-8"), path / "state.json")
    try:
        extra = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path / 'optimizer.pt'} is damaged ({type(exc).__name__})") from exc
    rng = extra.get("torch_rng") if isinstance(extra, dict) else None
    holds_optimizer = isinstance(extra, dict) and isinstance(extra.get("optimizer"), dict)
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or not holds_optimizer:
        raise ValueError(f"{path / 'optimizer.pt'} does not hold an optimizer state and a random state")
    return Loaded(model, extra["optimizer"], rng, state, path)


def load_checkpoint(model_dir: Path, path: Path | None = None) -> Loaded:
    """The newest checkpoint (or `path`); a damaged one is an error pointing to a good backup."""
    target = path or latest_checkpoint(model_dir)
    if target is None:
        raise CheckpointError(f"no checkpoint in {model_dir}")
    try:
        return _read_checkpoint(target)
    except (ValueError, KeyError, TypeError, OSError, json.JSONDecodeError) as exc:
        good = _newest_good(model_dir, exclude=target)
        hint = (
            f"; the newest good backup is {good}: resume from it with --resume-from {good}"
            if good
            else "; no good backup exists"
        )
        raise CheckpointError(f"checkpoint {target} cannot be loaded: {exc}{hint}") from exc


def _newest_good(model_dir: Path, exclude: Path) -> Path | None:
    for candidate in reversed(list_checkpoints(model_dir)):
        if candidate == exclude:
            continue
        try:
            _read_checkpoint(candidate)
        except (ValueError, KeyError, TypeError, OSError, json.JSONDecodeError):
            continue
        return candidate
    return None
