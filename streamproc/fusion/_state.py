"""Per-channel fusion state: hysteresis counters, the open alert and windows awaiting scores.

Stored in a changelog-backed table as compact JSON: it is small (a few counters, at most one
open alert and the few windows whose detector scores have not all arrived yet).
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
class ChannelFusion:
    """Everything fusion remembers about one channel between windows."""

    last_window_end: int | None = None
    anomalous_run: int = 0
    normal_run: int = 0
    alert: OpenAlert | None = None
    pending: dict[int, PendingWindow] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = {"v": _FORMAT, "last": self.last_window_end,
                                "runs": [self.anomalous_run, self.normal_run]}
        if self.alert is not None:
            a = self.alert
            data["alert"] = [a.alert_id, a.opened_at, a.severity, a.peak_score,
                             [[f.index, f.name, f.contribution] for f in a.top_features]]
        if self.pending:
            data["pending"] = [[end, [v.to_json() for v in p.verdicts.values()], p.feature_names, p.produced_at]
                               for end, p in sorted(self.pending.items())]
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
                state.alert = OpenAlert(alert_id, opened_at, severity, peak,
                                        [FeatureContribution(i, n, c) for i, n, c in top])
            for end, verdicts, names, produced_at in data.get("pending", []):
                state.pending[end] = PendingWindow(
                    {v[0]: DetectorVerdict.from_json(v) for v in verdicts}, names, produced_at)
        except FusionStateError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FusionStateError(f"unreadable fusion state: {exc}") from None
        return state
