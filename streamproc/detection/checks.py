"""The shared contract suite every detector must pass (river's ``check_estimator`` idea).

``tests/detection/test_contract.py`` runs every registered detector through
:func:`yield_checks` with its spec's ``small_config``; a third-party plugin can do the same
in its own tests::

    from streamproc.detection.checks import yield_checks
    for check in yield_checks(my_spec):
        check()
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ._base import Detector, sliding_windows
from ._spec import DetectorSpec

PLANTED_AUC_FLOOR = 0.8
SANITY_PLANTED_AUC_FLOOR = 0.7
# On collective anomalies (several features leave their cycle together, each within its normal
# range), how far a model must rank above a score of the window's last values' magnitude, which
# needs no training and so never clears it. On the check's data (seed 2) the magnitude reaches
# about 0.68; pca, tranad, mscred and structure_aware 0.95-0.98, usad 0.77, omnianomaly 0.82.
STRUCTURE_MARGIN = 0.05
STRUCTURE_SEED = 2


@dataclass(frozen=True)
class CheckData:
    train: np.ndarray
    windows: np.ndarray
    window_labels: np.ndarray


@functools.lru_cache(maxsize=8)
def check_data(window: int, seed: int = 7, kinds: tuple[str, ...] | None = None) -> CheckData:
    """Small scaled synthetic data with planted anomalies (of ``kinds``, default all), shared by
    all checks of a window size."""
    from streamproc.datasets.synthetic import ANOMALY_KINDS, SyntheticConfig, generate_synthetic

    data = generate_synthetic(
        SyntheticConfig(
            n_features=4, train_steps=1500, test_steps=1200, anomaly_ratio=0.08, seed=seed, kinds=kinds or ANOMALY_KINDS
        )
    )
    from ._scaling import RobustScaler

    scaler = RobustScaler.fit(data.train)
    test = scaler.transform(data.test)
    windows = np.ascontiguousarray(sliding_windows(test, window))
    labels = data.labels[window - 1 :]
    return CheckData(scaler.transform(data.train), windows, labels)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties get average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    pos = labels.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class _Fitted:
    """One fitted detector per spec, reused by the checks that only score."""

    def __init__(self, spec: DetectorSpec) -> None:
        self.spec = spec
        self.config = dict(spec.small_config if spec.small_config is not None else spec.default_config)
        self._detector: Detector | None = None

    @property
    def data(self) -> CheckData:
        return check_data(int(self.config["window"]))

    def build(self) -> Detector:
        return self.spec.build(**self.config)

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = self.build()
            self._detector.fit(self.data.train)
        return self._detector


def check_shapes(f: _Fitted) -> None:
    windows = f.data.windows[:32]
    scores, contributions = f.detector.score(windows)
    assert scores.shape == (32,), scores.shape
    assert contributions.shape == (32, windows.shape[2]), contributions.shape
    assert np.isfinite(scores).all() and np.isfinite(contributions).all()
    assert (contributions >= 0).all(), "contributions must be non-negative"
    empty = f.detector.score(windows[:0])
    assert empty.scores.shape == (0,)


def check_rejects_wrong_shape(f: _Fitted) -> None:
    windows = f.data.windows[:4]
    for bad in (windows[:, :-1], windows[..., :-1], windows[0]):
        try:
            f.detector.score(bad)
        except ValueError:
            continue
        raise AssertionError(f"score accepted windows of shape {bad.shape}")


def check_deterministic(f: _Fitted) -> None:
    windows = f.data.windows[:64]
    other = f.build()
    other.fit(f.data.train)
    np.testing.assert_allclose(other.score(windows).scores, f.detector.score(windows).scores, rtol=1e-4, atol=1e-6)


def check_save_load(f: _Fitted) -> None:
    windows = f.data.windows[:64]
    with tempfile.TemporaryDirectory() as tmp:
        f.detector.save(tmp, metadata={"note": "contract"})
        loaded = type(f.detector).load(tmp)
    before, after = f.detector.score(windows), loaded.score(windows)
    np.testing.assert_allclose(after.scores, before.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after.contributions, before.contributions, rtol=1e-5, atol=1e-6)


def check_use_device(f: _Fitted) -> None:
    """A worker moves every model it loads to its device: on the CPU the scores stay the same."""
    windows = f.data.windows[:16]
    with tempfile.TemporaryDirectory() as tmp:
        f.detector.save(tmp)
        loaded = type(f.detector).load(tmp)
    loaded.use_device("cpu")
    np.testing.assert_allclose(loaded.score(windows).scores, f.detector.score(windows).scores, rtol=1e-5, atol=1e-6)


def check_batch_invariant(f: _Fitted) -> None:
    windows = f.data.windows[:40]
    whole = f.detector.score(windows).scores
    singles = np.concatenate([f.detector.score(windows[i : i + 1]).scores for i in range(len(windows))])
    sevens = np.concatenate([f.detector.score(windows[i : i + 7]).scores for i in range(0, len(windows), 7)])
    np.testing.assert_allclose(singles, whole, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sevens, whole, rtol=1e-4, atol=1e-5)


def check_nan_handling(f: _Fitted) -> None:
    windows = f.data.windows[:8].copy()
    windows[0, -1, 0] = np.nan
    windows[1, 0, :] = np.inf
    scores, contributions = f.detector.score(windows)
    assert np.isfinite(scores).all() and np.isfinite(contributions).all()
    train = f.data.train.copy()
    train[5, 0] = np.nan
    try:
        f.build().fit(train)
    except ValueError:
        return
    raise AssertionError("fit accepted training data with NaN")


def check_covariates_are_never_scored_or_blamed(f: _Fitted) -> None:
    """A detector fitted with covariates gives them no contribution, even when one lies far
    outside its training range (where the same detector without covariates blames it). Leaving
    them out of an additive detector's score relies on its score being the sum of its
    contributions, which is checked here on the detector's own scores."""
    windows = f.data.windows[:32].copy()
    windows[:, -1, 0] += 50.0  # scaled units: far outside anything seen in training
    every_feature = f.detector.score(windows)
    assert every_feature.contributions[:, 0].any(), "the check's shift is not visible"
    if f.detector.additive:
        np.testing.assert_allclose(
            every_feature.scores,
            every_feature.contributions.sum(axis=1),
            rtol=1e-4,
            atol=1e-5,
            err_msg="an additive detector's score is not the sum of its contributions; set additive = False",
        )
    detector = f.build()
    detector.fit(f.data.train, covariates=[0])
    assert (detector.score(windows).contributions[:, 0] == 0).all(), "a covariate was blamed"
    with tempfile.TemporaryDirectory() as tmp:
        detector.save(tmp)
        assert type(detector).load(tmp).covariates == (0,), "covariates lost in save/load"


def check_finds_planted_anomalies(f: _Fitted) -> None:
    scores = f.detector.score(f.data.windows).scores
    auc = roc_auc(scores, f.data.window_labels)
    floor = SANITY_PLANTED_AUC_FLOOR if f.spec.sanity else PLANTED_AUC_FLOOR
    assert auc >= floor, f"ROC AUC on planted anomalies {auc:.3f} < {floor}"


def magnitude_auc(data: CheckData) -> float:
    """ROC AUC of the no-training score ``sum |last values|`` (scaled) on ``data``."""
    return roc_auc(np.abs(data.windows[:, -1, :]).sum(axis=1), data.window_labels)


def check_beats_a_magnitude_score_on_collective_anomalies(f: _Fitted) -> None:
    """A model must see structure: on collective anomalies it ranks clearly above a score of the
    last values' magnitude (sanity detectors, which model no structure, are exempt)."""
    if f.spec.sanity:
        return
    data = check_data(int(f.config["window"]), seed=STRUCTURE_SEED, kinds=("collective",))
    detector = f.build()
    detector.fit(data.train)
    auc, floor = roc_auc(detector.score(data.windows).scores, data.window_labels), magnitude_auc(data)
    assert auc >= floor + STRUCTURE_MARGIN, (
        f"ROC AUC on collective anomalies {auc:.3f} < the magnitude score's {floor:.3f} + {STRUCTURE_MARGIN}"
    )


CHECKS: tuple[Callable[[_Fitted], None], ...] = (
    check_shapes,
    check_rejects_wrong_shape,
    check_deterministic,
    check_save_load,
    check_use_device,
    check_batch_invariant,
    check_nan_handling,
    check_covariates_are_never_scored_or_blamed,
    check_finds_planted_anomalies,
    check_beats_a_magnitude_score_on_collective_anomalies,
)


def yield_checks(spec: DetectorSpec) -> Iterator[Callable[[], None]]:
    """Each check bound to one shared fitted detector; call them in any order."""
    fitted = _Fitted(spec)
    for check in CHECKS:
        bound = functools.partial(check, fitted)
        bound.__name__ = check.__name__  # type: ignore[attr-defined]
        yield bound
