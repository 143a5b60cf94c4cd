from streamproc.errors import StreamprocError


class DatasetError(StreamprocError):
    """A data set is missing, malformed, fails verification or cannot be generated as asked."""
