"""Configuration: frozen dataclasses per stage, loaded from TOML, then presets, then CLI overrides.

Every option is declared once, here, with its default, a one-line help text and what is allowed;
`render_toml` writes them all (with comments) into a workspace's faceweave.toml, and `validate`
checks a merged mapping against the same declarations, naming the key on any error.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_type_hints

from faceweave.errors import ConfigError
from faceweave.plugins import Choices, choice_names
from faceweave.registries import BLENDS, COLORS, DETECTORS, MASKS, MODELS

if TYPE_CHECKING:  # the media layer pulls in PyAV, which training alone (say on a GPU box) never needs
    from faceweave.media.audio import AudioMode
    from faceweave.media.encode import EncodeSettings

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow",
)  # fmt: skip

SCHEMA_VERSION = 1
Raw = dict[str, dict[str, Any]]


def opt(
    default: Any,
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | Choices | None = None,
) -> Any:
    """A config field with its help line and its allowed values (`Choices(REGISTRY)`: the names of
    a plugin kind, read when first needed)."""
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices, "default": default}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class VideoConfig:
    """How faceweave writes videos."""

    crf: int = opt(18, "x264 constant rate factor: lower is better quality and a bigger file", lo=0, hi=51)
    preset: str = opt("medium", "x264 preset: slower is smaller at the same quality", choices=X264_PRESETS)
    audio: str = opt(
        "auto",
        "audio from the reference video: auto copies it (AAC when MP4 cannot hold it), aac re-encodes",
        choices=("auto", "aac", "none"),
    )

    def encode_settings(self) -> EncodeSettings:
        """The encoder's settings; `audio` was validated against its choices."""
        from faceweave.media.encode import EncodeSettings

        return EncodeSettings(self.crf, self.preset, cast("AudioMode", self.audio))


@dataclass(frozen=True)
class DecodeConfig:
    """How faceweave reads videos and image folders."""

    on_error: str = opt(
        "stop", "a damaged frame stops with its index, or is skipped and counted", choices=("stop", "skip")
    )
    image_fps: float = opt(25.0, "frame rate given to a folder of images used as a video", lo=1, hi=240)


@dataclass(frozen=True)
class FramesConfig:
    """How `faceweave frames` writes images."""

    format: str = opt("png", "image format of extracted frames", choices=("png", "jpg"))
    jpeg_quality: int = opt(95, "JPEG quality of extracted frames", lo=1, hi=100)
    png_compression: int = opt(3, "PNG compression level: higher is smaller and slower", lo=0, hi=9)


@dataclass(frozen=True)
class ExtractConfig:
    """How `faceweave extract` finds, aligns and stores faces."""

    face_type: str = opt(
        "full",
        "how much of the head a crop covers, from tight to whole head",
        choices=("half", "mid", "full", "whole", "head"),
    )
    size_px: int = opt(256, "side of the aligned face crop in pixels", lo=64, hi=1024)
    detector: str = opt("mediapipe", "face detector and landmarker", choices=Choices(DETECTORS))
    format: str = opt("png", "aligned face file format: png is lossless", choices=("png", "jpg"))
    jpeg_quality: int = opt(95, "JPEG quality of aligned faces when format is jpg", lo=1, hi=100)
    min_score: float = opt(0.5, "detector confidence a face needs to count", lo=0.05, hi=1.0)
    max_faces: int = opt(4, "most faces kept per frame (highest scores first)", lo=1, hi=32)
    try_rotations: bool = opt(False, "when a frame has no face, also search it turned 90/270/180 degrees")
    smoothing: float = opt(0.5, "temporal landmark smoothing per track: 0 off, 1 strongest", lo=0.0, hi=1.0)
    track_identity: bool = opt(True, "give a face that leaves and comes back its old track id (by identity)")
    reference_threshold: float = opt(
        0.6, "with --reference: largest identity distance still kept (dlib: 0.6)", lo=0.1, hi=1.5
    )
    workers: int = opt(2, "detection processes; 1 runs in this process", lo=1, hi=64)


@dataclass(frozen=True)
class TrainConfig:
    """How `faceweave train` builds and trains the model."""

    arch: str = opt("df", "model architecture", choices=Choices(MODELS))
    resolution: int = opt(64, "model input/output side in pixels (a multiple of 16)", lo=64, hi=512)
    encoder_dims: int = opt(32, "encoder width (channels of the first layer)", lo=8, hi=512)
    bottleneck_dims: int = opt(256, "width of the shared code", lo=16, hi=2048)
    decoder_dims: int = opt(16, "decoder width", lo=8, hi=512)
    mask_dims: int = opt(8, "mask decoder width", lo=4, hi=256)
    pixel_norm: bool = opt(False, "DeepFaceLab's -u: scale the encoder's code to unit RMS")
    double_res: bool = opt(
        False, "DeepFaceLab's -d: decoders at half size, a last pixel shuffle doubles (resolution % 32 == 0)"
    )
    batch_size: int = opt(8, "faces per side per step", lo=1, hi=512)
    learning_rate: float = opt(1e-4, "AdamW learning rate", lo=1e-7, hi=1e-2)
    weight_decay: float = opt(0.0, "AdamW weight decay", lo=0.0, hi=0.1)
    grad_clip: float = opt(1.0, "clip the gradient norm to this (0 = off)", lo=0.0, hi=100.0)
    eyes_mouth_weight: float = opt(
        3.0, "pixel-loss weight of eyes and mouth against the rest of the face", lo=1.0, hi=20.0
    )
    lr_dropout: float = opt(
        0.0,
        "drop this fraction of weight updates at random each step, to sharpen a trained model "
        "(DeepFaceLab's lr_dropout keeps 0.3 of them: 0.7 here); 0 = off",
        lo=0.0,
        hi=0.95,
    )
    warp: bool = opt(True, "random-warp the input (not the target): needed to learn a swap")
    warp_until: float = opt(
        1.0,
        "share of a run (of train.iterations, else of train.time_limit_min) trained on random-warped "
        "inputs; the rest trains on clean ones, as DeepFaceLab users turn random_warp off late: the "
        "swap's smile follows dst better, its eyes worse (measured in the README); 1 = warp to the end",
        lo=0.0,
        hi=1.0,
    )
    color_transfer: str = opt(
        "none",
        "recolour each src sample toward a random dst face (DeepFaceLab's ct_mode), so the model "
        "does not learn src's colour cast",
        choices=Choices(COLORS, lambda plugin: plugin.value.training),
    )
    uniform_yaw: bool = opt(True, "draw faces evenly across head-yaw bins")
    occlusion_mask: bool = opt(
        True,
        "leave out of the loss (and of the learnt mask) what the occluder segmenter finds in front of a face",
    )
    uniform_expression: bool = opt(
        True, "also draw faces evenly across mouth-opening and eye-opening bins, so rare expressions count"
    )
    expression_aug: float = opt(
        0.5,
        "share of src samples given a random expression by a mesh warp (jaw drop, smile, closing "
        "eyes, raised brows), so src's decoder learns shapes its footage lacks; 0 = off",
        lo=0.0,
        hi=1.0,
    )
    brow_aug_dst: float = opt(
        0.0,
        "share of dst samples whose brows are raised by the same mesh warp, so the shared code holds a "
        "brow raise alike for both faces and the swap's brows follow dst's; it costs some smile and "
        "sharpness (measured in the README); 0 = off",
        lo=0.0,
        hi=1.0,
    )
    iterations: int = opt(0, "stop after this many steps in total (0 = no limit)", lo=0, hi=100_000_000)
    time_limit_min: float = opt(
        0.0, "stop after this many minutes of this run (0 = no limit)", lo=0.0, hi=100_000.0
    )
    save_every_min: float = opt(10.0, "save a checkpoint this often", lo=0.1, hi=1440.0)
    keep_checkpoints: int = opt(3, "checkpoints kept (the newest and older backups)", lo=2, hi=100)
    preview_every: int = opt(
        200, "write a preview grid every N steps (0 = only at the end)", lo=0, hi=1_000_000
    )
    precision: str = opt(
        "auto",
        "auto: bf16 where measured faster (CUDA, CPUs with AVX-512 BF16)",
        choices=("auto", "fp32", "bf16"),
    )
    device: str = opt("auto", "auto picks CUDA when present", choices=("auto", "cpu", "cuda"))
    loader_workers: int = opt(1, "processes preparing batches (0 = in the training process)", lo=0, hi=32)
    seed: int = opt(
        0, "seed of weights and batch order (a resume continues the same sequence)", lo=0, hi=2**31 - 1
    )


@dataclass(frozen=True)
class MergeConfig:
    """How `faceweave merge` puts the swapped face back into every dst frame."""

    mask: str = opt(
        "learned*dst*occlusion",
        "where the swapped face replaces dst's: a mask source, or several multiplied (DeepFaceLab's "
        "learned*XSeg-dst); occlusion keeps what covers dst's face in front of the swap",
        choices=Choices(MASKS, combine=True),
    )
    erode: float = opt(0.0, "shrink (+) or grow (-) the mask, in % of the face size", lo=-20.0, hi=20.0)
    blur: float = opt(6.0, "feather the mask edge, in % of the face size", lo=0.0, hi=30.0)
    keep_mouth: bool = opt(False, "keep dst's mouth interior (teeth, tongue) instead of the model's")
    color: str = opt(
        "rct", "colour transfer of the swapped face toward dst inside the mask", choices=Choices(COLORS)
    )
    shading: float = opt(
        1.0,
        "lay dst's light and skin tone, blurred over a few % of the face, onto the swap after the "
        "colour transfer, so light falls as in dst and the edges meet dst's skin; 0 = off",
        lo=0.0,
        hi=1.0,
    )
    color_smoothing: float = opt(
        0.7, "temporal smoothing of rct/lct/mkl colour statistics per track: 0 off, 1 frozen", lo=0.0, hi=0.95
    )
    blend: str = opt("overlay", "how the swapped face meets the frame", choices=Choices(BLENDS))
    face_scale: float = opt(0.0, "grow (+) or shrink (-) the swapped face, in %", lo=-20.0, hi=20.0)
    temporal: float = opt(
        0.5,
        "steadiness: blend each swapped face with the previous frame's where dst did not change "
        "between the two (motion followed, expressions pass at once); 0 = off",
        lo=0.0,
        hi=0.95,
    )
    sharpen: float = opt(0.0, "unsharp-mask amount on the swapped face (0 = off)", lo=0.0, hi=3.0)
    degrade_blur: float = opt(
        0.0, "blur the swapped face to match a soft dst, in % of the face size", lo=0.0, hi=5.0
    )
    degrade_noise: float = opt(0.0, "add grain to the swapped face (std of 0-255 levels)", lo=0.0, hi=20.0)
    tracks: str = opt("all", "which face tracks to swap: all, or ids like 0,2 (see faceset info)")
    workers: int = opt(2, "threads merging frames in parallel", lo=1, hi=64)
    batch_size: int = opt(32, "faces per model call when predicting", lo=1, hi=1024)
    dump: bool = opt(False, "also write merged frames and masks as PNG to data_dst/merged*/")
    device: str = opt("auto", "auto picks CUDA when present", choices=("auto", "cpu", "cuda"))


@dataclass(frozen=True)
class EvalConfig:
    """How `faceweave eval` measures a swap."""

    identity_every: int = opt(
        0, "identity descriptor on every k-th frame; 0 picks k for about 30 samples", lo=0, hi=100000
    )
    floor_crf: int = opt(18, "crf of the dst re-encode scored as the codec floor", lo=0, hi=51)


@dataclass(frozen=True)
class FacesetConfig:
    """How `faceweave faceset clean` and `coverage` judge faces (`sort` takes only its flags)."""

    min_size: float = opt(40.0, "clean: a face whose box in its frame is smaller (px, side) is rejected",
                          lo=0, hi=65536)  # fmt: skip
    min_score: float = opt(0.5, "clean: a face the detector scored lower is rejected", lo=0, hi=1)
    blur: float = opt(
        0.25, "clean: a face less sharp than this share of the faceset's median sharpness "
        "(variance of the Laplacian) is rejected; 0 keeps all", lo=0, hi=1,
    )  # fmt: skip
    identity: float = opt(
        0.6, "clean: a face further than this dlib distance from the reference, or from the faceset's "
        "own main identity, is rejected (0.6: dlib's same-person threshold); 0 keeps all", lo=0, hi=2,
    )  # fmt: skip
    duplicate_bits: int = opt(
        2, "clean and combine: faces whose 64-bit perceptual hashes differ in at most this many bits "
        "are duplicates, and only the sharpest stays; -1 keeps all", lo=-1, hi=15,
    )  # fmt: skip
    pose_deg: float = opt(
        10.0, "coverage: a dst face's pose is covered when src has a face within this many degrees "
        "of yaw and of pitch", lo=1, hi=90,
    )  # fmt: skip
    workers: int = opt(2, "processes that measure faces (decode, sharpness, identity) for the cache",
                       lo=1, hi=64)  # fmt: skip


@dataclass(frozen=True)
class Config:
    video: VideoConfig = field(default_factory=VideoConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    frames: FramesConfig = field(default_factory=FramesConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    faceset: FacesetConfig = field(default_factory=FacesetConfig)


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]

# One entry per schema bump: MIGRATIONS[n] turns a version-n mapping into version n+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def declaration(key: str) -> tuple[type, Mapping[str, Any]]:
    """The type and declared metadata (help, lo, hi, choices, default) of option `section.name`."""
    section, _, name = key.partition(".")
    if section not in SECTIONS or name not in _section_fields(section):
        raise KeyError(key)
    return get_type_hints(SECTIONS[section])[name], _section_fields(section)[name].metadata


def _allowed(meta: Mapping[str, Any], kind: type) -> str:
    if isinstance(meta["choices"], Choices) and meta["choices"].combine:
        return "one of " + ", ".join(choice_names(meta["choices"])) + ", or a product of them joined by *"
    if meta["choices"]:
        return "one of " + ", ".join(choice_names(meta["choices"]))
    name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[kind]
    if kind is bool:
        return name
    if meta["lo"] is not None and meta["hi"] is not None:
        return f"{name} from {meta['lo']:g} to {meta['hi']:g}"
    if meta["lo"] is not None:
        return f"{name} of at least {meta['lo']:g}"
    return name


def _is_choice(value: Any, meta: Mapping[str, Any]) -> bool:
    choices = meta["choices"]
    if isinstance(choices, Choices) and value == meta["default"]:
        return True  # a built-in: known without importing every plugin of its kind
    if isinstance(choices, Choices):
        return choices.allows(value)
    return value in choice_names(choices)


def _check_value(key: str, value: Any, kind: type, meta: Mapping[str, Any], origin: str) -> Any:
    ok_type = (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool)
    )
    if not ok_type:
        raise ConfigError(f"{origin}: {key} = {value!r} has the wrong type; allowed: {_allowed(meta, kind)}")
    if meta["choices"] and not _is_choice(value, meta):
        raise ConfigError(f"{origin}: {key} = {value!r} is not allowed; allowed: {_allowed(meta, kind)}")
    if kind is float and not math.isfinite(value):
        # NaN compares false with every bound, so a range check alone would let it through.
        raise ConfigError(
            f"{origin}: {key} = {value!r} is not a finite number; allowed: {_allowed(meta, kind)}"
        )
    lo, hi = meta["lo"], meta["hi"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{origin}: {key} = {value!r} is out of range; allowed: {_allowed(meta, kind)}")
    return float(value) if kind is float else value


def _section_fields(name: str) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(SECTIONS[name])}


def check_keys(raw: Mapping[str, Any], origin: str) -> None:
    """Every section and key in `raw` must be declared."""
    for section, values in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section [{section}]; allowed: {', '.join(SECTIONS)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: {section} must be a table like [{section}]")
        known = _section_fields(section)
        for key in values:
            if key not in known:
                raise ConfigError(
                    f"{origin}: unknown key {section}.{key}; allowed in [{section}]: {', '.join(known)}"
                )


def merge(base: Raw, layer: Mapping[str, Any], origin: str) -> Raw:
    """`layer` on top of `base`, after checking that `layer` names only declared keys."""
    check_keys(layer, origin)
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in layer.items():
        merged.setdefault(section, {}).update(values)
    return merged


def validate(raw: Raw, origin: str = "config", origins: Mapping[str, str] | None = None) -> Config:
    """Build a Config from a mapping, checking type and range of every value; an error names where
    the value came from (`origins`: "section.key" -> file, preset or command line), else `origin`."""
    origins = origins or {}
    check_keys(raw, origin)
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        values = raw.get(name, {})
        checked = {
            key: _check_value(
                f"{name}.{key}", values[key], hints[key], f.metadata, origins.get(f"{name}.{key}", origin)
            )
            for key, f in _section_fields(name).items()
            if key in values
        }
        sections[name] = cls(**checked)
    return Config(**sections)


def to_raw(config: Config) -> Raw:
    return {name: dataclasses.asdict(getattr(config, name)) for name in SECTIONS}


def migrate(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """Bring a parsed faceweave.toml up to SCHEMA_VERSION, one migration per bump."""
    version = document.pop("schema_version", None)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(f"{origin}: schema_version is missing or not an integer; expected {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{origin}: schema_version {version} is newer than this faceweave understands "
            f"({SCHEMA_VERSION}); upgrade faceweave"
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise ConfigError(f"{origin}: schema_version {version} cannot be migrated")
        document = MIGRATIONS[version](document)
        version += 1
    return document


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})") from exc


def preset_names() -> list[str]:
    folder = resources.files("faceweave.presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    if name not in preset_names():
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(preset_names())}")
    text = resources.files("faceweave.presets").joinpath(f"{name}.toml").read_text("utf-8")
    document = tomllib.loads(text)
    document.pop("description", None)
    return document


def parse_override(item: str) -> tuple[str, str, Any]:
    """`section.key=value` from the command line; the value is read as TOML, else as a string."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise ConfigError(f"--set {item!r} must look like section.key=value, e.g. video.crf=20")
    dotted, text = item.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return section, key, value


def load_config(
    path: Path | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Defaults, then the workspace file, then a preset, then command-line overrides; validated."""
    raw = to_raw(Config())
    origins: dict[str, str] = {}
    layers: list[tuple[Mapping[str, Any], str]] = []
    if path is not None:
        layers.append((migrate(read_toml(path), str(path)), str(path)))
    if preset is not None:
        layers.append((load_preset(preset), f"preset {preset}"))
    if overrides:
        layers.append((overrides, "command line"))
    for layer, origin in layers:
        raw = merge(raw, layer, origin)
        origins.update({f"{section}.{key}": origin for section, values in layer.items() for key in values})
    return validate(raw, str(path) if path else "config", origins)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def render_toml(config: Config, preset: str | None = None) -> str:
    """faceweave.toml text listing every option with its value and a one-line comment."""
    lines = [
        "# faceweave workspace configuration: every option of every stage, with its default.",
        "# Command-line options override these values for one run; `--preset` applies a preset on top.",
        f"schema_version = {SCHEMA_VERSION}",
    ]
    if preset:
        lines.append(f"# written with preset {preset!r}")
    for name, cls in SECTIONS.items():
        lines += ["", f"# {(cls.__doc__ or '').strip()}", f"[{name}]"]
        hints = get_type_hints(cls)
        section = getattr(config, name)
        for f in dataclasses.fields(cls):
            allowed = _allowed(f.metadata, hints[f.name])
            lines.append(f"# {f.metadata['help']} ({allowed}; default {_toml_value(f.default)})")
            if isinstance(f.metadata["choices"], Choices):
                lines += [f"#   {name}: {text}" for name, text in f.metadata["choices"].help().items()]
            lines.append(f"{f.name} = {_toml_value(getattr(section, f.name))}")
    return "\n".join(lines) + "\n"


def options_markdown() -> str:
    """Every option as a README table, one per section, from the same declarations."""
    out: list[str] = []
    for name, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        out += [f"**`[{name}]`** {(cls.__doc__ or '').strip()}", "", "| option | default | allowed | what |",
                "| --- | --- | --- | --- |"]  # fmt: skip
        for f in dataclasses.fields(cls):
            allowed = _allowed(f.metadata, hints[f.name]).replace("|", "\\|")
            what = f.metadata["help"].replace("|", "\\|")
            out.append(f"| `{f.name}` | `{_toml_value(f.default)}` | {allowed} | {what} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
