"""The root of streamproc's own exceptions: the CLI turns these into one-line messages."""


class StreamprocError(Exception):
    """An error the user can act on: bad input, bad configuration, a missing artifact."""
