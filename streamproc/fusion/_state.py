"""Per-channel fusion state: hysteresis counters, the open alert, windows awaiting scores, and
what operators' feedback tuned.

Stored in a changelog-backed table as compact JSON: it is small (a few counters, at most one
open alert, the few windows whose detector scores have not all arrived yet, a few remembered
alerts and per-detector scales).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streamproc.errors import StreamprocError

from ._verdict import DetectorVerdict, FeatureContribution

_FORMAT = 1


class FusionStateError(StreamprocError):
    """Bytes that are not a fusion state this version can read."""


@dataclass
class OpenAlert:
    """The alert a channel has open: its identity, the highest severity announced so far, and
    the top features of its most anomalous window (what its RESOLVED message summarises)."""

    alert_id: str
    opened_at: int
    severity: str
    peak_score: float
    top_features: list[FeatureContribution] = field(default_factory=list)


@dataclass
class PendingWindow:
    """A window some of whose detectors' scores have arrived (the fuse role joins them)."""

    verdicts: dict[str, DetectorVerdict] = field(default_factory=dict)
    feature_names: list[str] | None = None
    produced_at: float = 0.0


@dataclass
class RememberedAlert:
    """A recent alert as feedback needs it: the detectors whose normalised score at its peak
    was above 1 (``fired``) and the others (``quiet``), and the verdict once one arrived."""

    alert_id: str
    fired: list[str]
    quiet: list[str]
    verdict: str | None = None


@dataclass
class ChannelFusion:
    """Everything fusion remembers about one channel between windows.

    ``scales`` (detector -> factor, absent = 1) divide the detectors' normalised scores; feedback
    sets them. ``partition`` is the partition whose changelog holds this state, for updates
    that come from elsewhere than the channel's own stream (feedback).
    """

    last_window_end: int | None = None
    anomalous_run: int = 0
    normal_run: int = 0
    alert: OpenAlert | None = None
    pending: dict[int, PendingWindow] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    remembered: list[RememberedAlert] = field(default_factory=list)
    partition: int | None = None

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = {
            "v": _FORMAT,
            "last": self.last_window_end,
            "runs": [self.anomalous_run, self.normal_run],
        }
        if self.alert is not None:
            a = self.alert
            data["alert"] = [
                a.alert_id,
                a.opened_at,
                a.severity,
                a.peak_score,
                [[f.index, f.name, f.contribution] for f in a.top_features],
            ]
        if self.pending:
            data["pending"] = [
                [end, [v.to_json() for v in p.verdicts.values()], p.feature_names, p.produced_at]
                for end, p in sorted(self.pending.items())
            ]
        if self.scales:
            data["scales"] = self.scales
        if self.remembered:
            data["remembered"] = [[a.alert_id, a.fired, a.quiet, a.verdict] for a in self.remembered]
        if self.partition is not None:
            data["p"] = self.partition
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChannelFusion:
        try:
            data = json.loads(raw)
            if data.get("v") != _FORMAT:
                raise FusionStateError(f"fusion state format {data.get('v')!r}, expected {_FORMAT}")
            state = cls(data["last"], *data["runs"])
            if "alert" in data:
                alert_id, opened_at, severity, peak, top = data["alert"]
                state.alert = OpenAlert(
                    alert_id, opened_at, severity, peak, [FeatureContribution(i, n, c) for i, n, c in top]
                )
            for end, verdicts, names, produced_at in data.get("pending", []):
                state.pending[end] = PendingWindow(
                    {v[0]: DetectorVerdict.from_json(v) for v in verdicts}, names, produced_at
                )
            state.scales = {str(d): float(s) for d, s in data.get("scales", {}).items()}
            state.remembered = [
                RememberedAlert(a, list(fired), list(quiet), v) for a, fired, quiet, v in data.get("remembered", [])
            ]
            state.partition = data.get("p")
        except FusionStateError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FusionStateError(f"unreadable fusion state: {exc}") from None
        return state
