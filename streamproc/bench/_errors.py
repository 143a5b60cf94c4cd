from streamproc.errors import StreamprocError


class BenchError(StreamprocError):
    """A benchmark cannot run as asked: bad grid, unknown detector or channel, infeasible construction."""
