"""Trained models on disk, versioned: ``MODELS/<detector>/<channel>/versions/<n>/``.

Every saved model is an immutable version, numbered per detector and channel; ``pointers.json``
beside the versions says which one is ``live`` (what workers, replay and the demo load), which one
is the ``shadow`` (scored beside the live one, never fused), and which were live before (what
``rollback`` returns to). Pointers change atomically (a new file renamed over the old one, under a
lock), so a reader sees the old pointers or the new ones, never half of a change; that works on a
local folder and on a shared volume alike. A folder written before versions existed (the model's
files directly in ``<channel>/``) reads as version 1, live.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

from streamproc.detection import METADATA_FILE, ArtifactError, DetectorRegistry, read_metadata
from streamproc.errors import StreamprocError
from streamproc.thresholds import ThresholdConfig

from ._model import TrainedModel


class Reused(NamedTuple):
    """A stored model :meth:`ModelStore.reuse` found usable, and whether this call recalibrated it."""

    model: TrainedModel
    recalibrated: bool


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


VERSIONS_FOLDER = "versions"
POINTERS_FILE = "pointers.json"
VERSION_FILE = "version.json"
_LOCK_FILE = ".lock"
# Versions kept besides the live and shadow ones; older ones are retired (deleted) on save.
KEEP_VERSIONS = 5

Role = Literal["live", "shadow", "none"]


@dataclass(frozen=True)
class Pointers:
    """Which version of a channel's model is live, which is the shadow, and what was live before
    (oldest first); ``retired`` versions are deleted and never come back."""

    live: int | None = None
    shadow: int | None = None
    history: tuple[int, ...] = ()
    retired: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pointers:
        return cls(
            live=data.get("live"),
            shadow=data.get("shadow"),
            history=tuple(data.get("history", ())),
            retired=tuple(data.get("retired", ())),
        )


@dataclass(frozen=True)
class VersionInfo:
    """One stored version: its number, where it lies, its state and who wrote it when."""

    version: int
    path: Path
    state: str  # live, shadow or "" (kept, neither)
    created_at: str | None
    created_by: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _json_normal(value: Any) -> Any:
    # Configs compare as JSON sees them: a tuple read back from metadata.json is a list.
    return json.loads(json.dumps(value, sort_keys=True))


class ModelStore:
    """A directory of trained models: versions per detector and channel, one of them live."""

    def __init__(
        self, root: Path | str, registry: DetectorRegistry | None = None, *, keep_versions: int = KEEP_VERSIONS
    ) -> None:
        self.root = Path(root)
        self._registry = registry
        self.keep_versions = keep_versions

    @property
    def registry(self) -> DetectorRegistry:
        if self._registry is None:
            self._registry = DetectorRegistry()
        return self._registry

    def path(self, detector: str, channel: str) -> Path:
        """The folder of every version of ``detector``'s model of ``channel``."""
        for kind, name in (("detector", detector), ("channel", channel)):
            if not _NAME.match(name):
                raise ArtifactError(f"invalid {kind} name {name!r} for a model path")
        return self.root / detector / channel

    def version_path(self, detector: str, channel: str, version: int) -> Path:
        base = self.path(detector, channel)
        numbered = base / VERSIONS_FOLDER / str(version)
        if version == 1 and not numbered.exists() and (base / METADATA_FILE).is_file():
            return base  # written before versions existed
        return numbered

    def live_path(self, detector: str, channel: str) -> Path:
        """The folder of the live version (an ArtifactError when there is none)."""
        number = self.live_version(detector, channel)
        if number is None:
            raise ArtifactError(f"no {detector!r} model for channel {channel!r} under {self.root}")
        return self.version_path(detector, channel, number)

    def detectors(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def stored_channels(self, detector: str) -> list[str]:
        """Channel folders of ``detector`` (with a live model or not), sorted."""
        base = self.root / detector
        if not _NAME.match(detector) or not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and _NAME.match(p.name))

    def channels(self, detector: str) -> list[str]:
        """Channels with a live model for ``detector``, sorted."""
        return [c for c in self.stored_channels(detector) if self.live_version(detector, c)]

    # -- reading ------------------------------------------------------------------------------

    def pointers(self, detector: str, channel: str) -> Pointers:
        base = self.path(detector, channel)
        try:
            data = json.loads((base / POINTERS_FILE).read_text())
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            return Pointers.from_json(data)
        except FileNotFoundError:
            return Pointers(live=1) if (base / METADATA_FILE).is_file() else Pointers()
        except (OSError, ValueError, TypeError) as exc:
            raise ArtifactError(f"{base / POINTERS_FILE}: unreadable ({exc})") from exc

    def live_version(self, detector: str, channel: str) -> int | None:
        """The live version's number (None: no model), without loading it."""
        try:
            return self.pointers(detector, channel).live
        except ArtifactError:
            return None

    def versions(self, detector: str, channel: str) -> list[VersionInfo]:
        """Every stored version, oldest first."""
        base, pointers = self.path(detector, channel), self.pointers(detector, channel)
        found = set(self._numbers(base))
        if (base / METADATA_FILE).is_file():
            found.add(1)
        infos = []
        for number in sorted(found - set(pointers.retired)):
            path = self.version_path(detector, channel, number)
            try:
                metadata = read_metadata(path)
            except (ArtifactError, OSError, ValueError):
                metadata = {}
            stamp = _read_json(path / VERSION_FILE)
            state = "live" if number == pointers.live else "shadow" if number == pointers.shadow else ""
            infos.append(VersionInfo(number, path, state, stamp.get("created_at"), stamp.get("created_by"), metadata))
        return infos

    def load(self, detector: str, channel: str, version: int | None = None) -> TrainedModel:
        """The live model of ``channel`` (or the given ``version``)."""
        number = self.live_version(detector, channel) if version is None else version
        if number is None:
            raise ArtifactError(f"no {detector!r} model for channel {channel!r} under {self.root}")
        path = self.version_path(detector, channel, number)
        if not (path / METADATA_FILE).is_file():
            raise ArtifactError(
                f"no version {number} of the {detector!r} model for channel {channel!r} under {self.root}"
            )
        try:
            return TrainedModel.load(path, self.registry)
        except StreamprocError:
            raise
        except Exception as exc:  # a damaged file or a plugin's own restore failing: refuse, say why
            raise ArtifactError(f"{path}: the model cannot be loaded ({type(exc).__name__}: {exc})") from exc

    # -- writing ------------------------------------------------------------------------------

    def save(self, model: TrainedModel, *, role: Role = "live") -> Path:
        """Store ``model`` as a new version (complete before anyone can see it) and make it
        ``role``: live (the previous live one goes to the history), shadow, or neither. A shadow
        needs a live model to be scored beside: a channel's first model is live whatever ``role``
        asks for."""
        base = self.path(model.detector_name, model.channel)
        base.mkdir(parents=True, exist_ok=True)
        with self._locked(base):
            pointers = self.pointers(model.detector_name, model.channel)
            number = (
                max([0, *self._numbers(base), *pointers.retired, *([1] if (base / METADATA_FILE).is_file() else [])])
                + 1
            )
            target = base / VERSIONS_FOLDER / str(number)
            target.parent.mkdir(exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{number}.", dir=target.parent))
            try:
                model.save(staging)
                stamp = {"version": number, "created_at": _now(), "created_by": _who()}
                (staging / VERSION_FILE).write_text(json.dumps(stamp, indent=2) + "\n")
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if role == "live" or (role == "shadow" and pointers.live is None):
                pointers = _promoted(pointers, number)
            elif role == "shadow":
                pointers = replace(pointers, shadow=number)
            pointers, spare = self._pruned(base, pointers)
            self._write_pointers(base, pointers)  # first: no pointer may name a deleted version
            for number in spare:
                self._delete(base, number)
        return target

    def promote(self, detector: str, channel: str, version: int) -> Pointers:
        """Make ``version`` live (it must load: a broken candidate is refused with the reason)."""
        base = self.path(detector, channel)
        with self._locked(base):
            pointers = self._existing(detector, channel, version)
            self.load(detector, channel, version)
            pointers = _promoted(pointers, version)
            self._write_pointers(base, pointers)
        return pointers

    def rollback(self, detector: str, channel: str) -> Pointers:
        """Make the version that was live before the current one live again."""
        base = self.path(detector, channel)
        with self._locked(base):
            pointers = self.pointers(detector, channel)
            if not pointers.history:
                raise ArtifactError(f"{detector} {channel}: nothing to roll back to (no earlier live version)")
            previous = pointers.history[-1]
            self.load(detector, channel, previous)
            pointers = replace(
                pointers,
                live=previous,
                history=pointers.history[:-1],
                shadow=None if pointers.shadow == previous else pointers.shadow,
            )
            self._write_pointers(base, pointers)
        return pointers

    def set_shadow(self, detector: str, channel: str, version: int | None) -> Pointers:
        """Score ``version`` in the shadow of the live model (None: no shadow)."""
        base = self.path(detector, channel)
        with self._locked(base):
            pointers = (
                self.pointers(detector, channel) if version is None else self._existing(detector, channel, version)
            )
            if version is not None:
                if version == pointers.live:
                    raise ArtifactError(f"{detector} {channel}: version {version} is live; it cannot be its own shadow")
                self.load(detector, channel, version)
            pointers = replace(pointers, shadow=version)
            self._write_pointers(base, pointers)
        return pointers

    def retire(self, detector: str, channel: str, version: int) -> Pointers:
        """Delete ``version`` for good (never the live one); it leaves the history and the shadow."""
        base = self.path(detector, channel)
        with self._locked(base):
            pointers = self._existing(detector, channel, version)
            if version == pointers.live:
                raise ArtifactError(f"{detector} {channel}: version {version} is live; promote another one first")
            pointers = _retired(pointers, version)
            self._write_pointers(base, pointers)
            self._delete(base, version)
        return pointers

    # -- helpers ------------------------------------------------------------------------------

    def _existing(self, detector: str, channel: str, version: int) -> Pointers:
        pointers = self.pointers(detector, channel)
        if version in pointers.retired:
            raise ArtifactError(f"{detector} {channel}: version {version} is retired")
        if not (self.version_path(detector, channel, version) / METADATA_FILE).is_file():
            raise ArtifactError(f"{detector} {channel}: no version {version} under {self.root}")
        return pointers

    @staticmethod
    def _numbers(base: Path) -> list[int]:
        folder = base / VERSIONS_FOLDER
        if not folder.is_dir():
            return []
        return [int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / METADATA_FILE).is_file()]

    def _pruned(self, base: Path, pointers: Pointers) -> tuple[Pointers, list[int]]:
        """The pointers with the versions beyond ``keep_versions`` retired, and those versions:
        never the live one, the shadow or the one ``rollback`` returns to; versions that were
        never live go before earlier live ones, the oldest first."""
        protected = {pointers.live, pointers.shadow, pointers.history[-1] if pointers.history else None}
        spare = [n for n in self._numbers(base) if n not in protected]
        spare.sort(key=lambda n: (n in pointers.history, n))
        doomed = spare[: max(0, len(spare) - self.keep_versions)]
        for number in doomed:
            pointers = _retired(pointers, number)
        return pointers, doomed

    @staticmethod
    def _delete(base: Path, version: int) -> None:
        numbered = base / VERSIONS_FOLDER / str(version)
        if numbered.is_dir():
            shutil.rmtree(numbered)
        elif version == 1 and (base / METADATA_FILE).is_file():  # the pre-version layout
            for path in base.iterdir():
                if path.is_file() and path.name not in (POINTERS_FILE, _LOCK_FILE):
                    path.unlink()

    @staticmethod
    def _write_pointers(base: Path, pointers: Pointers) -> None:
        staging = base / f".{POINTERS_FILE}.{os.getpid()}"
        staging.write_text(json.dumps(asdict(pointers), indent=2) + "\n")
        os.replace(staging, base / POINTERS_FILE)

    @staticmethod
    @contextlib.contextmanager
    def _locked(base: Path) -> Iterator[None]:
        """One writer of a channel's pointers at a time, across processes; a folder that cannot be
        written (a read-only mount, say) is an ArtifactError that says so."""
        try:
            base.mkdir(parents=True, exist_ok=True)
            handle = (base / _LOCK_FILE).open("a")
        except OSError as exc:
            raise ArtifactError(f"{base}: cannot be written ({exc.strerror or exc})") from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def reuse(
        self,
        detector: str,
        channel: str,
        *,
        config: Mapping[str, Any],
        options: Mapping[str, Any],
        fingerprint: Mapping[str, Any],
        covariates: Sequence[int] = (),
        role: Role = "live",
    ) -> Reused | None:
        """The stored ``role`` model (live or shadow) if it can stand for one trained now with this
        config, these training options, this data and these covariates; ``None`` when it must be
        (re)trained.

        When only the threshold settings differ, the stored model is reused with its threshold
        recalibrated on its stored calibration scores (and saved so, as a new version in the same
        role): the scores a threshold is fitted to do not depend on those settings, so retraining
        would only reproduce them. A setting a detector added after the model was stored counts as
        stored at the value that reproduces the old behaviour (its ``added_settings``).
        """
        try:
            pointers = self.pointers(detector, channel)
        except ArtifactError:
            return None
        number = pointers.shadow if role == "shadow" else pointers.live
        if number is None:
            return None
        try:
            meta = read_metadata(self.version_path(detector, channel, number))
        except (ArtifactError, OSError, ValueError):
            return None
        training = meta.get("training", {})
        try:
            added = dict(getattr(self.registry.spec(detector).factory, "added_settings", {}))
        except StreamprocError:  # an unknown detector: nothing to add
            added = {}
        if (
            _json_normal({**added, **meta.get("config", {})}) != _json_normal(dict(config))
            or training.get("data_fingerprint") != _json_normal(dict(fingerprint))
            or sorted(meta.get("covariates", [])) != sorted(int(c) for c in covariates)
        ):
            return None
        stored, wanted = _json_normal(training.get("options")) or {}, _json_normal(dict(options))
        if stored == wanted:
            return Reused(self.load(detector, channel, number), recalibrated=False)
        if _without_threshold(stored) != _without_threshold(wanted) or "threshold" not in wanted:
            return None
        model = self.load(detector, channel, number)
        model.recalibrate(ThresholdConfig.from_json(wanted["threshold"]))
        self.save(model, role=role)
        return Reused(model, recalibrated=True)


def _without_threshold(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key != "threshold"}


def _promoted(pointers: Pointers, version: int) -> Pointers:
    if pointers.live == version:
        return pointers
    history = pointers.history + ((pointers.live,) if pointers.live is not None else ())
    return replace(
        pointers,
        live=version,
        history=tuple(n for n in history if n != version),
        shadow=None if pointers.shadow == version else pointers.shadow,
    )


def _retired(pointers: Pointers, version: int) -> Pointers:
    return replace(
        pointers,
        shadow=None if pointers.shadow == version else pointers.shadow,
        history=tuple(n for n in pointers.history if n != version),
        retired=tuple(sorted({*pointers.retired, version})),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _who() -> str:
    """``user@host`` of the writing process (a training Job's pod, say)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"
