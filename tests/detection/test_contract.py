"""Every registered detector, built-in or installed, runs through the shared contract suite."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.detection import Detector, DetectorRegistry, DetectorSpec, FitReport
from streamproc.detection.checks import CHECKS, yield_checks

REGISTRY = DetectorRegistry()
_BOUND = {name: {c.__name__: c for c in yield_checks(REGISTRY.spec(name))} for name in REGISTRY.names()}


@pytest.mark.parametrize("check", [c.__name__ for c in CHECKS])
@pytest.mark.parametrize("detector", REGISTRY.names())
def test_contract(detector: str, check: str) -> None:
    _BOUND[detector][check]()


def test_builtin_pca_is_registered() -> None:
    assert "pca" in REGISTRY.names()


class MagnitudeDetector(Detector):
    """Learns nothing: the window's last values' magnitude. A model must do better than this."""

    name = "magnitude"

    def _fit(self, train, progress, validation=None):
        return FitReport(seconds=0.0, train_windows=0)

    def _score(self, windows):
        contributions = np.abs(windows[:, -1, :])
        return contributions.sum(axis=1), contributions

    def _arrays(self):
        return {}

    def _restore(self, arrays):
        pass


def test_the_suite_rejects_a_score_that_learns_nothing() -> None:
    spec = DetectorSpec(
        name="magnitude", summary="|last values|", factory=MagnitudeDetector, default_config={"window": 16}
    )
    failed = []
    for check in yield_checks(spec):
        try:
            check()
        except AssertionError:
            failed.append(check.__name__)
    assert failed == ["check_beats_a_magnitude_score_on_collective_anomalies"]
