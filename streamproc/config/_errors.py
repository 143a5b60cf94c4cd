"""The error every invalid setting raises."""

from streamproc.errors import StreamprocError


class ConfigError(StreamprocError):
    """An invalid, unknown or missing setting; the message starts with the key (``window.size: ...``)."""
