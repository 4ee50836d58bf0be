"""`run_train`: two facesets -> a model, resumable, observable, never lost."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from faceweave.atomic import write_text_atomic
from faceweave.childproc import signals_held
from faceweave.config import Config, TrainConfig
from faceweave.errors import UserError
from faceweave.faceset.moves import recover, set_aside_faces
from faceweave.formats.checkpoint import (
    TrainState,
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from faceweave.models import FaceSwapModel, ModelConfig, build_model, to_tensor
from faceweave.train.data import Faceset, load_faceset
from faceweave.train.loop import LoopSettings, NonFiniteLoss, StepResult, run_loop
from faceweave.train.observe import append_log, preview_grid, write_loss_plot, write_preview
from faceweave.train.optim import make_optimizer
from faceweave.train.stream import StreamSettings, batch_loader, close_loader, stream_settings
from faceweave.workspace import Workspace

MAX_NAN_RECOVERIES = 3
LOG_NAME = "train_log.jsonl"
Say = Callable[[str], None]


@dataclass(frozen=True)
class TrainReport:
    model_dir: Path
    checkpoint: Path
    iteration: int
    steps_this_run: int
    seconds: float
    samples_per_s: float
    last_loss_src: float
    last_loss_dst: float
    resumed: bool
    preview: Path
    main: bool = True  # False on the other ranks of a distributed run


def model_config(cfg: TrainConfig) -> ModelConfig:
    """The [train] options that define the architecture, taken by name."""
    try:
        return ModelConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(ModelConfig)})
    except ValueError as exc:
        raise UserError(f"[train]: {exc}") from exc


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun launch (world 1 when run plainly)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(cfg: TrainConfig) -> Distributed:
    """Join the process group torchrun set up (WORLD_SIZE > 1): NCCL on GPUs, gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    gpu = cfg.device != "cpu" and torch.cuda.is_available()
    torch.distributed.init_process_group("nccl" if gpu else "gloo")
    return Distributed(torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(cfg: TrainConfig, dist: Distributed = Distributed()) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device = 'cuda' but no CUDA device is available; use auto or cpu")
    if cfg.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", dist.local_rank)


def use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    """bf16 autocast where it was measured to pay: CUDA, and CPUs with AVX-512 BF16 (about 2x here)."""
    if cfg.precision != "auto":
        return cfg.precision == "bf16"
    if device.type == "cuda":
        return True
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def _open_model(
    ws: Workspace, cfg: TrainConfig, resume_from: Path | None, say: Say
) -> tuple[FaceSwapModel, torch.optim.Optimizer, TrainState, bool]:
    wanted = model_config(cfg)
    if resume_from is not None or latest_checkpoint(ws.model) is not None:
        loaded = load_checkpoint(ws.model, resume_from)
        if loaded.model.config != wanted:
            raise UserError(
                f"{loaded.path} holds a {loaded.model.config.arch} {loaded.model.config.resolution} px model "
                f"with other sizes than [train] asks for ({wanted.arch} {wanted.resolution} px); "
                "set [train] back, or train into a fresh workspace"
            )
        optimizer = make_optimizer(loaded.model.parameters(), cfg)
        optimizer.load_state_dict(loaded.optimizer_state)
        torch.set_rng_state(loaded.torch_rng)
        say(f"resuming {loaded.path.name} at iteration {loaded.state.iteration}")
        return loaded.model, optimizer, loaded.state, True
    torch.manual_seed(cfg.seed)
    model = build_model(wanted)
    optimizer = make_optimizer(model.parameters(), cfg)
    return model, optimizer, TrainState(seed=cfg.seed, learning_rate=cfg.learning_rate), False


def _fixed_faces(faceset: Faceset, count: int = 4) -> torch.Tensor:
    step = max(1, len(faceset.faces) // count)
    return to_tensor(faceset.faces[::step][:count])


class Observer:
    """Logs, console lines, previews and timed checkpoints, called after every step."""

    def __init__(
        self,
        ws: Workspace,
        cfg: TrainConfig,
        model: FaceSwapModel,
        optimizer: torch.optim.Optimizer,
        state: TrainState,
        previews: tuple[torch.Tensor, torch.Tensor],
        say: Say,
        main: bool = True,
    ) -> None:
        self.ws, self.cfg, self.model, self.optimizer, self.state = ws, cfg, model, optimizer, state
        self.previews, self.say, self.main = previews, say, main
        self.last_save = self.last_line = time.monotonic()
        self.steps, self.busy_s, self.last = 0, 0.0, StepResult(state.iteration, 0.0, 0.0, 0.0)

    def __call__(self, step: StepResult) -> None:
        self.steps, self.busy_s, self.last = self.steps + 1, self.busy_s + step.seconds, step
        if not self.main:
            return  # in a distributed run, rank 0 alone logs, previews and saves
        rate = 2 * self.cfg.batch_size / max(step.seconds, 1e-9)
        append_log(
            self.ws.model / LOG_NAME,
            {
                "iteration": step.iteration,
                "loss_src": round(step.loss_src, 5),
                "loss_dst": round(step.loss_dst, 5),
                "s_per_it": round(step.seconds, 4),
                "samples_per_s": round(rate, 2),
                "time": round(time.time(), 1),
            },
        )
        now = time.monotonic()
        if now - self.last_line >= 5:
            self.last_line = now
            self.say(
                f"iter {step.iteration}  src {step.loss_src:.4f}  dst {step.loss_dst:.4f}  "
                f"{1 / max(step.seconds, 1e-9):.2f} it/s{self._eta(step)}"
            )
        if self.cfg.preview_every and step.iteration % self.cfg.preview_every == 0:
            self.preview()
        if now - self.last_save >= self.cfg.save_every_min * 60:
            self.save()

    def _eta(self, step: StepResult) -> str:
        if not self.cfg.iterations:
            return ""
        left = max(self.cfg.iterations - step.iteration, 0) * (self.busy_s / max(self.steps, 1))
        return f"  ETA {int(left // 60)}m{int(left % 60):02d}s"

    def preview(self) -> Path:
        if not self.main:
            return self.ws.model / "preview.png"
        return write_preview(self.ws.model, self.state.iteration, preview_grid(self.model, *self.previews))

    def save(self) -> Path:
        if not self.main:
            return self.ws.model / checkpoint_name(self.state.iteration)
        self.last_save = time.monotonic()
        self.state.learning_rate = float(self.optimizer.param_groups[0]["lr"])
        return save_checkpoint(
            self.ws.model, self.model, self.optimizer, self.state, self.cfg.keep_checkpoints
        )


def _recover(ws: Workspace, observer: Observer, exc: NonFiniteLoss, say: Say) -> None:
    """Restore the last good checkpoint, halve the learning rate, and say so."""
    state = observer.state
    if state.nan_recoveries >= MAX_NAN_RECOVERIES:
        raise UserError(
            f"training collapsed ({exc}) {MAX_NAN_RECOVERIES + 1} times; lower train.learning_rate"
        )
    loaded = load_checkpoint(ws.model)
    observer.model.load_state_dict(loaded.model.state_dict())
    observer.optimizer.load_state_dict(loaded.optimizer_state)
    for group in observer.optimizer.param_groups:
        group["lr"] = group["lr"] * 0.5
    state.iteration, state.nan_recoveries = loaded.state.iteration, state.nan_recoveries + 1
    say(
        f"loss became non-finite ({exc}); restored {loaded.path.name} at iteration {state.iteration} "
        f"and halved the learning rate to {observer.optimizer.param_groups[0]['lr']:.2e}"
    )


def run_train(
    config: Config, ws: Workspace, resume_from: Path | None = None, say: Say = lambda _: None
) -> TrainReport:
    """Train (or resume) the workspace's model until [train] iterations or time_limit_min."""
    cfg = config.train
    dist = init_distributed(cfg)
    try:
        return _train(cfg, ws, dist, resume_from, say if dist.main else _silent, config.faceset.pose_deg)
    finally:
        if dist.world > 1:
            torch.distributed.destroy_process_group()


@dataclass
class Session:
    """An opened training run: the facesets, the model and everything that steps it."""

    cfg: TrainConfig
    ws: Workspace
    dist: Distributed
    device: torch.device
    src: Faceset
    dst: Faceset
    observer: Observer
    trained: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    bf16: bool
    resumed: bool
    start_iteration: int


def _silent(_: str) -> None:
    pass


def _train(
    cfg: TrainConfig, ws: Workspace, dist: Distributed, resume_from: Path | None, say: Say, pose_deg: float
) -> TrainReport:
    session = _open(cfg, ws, dist, resume_from, say, pose_deg)
    seconds = _fit(session, say)
    return _report(session, seconds)


def _facesets(
    cfg: TrainConfig, ws: Workspace, dist: Distributed, say: Say, pose_deg: float
) -> tuple[Faceset, Faceset]:
    for folder in (ws.src_aligned, ws.dst_aligned):
        finished = recover(folder) if folder.is_dir() else ""  # a faceset sort a crash cut short
        if finished:
            say(f"{folder}: {finished}")
    src = load_faceset(ws.src_aligned, cfg.resolution, occlusion=cfg.occlusion_mask)
    dst = load_faceset(ws.dst_aligned, cfg.resolution, occlusion=cfg.occlusion_mask)
    say(f"facesets: {len(src.faces)} src, {len(dst.faces)} dst faces at {cfg.resolution} px")
    for side, folder in (("src", ws.src_aligned), ("dst", ws.dst_aligned)):
        aside = set_aside_faces(folder)
        if aside:
            say(f"{side}: {aside} face(s) in {folder / '_rejected'}/ are not trained on (`faceset restore`)")
    ws.model.mkdir(parents=True, exist_ok=True)
    if dist.main:
        _say_coverage(cfg, ws, pose_deg, say)
    if src.face_type != dst.face_type:
        raise UserError(
            f"src faces are {src.face_type} crops and dst faces are {dst.face_type}; "
            "re-extract one side with the other's --face-type"
        )
    return src, dst


def _say_coverage(cfg: TrainConfig, ws: Workspace, pose_deg: float, say: Say) -> None:
    """What dst does that src never shows (`faceweave faceset coverage`'s summary), said and logged."""
    from faceweave.faceset.coverage import run_coverage

    result = run_coverage(ws.src_aligned, ws.dst_aligned, pose_deg, augmenting=cfg.expression_aug > 0)
    for line in result.lines():
        say(f"src lacks: {line}" if result.gaps else f"coverage: {line}")
    shares = {f"dst_beyond_src_{g.measure}": round(g.share, 3) for g in result.gaps}
    append_log(ws.model / LOG_NAME, {"event": "coverage", "time": round(time.time(), 1), **shares})


def _open(
    cfg: TrainConfig, ws: Workspace, dist: Distributed, resume_from: Path | None, say: Say, pose_deg: float
) -> Session:
    """Facesets in memory, the model fresh or resumed on its device, and a first checkpoint."""
    device = pick_device(cfg, dist)
    src, dst = _facesets(cfg, ws, dist, say, pose_deg)
    model, optimizer, state, resumed = _open_model(ws, cfg, resume_from, say)
    if state.face_type and state.face_type != src.face_type:
        raise UserError(
            f"the model in {ws.model} learnt {state.face_type} crops but the facesets hold {src.face_type}; "
            f"re-extract with --face-type {state.face_type}, or train a fresh model"
        )
    state.face_type = src.face_type
    if dist.world > 1:
        # Every rank has decided fresh-or-resume before rank 0 writes the first checkpoint below.
        torch.distributed.barrier()
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if dist.main:
        write_text_atomic(ws.model / "train_config.json", json.dumps(cfg.__dict__, indent=1) + "\n")
    previews = (_fixed_faces(src).to(device), _fixed_faces(dst).to(device))
    observer = Observer(ws, cfg, model, optimizer, state, previews, say, dist.main)
    if not resumed:
        observer.save()  # a first checkpoint, so a collapse has something to return to
    trained: torch.nn.Module = model
    if dist.world > 1:
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    bf16 = use_bf16(cfg, device)
    return Session(cfg, ws, dist, device, src, dst, observer, trained, bf16, resumed, state.iteration)


def _fit(session: Session, say: Say) -> float:
    """Step until the target, restoring after a collapse and saving on Ctrl-C; the seconds spent."""
    cfg, observer, state, device = session.cfg, session.observer, session.observer.state, session.device
    start = time.monotonic()
    settings = LoopSettings(
        device=device,
        bf16=session.bf16,
        grad_clip=cfg.grad_clip,
        stop_iteration=cfg.iterations,
        deadline=start + cfg.time_limit_min * 60 if cfg.time_limit_min else 0.0,
        distributed=session.dist.world > 1,
        lr_dropout=cfg.lr_dropout,
        seed=cfg.seed,
    )
    stream = stream_settings(cfg, session.dist.rank)
    if cfg.iterations and state.iteration >= cfg.iterations:
        say(f"the model is already at iteration {state.iteration}, past {cfg.iterations}: nothing to train")
    say(
        f"training {cfg.arch} {cfg.resolution} px on {device.type}{' (bf16)' if session.bf16 else ''}, "
        f"batch {cfg.batch_size} per side"
    )
    phases = warp_phases(cfg, settings.stop_iteration, settings.deadline, start)
    try:
        for number, phase in enumerate(phases):
            if _finished(state.iteration, phase):
                continue  # a resumed run past the switch
            if number:
                say(f"random warp off from iteration {state.iteration}: clean inputs to the end")
            limits = replace(settings, stop_iteration=phase.stop_iteration, deadline=phase.deadline)
            _fit_phase(session, replace(stream, warp=phase.warp), limits, say)
    except KeyboardInterrupt:
        with signals_held():  # a second SIGTERM (systemd, Slurm) must not cut this save short
            observer.save()
        say(f"interrupted: saved iteration {state.iteration}")
        raise
    seconds = time.monotonic() - start
    state.elapsed_s += seconds
    return seconds


@dataclass(frozen=True)
class WarpPhase:
    """A stretch of a run with or without random warp, up to a step count and/or a deadline (0 = none)."""

    warp: bool
    stop_iteration: int
    deadline: float


def warp_phases(cfg: TrainConfig, stop_iteration: int, deadline: float, start: float) -> list[WarpPhase]:
    """The run's phases: warped inputs for the first `warp_until` of it, then clean inputs. The
    switch is a step count when the run has one (so a resume sees the batches an uninterrupted run
    would), else a share of the time limit; a run with neither warps to the end, as it cannot know
    where its end is."""
    if not cfg.warp or cfg.warp_until <= 0:
        return [WarpPhase(False, stop_iteration, deadline)]
    if cfg.warp_until >= 1 or not (stop_iteration or deadline):
        return [WarpPhase(True, stop_iteration, deadline)]
    if stop_iteration:
        switch = WarpPhase(True, round(cfg.warp_until * stop_iteration), deadline)
    else:
        switch = WarpPhase(True, 0, start + cfg.warp_until * (deadline - start))
    return [switch, WarpPhase(False, stop_iteration, deadline)]


def _finished(iteration: int, phase: WarpPhase) -> bool:
    return bool(phase.stop_iteration and iteration >= phase.stop_iteration) or bool(
        phase.deadline and time.monotonic() >= phase.deadline
    )


def _fit_phase(session: Session, stream: StreamSettings, settings: LoopSettings, say: Say) -> None:
    """Steps of one phase on its own batches, restoring the last checkpoint after a collapse."""
    state, observer, workers = session.observer.state, session.observer, session.cfg.loader_workers
    while True:
        batches = batch_loader(
            session.src, session.dst, stream, state.iteration, workers, session.device.type == "cuda"
        )
        try:
            run_loop(session.trained, observer.optimizer, batches, state, settings, observer)
            return
        except NonFiniteLoss as exc:
            _recover(session.ws, observer, exc, say)
        finally:
            close_loader(batches)


def _report(session: Session, seconds: float) -> TrainReport:
    """The final checkpoint, preview and loss plot, and the run's figures."""
    observer, cfg, dist = session.observer, session.cfg, session.dist
    checkpoint = observer.save()
    preview = observer.preview()
    if dist.main:  # one writer: the plot's temporary file name is shared
        write_loss_plot(session.ws.model / LOG_NAME, session.ws.model / "loss.png")
    steps = observer.state.iteration - session.start_iteration
    rate = 2 * cfg.batch_size * dist.world * steps / max(observer.busy_s, 1e-9)
    return TrainReport(
        model_dir=session.ws.model,
        checkpoint=checkpoint,
        iteration=observer.state.iteration,
        steps_this_run=steps,
        seconds=seconds,
        samples_per_s=rate,
        last_loss_src=observer.last.loss_src,
        last_loss_dst=observer.last.loss_dst,
        resumed=session.resumed,
        preview=preview,
        main=dist.main,
    )
