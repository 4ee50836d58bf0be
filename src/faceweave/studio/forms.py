"""The options form: every faceweave.toml option, generated from its one declaration in config.py,
validated with the same messages as the command line, saved into the workspace's faceweave.toml
with its comments kept (tomlkit edits values in place)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import tomlkit

from faceweave.atomic import write_text_atomic
from faceweave.config import SECTIONS, Config, load_config, parse_override, render_toml
from faceweave.errors import ConfigError
from faceweave.plugins import choice_names


def current_config(config_file: Path) -> Config:
    return load_config(config_file if config_file.is_file() else None)


def form_fields(config: Config) -> list[dict[str, Any]]:
    """One entry per option: key, help, kind (bool, int, float, str), choices, range and value."""
    fields = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        values = getattr(config, section)
        for f in dataclasses.fields(cls):
            meta = f.metadata
            combine = getattr(meta.get("choices"), "combine", False)
            fields.append({
                "key": f"{section}.{f.name}", "section": section, "help": meta.get("help", ""),
                "kind": getattr(hints[f.name], "__name__", "str"),
                "choices": [] if combine else list(choice_names(meta.get("choices"))),
                "combine": list(choice_names(meta.get("choices"))) if combine else [],
                "lo": meta.get("lo"), "hi": meta.get("hi"), "value": getattr(values, f.name),
            })  # fmt: skip
    return fields


def _parsed(key: str, text: Any, kind: str) -> Any:
    if not isinstance(text, str):
        return text
    if kind == "str":
        return text  # a string option takes the text as it is, quotes and all
    return parse_override(f"{key}={text}")[2]


def save_options(config_file: Path, values: dict[str, Any]) -> Config:
    """Check `values` (option key -> text or value) against the declarations, all at once, then
    write the changed ones into `config_file`; a ConfigError names the first bad option."""
    kinds = {f["key"]: f["kind"] for f in form_fields(Config())}
    overrides: dict[str, dict[str, Any]] = {}
    for key, text in values.items():
        if key not in kinds:
            raise ConfigError(f"unknown option {key!r} in the studio form")
        section, name = key.split(".", 1)
        overrides.setdefault(section, {})[name] = _parsed(key, text, kinds[key])
    base = config_file if config_file.is_file() else None
    try:
        config = load_config(base, None, overrides)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("command line", "studio form")) from None
    document = tomlkit.parse(config_file.read_text(encoding="utf-8") if base else render_toml(Config()))
    for section, changed in overrides.items():
        table = document.setdefault(section, tomlkit.table())
        for name in changed:
            table[name] = getattr(getattr(config, section), name)
    write_text_atomic(config_file, tomlkit.dumps(document))
    return config
