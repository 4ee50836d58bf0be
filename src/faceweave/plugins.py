"""Plugin points: named extensions of one kind (models, detectors, mask sources, colour transfers,
blend modes), each one module that registers itself.

A registry finds its built-ins by importing every module of its package, and third-party plugins
through the `faceweave.plugins` entry-point group (an installed package names a module to import)
or the `FACEWEAVE_PLUGINS` environment variable (comma-separated module names). Nothing is imported
until a registry is first asked for its names, so a command that never merges never loads a model.
Config options whose value names a plugin declare `choices=Choices(REGISTRY)`, and the CLI, the
workspace's faceweave.toml and validation all read the names from there.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from faceweave.errors import UserError

T = TypeVar("T")
ENTRY_POINT_GROUP = "faceweave.plugins"
ENV_VAR = "FACEWEAVE_PLUGINS"


class PluginError(UserError):
    """A plugin cannot be found, loaded or registered."""


@dataclass(frozen=True)
class Plugin(Generic[T]):
    name: str
    help: str
    value: T
    module: str
    rank: int = 100  # listing order: built-ins give theirs, plugins come after in load order


_external_loaded = False


def load_external() -> None:
    """Import third-party plugin modules once: entry points first, then FACEWEAVE_PLUGINS."""
    global _external_loaded
    if _external_loaded:
        return
    _external_loaded = True
    names = [point.value for point in entry_points(group=ENTRY_POINT_GROUP)]
    names += [name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise PluginError(f"the faceweave plugin module {name!r} cannot be loaded: {exc}") from exc


class Registry(Generic[T]):
    """Named plugins of one kind: `@REGISTRY.register("name", "help")` on a factory or function."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind, self.package = kind, package
        self._plugins: dict[str, Plugin[T]] = {}
        self._discovered = False

    def register(self, name: str, help: str, rank: int = 100) -> Callable[[T], T]:
        def add(value: T) -> T:
            self.add(name, help, value, getattr(value, "__module__", "?"), rank)
            return value

        return add

    def add(self, name: str, help: str, value: T, module: str = "?", rank: int = 100) -> None:
        if not name or any(c.isspace() or c in ",=\"'" for c in name):
            raise PluginError(f"{self.kind} name {name!r} must be one word without , = or quotes")
        known = self._plugins.get(name)
        if known is not None and known.module != module:
            raise PluginError(f"two {self.kind}s are named {name!r}: in {known.module} and in {module}")
        self._plugins[name] = Plugin(name, " ".join(help.split()), value, module, rank)
        self._plugins = dict(sorted(self._plugins.items(), key=lambda item: item[1].rank))

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__, f"{self.package}."):
            if not module.name.rsplit(".", 1)[1].startswith("_"):
                importlib.import_module(module.name)
        load_external()

    def names(self, where: Callable[[Plugin[T]], bool] | None = None) -> tuple[str, ...]:
        """Registered names: built-ins in the order they registered, then plugins."""
        self._discover()
        return tuple(p.name for p in self._plugins.values() if where is None or where(p))

    def plugins(self) -> Iterator[Plugin[T]]:
        self._discover()
        yield from list(self._plugins.values())

    def entry(self, name: str) -> Plugin[T]:
        self._discover()
        plugin = self._plugins.get(name)
        if plugin is None:
            raise PluginError(f"unknown {self.kind} {name!r}; known: {', '.join(self._plugins)}")
        return plugin

    def get(self, name: str) -> T:
        return self.entry(name).value


class Choices:
    """The allowed values of an option, read from a registry when first needed (lazily, so that
    declaring the option imports nothing)."""

    def __init__(
        self, registry: Registry[T], where: Callable[[Plugin[T]], bool] | None = None, combine: bool = False
    ) -> None:
        self.registry: Registry[object] = registry  # type: ignore[assignment]
        self.where: Callable[[Plugin[object]], bool] | None = where  # type: ignore[assignment]
        self.combine = combine  # a value may be a product of names, "a*b*c"

    def allows(self, value: str) -> bool:
        names = self.names()
        parts = value.split("*") if self.combine else [value]
        return all(part in names for part in parts)

    def names(self) -> tuple[str, ...]:
        return self.registry.names(self.where)

    def help(self) -> dict[str, str]:
        """Each allowed name with its one-line help."""
        allowed = set(self.names())
        return {p.name: p.help for p in self.registry.plugins() if p.name in allowed}


def choice_names(choices: tuple[str, ...] | Choices | None) -> tuple[str, ...]:
    if choices is None:
        return ()
    return choices.names() if isinstance(choices, Choices) else choices
