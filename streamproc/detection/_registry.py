"""Discovery of detector plugins through the ``streamproc`` entry-point group."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pluggy

from streamproc.errors import StreamprocError

from ._hookspec import ENTRY_POINT_GROUP, PROJECT_NAME, DetectorHooks
from ._spec import DetectorSpec


class PluginError(StreamprocError):
    """A plugin failed to import, or declared something that is not a valid detector spec."""


@dataclass(frozen=True)
class PluginInfo:
    """Where a detector comes from, for ``streamproc plugins list``."""

    spec: DetectorSpec
    plugin: str
    package: str
    version: str


class DetectorRegistry:
    """The detectors available in this environment.

    ``enabled`` restricts which plugins are loaded (by entry-point name); ``None`` loads all.
    Extra plugin modules or objects can be registered directly, which is how tests add a
    detector without installing a package.
    """

    def __init__(
        self,
        enabled: Sequence[str] | None = None,
        *,
        entry_points: bool = True,
        extra: Iterable[tuple[str, object]] = (),
    ) -> None:
        self._manager = pluggy.PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(DetectorHooks)
        self._origin: dict[str, tuple[str, str]] = {}
        self._infos: dict[str, PluginInfo] | None = None
        if entry_points:
            self._load_entry_points(None if enabled is None else set(enabled))
        for name, plugin in extra:
            self.register(name, plugin)

    def _load_entry_points(self, enabled: set[str] | None) -> None:
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if enabled is not None:
            missing = enabled - {ep.name for ep in found}
            if missing:
                raise PluginError(f"enabled plugin(s) not installed: {', '.join(sorted(missing))}")
        for ep in found:
            if enabled is not None and ep.name not in enabled:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # any import failure is reported against the plugin's name
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
            dist = ep.dist
            self.register(ep.name, plugin, package=dist.name if dist else "?", version=dist.version if dist else "?")

    def register(self, name: str, plugin: object, *, package: str = "-", version: str = "-") -> None:
        try:
            self._manager.register(plugin, name=name)
        except Exception as exc:
            raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc
        self._origin[name] = (package, version)
        self._infos = None

    def _collect(self) -> dict[str, PluginInfo]:
        if self._infos is not None:
            return self._infos
        infos: dict[str, PluginInfo] = {}
        for plugin_name, plugin in self._manager.list_name_plugin():
            impl = getattr(plugin, "streamproc_detectors", None)
            if impl is None:
                continue
            try:
                specs = list(impl() or ())
            except Exception as exc:
                raise PluginError(f"plugin {plugin_name!r}: streamproc_detectors() raised {exc!r}") from exc
            for spec in specs:
                if not isinstance(spec, DetectorSpec):
                    raise PluginError(f"plugin {plugin_name!r} returned {type(spec).__name__}, not DetectorSpec")
                if spec.name in infos:
                    other = infos[spec.name].plugin
                    raise PluginError(f"detector {spec.name!r} is declared by both {other!r} and {plugin_name!r}")
                package, version = self._origin.get(plugin_name, ("-", "-"))
                infos[spec.name] = PluginInfo(spec, plugin_name, package, version)
        self._infos = infos
        return infos

    def names(self) -> list[str]:
        return sorted(self._collect())

    def infos(self) -> list[PluginInfo]:
        return [self._collect()[n] for n in self.names()]

    def spec(self, name: str) -> DetectorSpec:
        infos = self._collect()
        if name not in infos:
            known = ", ".join(sorted(infos)) or "none"
            raise KeyError(f"unknown detector {name!r} (available: {known})")
        return infos[name].spec
