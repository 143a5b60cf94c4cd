from streamproc.errors import StreamprocError


class ReplayError(StreamprocError):
    """A replay cannot run as asked: missing models, unknown detectors or channels, mismatched data."""
