"""Per-channel sliding windows: ring-buffer state, due windows and their binary encodings.

:class:`ChannelWindow` is the state a changelog-backed table keeps per channel (encoded as a
fixed header plus float32 samples); :class:`WindowAssembler` applies readings to it and emits a
:class:`Window` every ``stride`` samples; windows travel between roles as bytes
(:meth:`Window.to_bytes`).
"""

from ._assembler import Reading, WindowAssembler, seen_ms
from ._missing import MISSING_POLICIES, MissingPolicy, fill_series, hold_everywhere
from ._ring import NO_OFFSET, Admission, ChannelWindow, WindowStateError
from ._window import Window

__all__ = [
    "MISSING_POLICIES",
    "MissingPolicy",
    "fill_series",
    "hold_everywhere",
    "NO_OFFSET",
    "Admission",
    "ChannelWindow",
    "Reading",
    "Window",
    "WindowAssembler",
    "WindowStateError",
    "seen_ms",
]
