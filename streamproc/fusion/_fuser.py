"""Fusion with hysteresis: detector verdicts in, alert lifecycle events out."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from streamproc.config import SEVERITIES, FusionSettings

from ._feedback import FeedbackTuner
from ._policy import FusionPolicy, normalise
from ._state import ChannelFusion, OpenAlert, PendingWindow
from ._verdict import AlertEvent, DetectorVerdict, FeatureContribution, WindowVerdicts

# Alert ids are uuid5 names under this fixed namespace: the same channel and opening window
# always give the same id, however often the input is processed.
ALERT_NAMESPACE = uuid.UUID("6f0f8d0e-3a53-5f5e-9a1e-5c1d2b7a9e40")
# Windows waiting for missing detector scores are fused without them beyond this many.
MAX_PENDING_WINDOWS = 64


def alert_id(channel: str, opened_at: int) -> str:
    """The stable id of the alert opened on ``channel`` by the window ending at ``opened_at``."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{channel}\n{opened_at}"))


class Fuser:
    """Turns each channel's stream of window verdicts into OPEN / UPDATE / RESOLVED events.

    A window is anomalous when its fused score exceeds ``threshold``. An alert opens after
    ``open_after`` consecutive anomalous windows, is updated when an anomalous window reaches a
    higher severity than announced so far, and resolves after ``resolve_after`` consecutive
    normal ones. Severity is the highest band of ``severity_bands`` (lowest fused score of each
    of LOW..CRITICAL) the fused score reaches, LOW at least. All state lives in the
    :class:`ChannelFusion` passed in, so the same input always yields the same events.
    """

    def __init__(
        self,
        policy: FusionPolicy | None = None,
        *,
        threshold: float = 1.0,
        open_after: int = 3,
        resolve_after: int = 5,
        severity_bands: Mapping[str, float] | None = None,
        top_features: int = 5,
    ) -> None:
        if open_after < 1 or resolve_after < 1:
            raise ValueError("open_after and resolve_after must be >= 1")
        self.policy = policy or FusionPolicy()
        self.threshold = float(threshold)
        self.open_after = int(open_after)
        self.resolve_after = int(resolve_after)
        bands = dict(severity_bands or {"LOW": 1.0, "MEDIUM": 2.0, "HIGH": 4.0, "CRITICAL": 8.0})
        unknown = set(bands) - set(SEVERITIES)
        if unknown:
            raise ValueError(f"unknown severities {sorted(unknown)}")
        self._bands = [(bands[s], s) for s in SEVERITIES if s in bands]
        self.top_features = int(top_features)

    @classmethod
    def from_settings(cls, fusion: FusionSettings) -> Fuser:
        """From a :class:`streamproc.config.FusionSettings`."""
        return cls(
            FusionPolicy(fusion.policy, fusion.weights, fusion.k),
            threshold=fusion.threshold,
            open_after=fusion.open_after,
            resolve_after=fusion.resolve_after,
            severity_bands=fusion.severity_bands,
        )

    def severity(self, fused_score: float) -> str:
        found = "LOW"
        for lower, name in self._bands:
            if fused_score >= lower:
                found = name
        return found

    # -- fusing -------------------------------------------------------------------------------

    def fuse(self, state: ChannelFusion, window: WindowVerdicts) -> list[AlertEvent]:
        """Apply one window to ``state``; windows not newer than the last one fused are ignored."""
        if state.last_window_end is not None and window.window_end <= state.last_window_end:
            return []
        state.last_window_end = window.window_end
        normalised = {
            v.detector: normalise(v.score, v.threshold * state.scales.get(v.detector, 1.0)) for v in window.verdicts
        }
        fused = self.policy.combine(normalised)
        if fused > self.threshold:
            state.anomalous_run += 1
            state.normal_run = 0
            return self._on_anomalous(state, window, normalised, fused)
        state.normal_run += 1
        state.anomalous_run = 0
        if state.alert is not None and state.normal_run >= self.resolve_after:
            alert, state.alert = state.alert, None
            return [self._event(window, alert, "RESOLVED", fused, alert.top_features, resolved=True)]
        return []

    def _on_anomalous(
        self, state: ChannelFusion, window: WindowVerdicts, normalised: Mapping[str, float], fused: float
    ) -> list[AlertEvent]:
        severity = self.severity(fused)
        alert = state.alert
        if alert is None:
            if state.anomalous_run < self.open_after:
                return []
            top = self.explain(window, normalised)
            alert = state.alert = OpenAlert(
                alert_id(window.channel, window.window_end), window.window_end, severity, fused, top
            )
            FeedbackTuner.remember(state, alert.alert_id, normalised)
            return [self._event(window, alert, "OPEN", fused, top)]
        if fused > alert.peak_score:
            alert.peak_score = fused
            alert.top_features = self.explain(window, normalised)
            FeedbackTuner.remember(state, alert.alert_id, normalised)
        if SEVERITIES.index(severity) > SEVERITIES.index(alert.severity):
            alert.severity = severity
            return [self._event(window, alert, "UPDATE", fused, self.explain(window, normalised))]
        return []

    def _event(
        self,
        window: WindowVerdicts,
        alert: OpenAlert,
        state: str,
        fused: float,
        top: Sequence[FeatureContribution],
        resolved: bool = False,
    ) -> AlertEvent:
        return AlertEvent(
            alert.alert_id,
            window.channel,
            state,
            alert.opened_at,
            window.window_end,
            window.window_end if resolved else None,
            self.severity(fused) if resolved else alert.severity,
            fused,
            tuple(window.verdicts),
            tuple(top),
            window.produced_at,
        )

    def explain(self, window: WindowVerdicts, normalised: Mapping[str, float]) -> list[FeatureContribution]:
        """The features with the largest share of the fused score, largest first.

        Each detector's contributions are turned into shares of its own score, then averaged
        with the detector's weight of evidence (its normalised score times its policy weight).
        """
        total: np.ndarray | None = None
        weight_sum = 0.0
        for verdict in window.verdicts:
            contributions = np.clip(np.nan_to_num(np.asarray(verdict.contributions, np.float64)), 0, None)
            mass = contributions.sum()
            weight = normalised.get(verdict.detector, 0.0) * self.policy.weight(verdict.detector)
            if mass <= 0 or weight <= 0:
                continue
            share = weight * contributions / mass
            total = share if total is None else total + share
            weight_sum += weight
        if total is None:
            return []
        total /= weight_sum
        names = window.feature_names
        order = [int(i) for i in np.argsort(-total, kind="stable")[: self.top_features] if total[i] > 0]
        return [
            FeatureContribution(i, names[i] if names is not None and i < len(names) else None, float(total[i]))
            for i in order
        ]

    # -- joining the scores of one window ---------------------------------------------------

    def join(
        self,
        state: ChannelFusion,
        channel: str,
        window_end: int,
        verdict: DetectorVerdict,
        expected: Collection[str],
        feature_names: Sequence[str] | None = None,
        produced_at: float = 0.0,
    ) -> list[WindowVerdicts]:
        """Collect one detector's verdict; return the windows now ready to fuse, oldest first.

        A window is ready when every ``expected`` detector has scored it. Scores of a channel
        arrive in window order from each detector, so once a window is ready, older windows
        still pending will not get their missing scores and are released as they are.
        """
        if state.last_window_end is not None and window_end <= state.last_window_end:
            return []
        pending = state.pending.setdefault(window_end, PendingWindow())
        pending.verdicts[verdict.detector] = verdict
        if feature_names is not None:
            pending.feature_names = list(feature_names)
        pending.produced_at = max(pending.produced_at, produced_at)
        if set(expected) <= set(pending.verdicts):
            release = [end for end in state.pending if end <= window_end]
        elif len(state.pending) > MAX_PENDING_WINDOWS:
            release = [min(state.pending)]
        else:
            return []
        ready = []
        for end in sorted(release):
            p = state.pending.pop(end)
            ready.append(
                WindowVerdicts(
                    channel, end, tuple(p.verdicts[d] for d in sorted(p.verdicts)), p.feature_names, p.produced_at
                )
            )
        return ready
