"""Errors raised while starting a broker or preparing a cluster's topics."""

from __future__ import annotations

from streamproc.errors import StreamprocError


class KafkaSetupError(StreamprocError):
    """A broker or cluster could not be made ready for the pipeline."""


class BrokerStartError(KafkaSetupError):
    """The embedded broker could not be started (no binary, port in use, not ready in time)."""


class BrokerExitedError(KafkaSetupError):
    """The embedded broker process ended while it was supposed to be serving."""


class TopicCreationError(KafkaSetupError):
    """A topic could not be created, or its requested partition count is invalid."""


class BootstrapError(KafkaSetupError):
    """A bootstrap address is malformed or the cluster behind it does not answer."""
