"""The DeepFaceLab-style workspace folder and `faceweave init`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faceweave.atomic import sweep_stale, write_text_atomic
from faceweave.config import load_config, render_toml
from faceweave.errors import UserError, write_error
from faceweave.presets import device_preset

CONFIG_NAME = "faceweave.toml"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def src_video(self) -> Path:
        return self.root / "data_src.mp4"

    @property
    def dst_video(self) -> Path:
        return self.root / "data_dst.mp4"

    @property
    def src_aligned(self) -> Path:
        return self.root / "data_src" / "aligned"

    @property
    def dst_aligned(self) -> Path:
        return self.root / "data_dst" / "aligned"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def merged(self) -> Path:
        return self.root / "data_dst" / "merged"

    @property
    def result(self) -> Path:
        return self.root / "result.mp4"

    @property
    def merge_session(self) -> Path:
        return self.root / "merge_session.json"

    def sweep(self, say: Callable[[str], None]) -> None:
        """Clear what a killed run (`kill -9`, a power cut) left half-written, and say so."""
        for folder in (self.root, self.src_aligned.parent, self.dst_aligned.parent, self.model):
            sweep_stale(folder, say)

    def folders(self) -> tuple[Path, ...]:
        """Folders `init` creates; merged/ appears only when merged frames are asked for."""
        return (self.src_aligned, self.dst_aligned, self.model)


@dataclass(frozen=True)
class InitReport:
    workspace: Workspace
    created: tuple[Path, ...]
    config_written: bool


def init_workspace(root: Path, preset: str | None = None, overwrite_config: bool = False) -> InitReport:
    """Create the workspace folders and a faceweave.toml (with `preset`, or the one that suits this
    machine); an existing config is kept unless asked."""
    ws = Workspace(Path(root))
    if ws.root.exists() and not ws.root.is_dir():
        raise UserError(f"{ws.root} exists and is not a folder")
    created = []
    for folder in (ws.root, *ws.folders()):
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise write_error(folder, exc) from exc
            created.append(folder)
    write = overwrite_config or not ws.config.exists()
    if write:
        preset = preset or device_preset()
        write_text_atomic(ws.config, render_toml(load_config(preset=preset), preset))
    else:
        load_config(ws.config)  # an existing file must still be valid
    return InitReport(ws, tuple(created), write)
