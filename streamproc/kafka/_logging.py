"""Where librdkafka's own messages go (connection attempts, retries, broker errors)."""

from __future__ import annotations

import logging


class _OnlyWhenConfigured(logging.Filter):
    """Pass a record only when the process set up logging (a worker, the forwarder): a short
    command's unconfigured logging would print every failed connection attempt, hundreds of
    lines before the command's own one-line error says what is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return bool(logging.getLogger().handlers)


# Every confluent-kafka client streamproc creates logs through this logger (its "logger" setting).
CLIENT_LOG = logging.getLogger("streamproc.kafka.client")
CLIENT_LOG.addFilter(_OnlyWhenConfigured())
