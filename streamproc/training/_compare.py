"""Live against shadow: how a candidate model scored the same windows as the live one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, FusionPolicy, WindowVerdicts


@dataclass(frozen=True)
class ShadowComparison:
    """One detector on one channel: the windows both versions scored, how their scores agree,
    how often each crossed its threshold and how many alerts each alone would have opened."""

    channel: str
    detector: str
    live_versions: tuple[str, ...]
    shadow_versions: tuple[str, ...]
    windows: int
    correlation: float | None  # Pearson, of the two versions' scores over those windows
    live_anomalous: int
    shadow_anomalous: int
    agreement: float  # share of windows both call anomalous or both call normal
    live_alerts: int
    shadow_alerts: int


def compare_shadow(
    records: Iterable[Mapping[str, Any]], detector: str, *, open_after: int, resolve_after: int, threshold: float = 1.0
) -> list[ShadowComparison]:
    """Compare ``detector``'s live and shadow AnomalyScore ``records`` window by window, per
    channel (only windows both scored count); alerts use the worker's fusion with this detector
    alone (``open_after`` / ``resolve_after`` anomalous / normal windows, fused ``threshold``)."""
    by_channel: dict[str, dict[bool, dict[int, Mapping[str, Any]]]] = {}
    for record in records:
        if record["detector"] != detector:
            continue
        windows = by_channel.setdefault(record["channel"], {False: {}, True: {}})
        windows[bool(record.get("shadow", False))][int(record["window_end"])] = record
    fuser = Fuser(FusionPolicy("max", {}, 1), threshold=threshold, open_after=open_after, resolve_after=resolve_after)
    found = []
    for channel, sides in sorted(by_channel.items()):
        both = sorted(set(sides[False]) & set(sides[True]))
        if not both:
            continue
        live = [sides[False][end] for end in both]
        shadow = [sides[True][end] for end in both]
        live_flags = np.array([r["anomalous"] for r in live], bool)
        shadow_flags = np.array([r["anomalous"] for r in shadow], bool)
        found.append(
            ShadowComparison(
                channel=channel,
                detector=detector,
                live_versions=tuple(dict.fromkeys(r["model_version"] for r in live)),
                shadow_versions=tuple(dict.fromkeys(r["model_version"] for r in shadow)),
                windows=len(both),
                correlation=_correlation([r["score"] for r in live], [r["score"] for r in shadow]),
                live_anomalous=int(live_flags.sum()),
                shadow_anomalous=int(shadow_flags.sum()),
                agreement=float((live_flags == shadow_flags).mean()),
                live_alerts=_openings(fuser, channel, live),
                shadow_alerts=_openings(fuser, channel, shadow),
            )
        )
    return found


def _correlation(a: list[float], b: list[float]) -> float | None:
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None  # a constant score has no correlation to speak of
    return float(np.corrcoef(x, y)[0, 1])


def _openings(fuser: Fuser, channel: str, records: list[Mapping[str, Any]]) -> int:
    state, opened = ChannelFusion(), 0
    for record in records:
        verdict = DetectorVerdict(
            record["detector"], record["model_version"], record["score"], record["threshold"], record["contributions"]
        )
        events = fuser.fuse(state, WindowVerdicts(channel, int(record["window_end"]), [verdict]))
        opened += sum(event.state == "OPEN" for event in events)
    return opened
