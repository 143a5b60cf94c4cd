from streamproc.errors import StreamprocError


class TrainingError(StreamprocError):
    """Training cannot run as asked: unknown detector or config key, unusable data, bad option."""
