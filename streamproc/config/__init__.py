"""streamproc's settings: defaults < TOML config file < environment < explicit overrides.

``Settings.load()`` resolves every layer and rejects bad values with a :class:`ConfigError` naming
the key (``window.size: expected a positive integer, got 'abc' (from STREAMPROC_WINDOW__SIZE)``).
Environment variables are ``STREAMPROC_<SECTION>__<KEY>`` (``STREAMPROC_WINDOW__SIZE=64``,
``STREAMPROC_FUSION__WEIGHTS__PCA=2``), plus ``KAFKA_BOOTSTRAP`` and ``STREAMPROC_CONFIG`` (the
config file's path). Passwords are :class:`Secret` objects that never print themselves.
"""

from ._errors import ConfigError
from ._kafka import MESSAGE_OVERHEAD_BYTES, SASL_MECHANISMS, SECURITY_PROTOCOLS, KafkaSettings
from ._render import to_toml
from ._resolve import BOOTSTRAP_ENV, CONFIG_ENV, ENV_PREFIX
from ._secret import Secret
from ._settings import (
    FUSION_POLICIES,
    MISSING_POLICIES,
    SEVERITIES,
    DetectorSettings,
    ForwardSettings,
    FusionSettings,
    Settings,
    TopicSettings,
    WindowSettings,
    WorkerSettings,
)

__all__ = [
    "BOOTSTRAP_ENV",
    "CONFIG_ENV",
    "ENV_PREFIX",
    "FUSION_POLICIES",
    "MISSING_POLICIES",
    "MESSAGE_OVERHEAD_BYTES",
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "SEVERITIES",
    "ConfigError",
    "DetectorSettings",
    "ForwardSettings",
    "FusionSettings",
    "KafkaSettings",
    "Secret",
    "Settings",
    "TopicSettings",
    "WindowSettings",
    "WorkerSettings",
    "to_toml",
]
