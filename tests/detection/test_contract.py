"""Every registered detector, built-in or installed, runs through the shared contract suite."""

from __future__ import annotations

import pytest

from streamproc.detection import DetectorRegistry
from streamproc.detection.checks import CHECKS, yield_checks

REGISTRY = DetectorRegistry()
_BOUND = {name: {c.__name__: c for c in yield_checks(REGISTRY.spec(name))} for name in REGISTRY.names()}


@pytest.mark.parametrize("check", [c.__name__ for c in CHECKS])
@pytest.mark.parametrize("detector", REGISTRY.names())
def test_contract(detector: str, check: str) -> None:
    _BOUND[detector][check]()


def test_builtin_pca_is_registered() -> None:
    assert "pca" in REGISTRY.names()
