"""Fusion: detector scores normalised by their thresholds, combined by a policy, and turned into
alerts with hysteresis, stable ids, severities and the features that explain them.

Everything here is pure: :class:`Fuser` reads and updates a :class:`ChannelFusion` state the
caller stores (a changelog-backed table in the worker).
"""

from ._fuser import ALERT_NAMESPACE, MAX_PENDING_WINDOWS, Fuser, alert_id
from ._policy import POLICIES, FusionConfigError, FusionPolicy, normalise
from ._state import ChannelFusion, FusionStateError, OpenAlert, PendingWindow
from ._verdict import AlertEvent, DetectorVerdict, FeatureContribution, WindowVerdicts

__all__ = [
    "ALERT_NAMESPACE",
    "MAX_PENDING_WINDOWS",
    "POLICIES",
    "AlertEvent",
    "ChannelFusion",
    "DetectorVerdict",
    "FeatureContribution",
    "FusionConfigError",
    "FusionPolicy",
    "FusionStateError",
    "Fuser",
    "OpenAlert",
    "PendingWindow",
    "WindowVerdicts",
    "alert_id",
    "normalise",
]
