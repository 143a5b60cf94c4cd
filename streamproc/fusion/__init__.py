"""Fusion: detector scores normalised by their thresholds, combined by a policy, and turned into
alerts with hysteresis, stable ids, severities and the features that explain them.

Everything here is pure: :class:`Fuser` reads and updates a :class:`ChannelFusion` state the
caller stores (a changelog-backed table in the worker). :class:`FeedbackTuner` applies
operators' verdicts on alerts to that same state.
"""

from ._feedback import REMEMBERED_ALERTS, VERDICTS, FeedbackOutcome, FeedbackTuner
from ._fuser import ALERT_NAMESPACE, MAX_PENDING_WINDOWS, Fuser, alert_id
from ._policy import POLICIES, FusionConfigError, FusionPolicy, normalise
from ._state import ChannelFusion, FusionStateError, OpenAlert, PendingWindow, RememberedAlert
from ._verdict import ANOMALY, STALE, AlertEvent, DetectorVerdict, FeatureContribution, WindowVerdicts

__all__ = [
    "ALERT_NAMESPACE",
    "ANOMALY",
    "STALE",
    "MAX_PENDING_WINDOWS",
    "POLICIES",
    "REMEMBERED_ALERTS",
    "VERDICTS",
    "AlertEvent",
    "ChannelFusion",
    "DetectorVerdict",
    "FeatureContribution",
    "FeedbackOutcome",
    "FeedbackTuner",
    "FusionConfigError",
    "FusionPolicy",
    "FusionStateError",
    "Fuser",
    "OpenAlert",
    "PendingWindow",
    "RememberedAlert",
    "WindowVerdicts",
    "alert_id",
    "normalise",
]
