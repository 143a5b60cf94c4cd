"""Operators' verdicts on alerts, turned into per-channel detector threshold scales.

A channel's fusion state remembers its most recent alerts with the detectors that fired (a
normalised score above 1 at the alert's peak) and those that did not. A verdict on one of them moves
that channel's scales, by which fusion
divides each detector's normalised score (so a scale of 2 doubles that detector's threshold on
that channel, and under every policy it weighs that detector's evidence):

- FALSE_POSITIVE: every detector that fired (normalised score above 1) gets a higher scale;
- TRUE_POSITIVE: every detector that did not fire gets a lower scale (it missed a confirmed
  anomaly), and one that fired with a scale above 1 comes back towards 1;
- UNSURE: counted, nothing moves.

Each step multiplies or divides by ``1 + step``; scales stay within ``[1 / max_scale, max_scale]``.
An alert's first verdict is the one that counts: later ones (a re-delivery, a second opinion)
change nothing, so replaying the feedback topic from its beginning is harmless.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ._state import ChannelFusion, RememberedAlert

VERDICTS = ("TRUE_POSITIVE", "FALSE_POSITIVE", "UNSURE")
# Alerts a channel remembers for feedback; an older alert's verdict finds nothing to tune.
REMEMBERED_ALERTS = 32


class FeedbackOutcome(enum.Enum):
    APPLIED = "applied"
    REPEATED = "repeated"  # the alert already had a verdict
    UNKNOWN_ALERT = "unknown-alert"  # not among the channel's remembered alerts


@dataclass(frozen=True)
class FeedbackTuner:
    """Applies verdicts to channel fusion states (see the module's docstring)."""

    step: float = 0.1
    max_scale: float = 4.0

    def __post_init__(self) -> None:
        if self.step < 0:
            raise ValueError(f"feedback step must be >= 0, got {self.step}")
        if self.max_scale < 1:
            raise ValueError(f"feedback max_scale must be >= 1, got {self.max_scale}")

    @staticmethod
    def remember(state: ChannelFusion, alert_id: str, normalised: Mapping[str, float]) -> None:
        """Record (or, at a new peak, update) which detectors fired on an open alert."""
        fired = sorted(d for d, score in normalised.items() if score > 1.0)
        quiet = sorted(d for d, score in normalised.items() if score <= 1.0)
        for alert in state.remembered:
            if alert.alert_id == alert_id:
                alert.fired, alert.quiet = fired, quiet
                return
        state.remembered.append(RememberedAlert(alert_id, fired, quiet))
        del state.remembered[:-REMEMBERED_ALERTS]

    @staticmethod
    def find(state: ChannelFusion, alert_id: str) -> RememberedAlert | None:
        return next((a for a in state.remembered if a.alert_id == alert_id), None)

    def apply(self, state: ChannelFusion, alert_id: str, verdict: str) -> FeedbackOutcome:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        alert = self.find(state, alert_id)
        if alert is None:
            return FeedbackOutcome.UNKNOWN_ALERT
        if alert.verdict is not None:
            return FeedbackOutcome.REPEATED
        alert.verdict = verdict
        factor = 1.0 + self.step
        for detector, fired in [(d, True) for d in alert.fired] + [(d, False) for d in alert.quiet]:
            scale = state.scales.get(detector, 1.0)
            if verdict == "FALSE_POSITIVE" and fired:
                scale *= factor
            elif verdict == "TRUE_POSITIVE" and not fired:
                scale /= factor
            elif verdict == "TRUE_POSITIVE" and scale > 1.0:
                scale = max(1.0, scale / factor)
            scale = min(max(scale, 1.0 / self.max_scale), self.max_scale)
            if scale == 1.0:
                state.scales.pop(detector, None)
            else:
                state.scales[detector] = scale
        return FeedbackOutcome.APPLIED
