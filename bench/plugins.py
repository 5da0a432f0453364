"""Plugins: modules outside cxrbench that register datasets, metrics or model kinds (docs/extending.md).

A plugin is a Python module that registers what it adds when imported: `@register` on a `DatasetAdapter`
subclass, `register_metric(...)`, or an entry in `bench.models.MODEL_KINDS`. cxrbench imports it from two places:

- the `CXRBENCH_PLUGINS` environment variable: comma-separated module names, importable from `PYTHONPATH`;
- installed distributions' entry points in the group `cxrbench.plugins` (each value names a module).

`load_plugins()` is called lazily, only where a name could come from a plugin (an unknown dataset or model kind,
the dataset listing, scoring), never at start-up: `cxrbench --help` imports nothing of them. Each module is
imported once per process; one that fails to import is a BadInputError (exit 2) naming the module and where it
was named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import import_module, metadata

from bench.errors import BadInputError

ENV_VAR = "CXRBENCH_PLUGINS"
ENTRY_POINT_GROUP = "cxrbench.plugins"


@dataclass(frozen=True)
class PluginSource:
    """One plugin module and where it was named (for messages and `loaded_plugins`)."""

    module: str
    source: str  # "CXRBENCH_PLUGINS" or "entry point NAME of DIST"
    entry_point: metadata.EntryPoint | None = None


_loaded: dict[str, PluginSource] = {}  # module name -> where it was first named
_entry_points_read = False
_env_read: str | None = None  # the CXRBENCH_PLUGINS value already imported


def env_plugins(value: str | None = None) -> list[PluginSource]:
    """The modules named by CXRBENCH_PLUGINS (or `value`), in order, blanks and repeats dropped."""
    text = os.environ.get(ENV_VAR, "") if value is None else value
    names = dict.fromkeys(name.strip() for name in text.split(",") if name.strip())
    return [PluginSource(name, ENV_VAR) for name in names]


def entry_point_plugins() -> list[PluginSource]:
    """The installed distributions' entry points in group `cxrbench.plugins`, sorted by name."""
    found = []
    for point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (p.name, p.value)):
        dist = getattr(point, "dist", None)
        owner = f" of distribution {dist.name}" if dist is not None else ""
        found.append(
            PluginSource(point.module, f"entry point {point.name!r}{owner} ({ENTRY_POINT_GROUP})", point)
        )
    return found


def _import(plugin: PluginSource) -> None:
    if plugin.module in _loaded:
        return
    try:
        if plugin.entry_point is not None:
            plugin.entry_point.load()
        else:
            import_module(plugin.module)
    except Exception as exc:  # noqa: BLE001 - any failure of someone else's module is one sentence
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise BadInputError(
            f"plugin module {plugin.module!r} (named by {plugin.source}) failed to import: "
            f"{type(exc).__name__}: {detail}"
        ) from exc
    _loaded[plugin.module] = plugin


def load_plugins() -> dict[str, PluginSource]:
    """Import every plugin module not imported yet (entry points once, CXRBENCH_PLUGINS whenever it changed);
    returns module name -> where it was named. BadInputError when one fails to import."""
    global _entry_points_read, _env_read
    if not _entry_points_read:
        for plugin in entry_point_plugins():
            _import(plugin)
        _entry_points_read = True
    value = os.environ.get(ENV_VAR, "")
    if value != _env_read:
        for plugin in env_plugins(value):
            _import(plugin)
        _env_read = value
    return dict(_loaded)
