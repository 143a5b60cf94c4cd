"""Which channels of a data set a run covers: the one rule of every data-set layout."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from ._errors import DatasetError

_PATTERN = set("*?[")


def select_channels(root: Path, available: Sequence[str], requested: Sequence[str] | None = None) -> list[str]:
    """``requested`` names (stripped, blanks ignored; shell-style patterns such as ``valve1-*``
    expand to the matching channels in data-set order) checked against ``available``, or every
    channel when none is named. Never empty; a name or pattern that matches nothing, or a
    channel named twice, is an error."""
    names = [name.strip() for name in requested or () if name.strip()]
    if not names:
        if not available:
            raise DatasetError(f"{root}: no channels")
        return list(available)
    known = set(available)
    selected: list[str] = []
    unknown: list[str] = []
    for name in names:
        if _PATTERN & set(name):
            matched = [channel for channel in available if fnmatchcase(channel, name)]
            selected.extend(matched)
            if not matched:
                unknown.append(name)
        elif name in known:
            selected.append(name)
        else:
            unknown.append(name)
    if unknown:
        shown = ", ".join(available[:10]) + (" ..." if len(available) > 10 else "")
        raise DatasetError(f"{root}: unknown channel(s) {', '.join(unknown)}; channels: {shown}")
    twice = sorted({name for name in selected if selected.count(name) > 1})
    if twice:
        raise DatasetError(f"channel(s) listed twice: {', '.join(twice)}")
    return selected
