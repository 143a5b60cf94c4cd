"""``Detector.fit(validation=...)``: forwarded to detectors that take it, harmless to older ones."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.detection import Detector, FitReport


class _Recorder(Detector):
    name = "recorder"

    def _fit(self, train, progress, validation=None):
        self.seen = None if validation is None else validation.shape
        return FitReport(seconds=0.0, train_windows=len(train))

    def _score(self, windows):
        return windows[:, -1].sum(axis=1), np.abs(windows[:, -1])

    def _arrays(self):
        return {}

    def _restore(self, arrays):
        return None


class _Legacy(_Recorder):
    name = "legacy"

    def _fit(self, train, progress):  # written before ``validation`` existed
        self.seen = "called"
        return FitReport(seconds=0.0, train_windows=len(train))


TRAIN = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)


def test_validation_reaches_a_detector_that_accepts_it() -> None:
    detector = _Recorder(window=4)
    detector.fit(TRAIN, validation=TRAIN[:12])
    assert detector.seen == (12, 3)
    detector.fit(TRAIN)
    assert detector.seen is None


def test_a_detector_without_the_parameter_is_still_fitted() -> None:
    detector = _Legacy(window=4)
    detector.fit(TRAIN, validation=TRAIN[:12])
    assert detector.seen == "called" and detector.fitted


@pytest.mark.parametrize("bad", [TRAIN[:10, :2], TRAIN[:10, 0], np.full((10, 3), np.nan, np.float32)])
def test_malformed_validation_is_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="validation"):
        _Recorder(window=4).fit(TRAIN, validation=bad)


def test_pca_reports_a_held_out_loss() -> None:
    from streamproc_plugins.pca import PCADetector

    report = PCADetector(window=8, components=2).fit(TRAIN[:40], validation=TRAIN[33:])
    assert report.validation_loss is not None and report.validation_loss > 0
    assert PCADetector(window=8, components=2).fit(TRAIN).validation_loss is None
