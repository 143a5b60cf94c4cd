from streamproc.errors import StreamprocError


class ReportError(StreamprocError):
    """A report cannot be built: a directory is missing, of no known kind, or holds an unreadable file."""
