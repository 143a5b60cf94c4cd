"""What several commands do alike: read comma-separated lists and ``--set key=value`` pairs, print
a detector's headline metrics, make torch deterministic."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from streamproc.errors import StreamprocError


def comma_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None or blanks give an empty list."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_settings(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, booleans)."""
    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise StreamprocError(f"--set expects key=value, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(raw)
        except ValueError:
            settings[key.strip()] = raw
    return settings


def headline_line(label: str, micro: Mapping[str, Any]) -> str:
    """One detector's micro (headline) metrics on one line, the oracle marked as such."""
    vus = "n/a" if micro["vus_pr"] is None else f"{micro['vus_pr']:.3f}"
    return (f"{label}: PA-F1 {micro['point_adjusted']['f1']:.3f}  PW-F1 {micro['point_wise']['f1']:.3f}  "
            f"event-F1 {micro['event_wise']['f1']:.3f}  VUS-PR {vus}  "
            f"best PW-F1 (oracle) {micro['oracle_best_f1']['f1']:.3f}")


def make_deterministic() -> None:
    """Ask torch, when a plugin has imported it, for reproducible kernels."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    # cuBLAS needs a fixed workspace for reproducible results; setting it is harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
