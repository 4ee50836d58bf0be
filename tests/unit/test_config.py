"""Config: defaults, the rendered faceweave.toml, layering and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from faceweave.config import (
    SCHEMA_VERSION,
    Config,
    load_config,
    parse_override,
    preset_names,
    render_toml,
)
from faceweave.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faceweave.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rendered_file_lists_every_option_with_a_comment_and_loads_back(tmp_path: Path) -> None:
    text = render_toml(Config())
    document = tomllib.loads(text)
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["video"] == {"crf": 18, "preset": "medium", "audio": "auto"}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#") and not line.startswith("schema_version"):
            above = i - 1
            while lines[above].startswith("#   "):  # a plugin option lists each choice with its help
                above -= 1
            assert lines[above].startswith("# ") and "default" in lines[above], line
    assert load_config(write(tmp_path, text)) == Config()


def test_layers_apply_in_order_file_preset_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, 'schema_version = 1\n[video]\ncrf = 30\npreset = "slow"\n')
    assert load_config(path).video.crf == 30
    quick = load_config(path, preset="quick")
    assert (quick.video.crf, quick.video.preset) == (20, "veryfast")
    final = load_config(path, preset="quick", overrides={"video": {"crf": 25}})
    assert (final.video.crf, final.video.preset) == (25, "veryfast")


def test_presets_are_data_files() -> None:
    assert {"quick", "balanced", "hd"} <= set(preset_names())
    with pytest.raises(ConfigError, match=r"unknown preset 'fast'.*allowed: balanced, hd, quick"):
        load_config(preset="fast")
    balanced = load_config(preset="balanced").train
    assert (balanced.resolution, balanced.pixel_norm, balanced.double_res) == (128, True, True)


def test_without_a_preset_a_new_workspace_gets_the_machines(tmp_path: Path) -> None:
    from faceweave.presets import device_preset
    from faceweave.workspace import init_workspace

    expected = "hd" if torch.cuda.is_available() else "quick"
    assert device_preset() == expected
    ws = init_workspace(tmp_path / "ws").workspace
    text = ws.config.read_text(encoding="utf-8")
    assert f"written with preset {expected!r}" in text
    assert load_config(ws.config).train == load_config(preset=expected).train


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[video]\ncrff = 1", r"unknown key video\.crff.*allowed in \[video\]: crf, preset, audio"),
        ("[vidoe]\ncrf = 1", r"unknown section \[vidoe\]"),
        (
            '[video]\ncrf = "high"',
            r"video\.crf = 'high' has the wrong type; allowed: an integer from 0 to 51",
        ),
        ("[video]\ncrf = 60", r"video\.crf = 60 is out of range; allowed: an integer from 0 to 51"),
        ("[video]\ncrf = true", r"video\.crf = True has the wrong type"),
        ('[video]\npreset = "turbo"', r"video\.preset = 'turbo' is not allowed; allowed: one of ultrafast"),
        (
            "[decode]\nimage_fps = 0",
            r"decode\.image_fps = 0 is out of range; allowed: a number from 1 to 240",
        ),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"schema_version = 1\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_integer_is_accepted_where_a_number_is_expected() -> None:
    assert load_config(overrides={"decode": {"image_fps": 30}}).decode.image_fps == 30.0


def test_schema_version_is_required_and_not_from_the_future(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schema_version is missing"):
        load_config(write(tmp_path, "[video]\ncrf = 20\n"))
    with pytest.raises(ConfigError, match="schema_version 99 is newer"):
        load_config(write(tmp_path, "schema_version = 99\n"))


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write(tmp_path, "[video\ncrf = "))


def test_override_parsing() -> None:
    assert parse_override("video.crf=20") == ("video", "crf", 20)
    assert parse_override("video.preset=slow") == ("video", "preset", "slow")
    assert parse_override("decode.image_fps=29.97") == ("decode", "image_fps", 29.97)
    with pytest.raises(ConfigError, match=r"must look like section\.key=value"):
        parse_override("crf=20")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "key",
    ["train.learning_rate", "train.time_limit_min", "extract.smoothing", "merge.blur", "merge.temporal"],
)
def test_every_number_must_be_finite(key: str, value: float) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError, match=rf"{key} = .* is not a finite number"):
        load_config(overrides={section: {name: value}})


def test_a_range_error_names_where_the_value_came_from(tmp_path: Path) -> None:
    path = tmp_path / "faceweave.toml"
    path.write_text(render_toml(Config()).replace("crf = ", "crf = 99 #", 1))
    with pytest.raises(ConfigError, match=rf"^{path}: video.crf = 99 is out of range"):
        load_config(path)
    path.write_text(render_toml(Config()))
    with pytest.raises(ConfigError, match=r"^command line: video.crf = 99 is out of range"):
        load_config(path, overrides={"video": {"crf": 99}})
    with pytest.raises(ConfigError, match=r"^command line: merge.blur = nan is not a finite number"):
        load_config(path, "quick", overrides={"merge": {"blur": float("nan")}})


def test_the_readme_option_tables_match_the_declarations() -> None:
    from faceweave.docs import with_options

    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert with_options(text) == text, "run `python -m faceweave.docs README.md`"


def test_a_config_file_written_before_the_detector_option_still_loads(tmp_path: Path) -> None:
    text = render_toml(Config())
    older = "\n".join(line for line in text.splitlines() if not line.startswith("detector ="))
    assert load_config(write(tmp_path, older)).extract.detector == "mediapipe"


def test_plugin_options_list_each_choice_and_refuse_unknown_names(tmp_path: Path) -> None:
    text = render_toml(Config())
    assert "#   seamless: Poisson blending" in text and "#   liae: a shared decoder" in text
    with pytest.raises(
        ConfigError, match=r"merge.mask = 'hull' is not allowed; allowed: one of dst, learned"
    ):
        load_config(overrides={"merge": {"mask": "hull"}})
    with pytest.raises(
        ConfigError, match=r"train.color_transfer = 'idt' is not allowed; allowed: one of none, rct"
    ):
        load_config(overrides={"train": {"color_transfer": "idt"}})  # idt is for merging only
