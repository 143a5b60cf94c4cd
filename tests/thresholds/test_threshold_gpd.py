from __future__ import annotations

import numpy as np
import pytest

from streamproc.thresholds import fit_gpd, gpd_log_likelihood


def _gpd_sample(rng: np.random.Generator, n: int, shape: float, scale: float) -> np.ndarray:
    u = rng.random(n)
    if shape == 0:
        return -scale * np.log(u)
    return scale / shape * (u ** (-shape) - 1.0)


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.25, 0.6])
def test_fit_recovers_parameters_of_a_large_sample(shape: float) -> None:
    rng = np.random.default_rng(11)
    fit = fit_gpd(_gpd_sample(rng, 20000, shape, 2.0))
    assert fit.shape == pytest.approx(shape, abs=0.04)
    assert fit.scale == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.4])
def test_fit_is_the_maximum_of_the_likelihood(shape: float) -> None:
    rng = np.random.default_rng(5)
    y = _gpd_sample(rng, 150, shape, 1.5)
    fit = fit_gpd(y)
    assert fit.log_likelihood == pytest.approx(gpd_log_likelihood(y, fit.shape, fit.scale))
    grid = max(
        gpd_log_likelihood(y, g, s)
        for g in np.linspace(-0.9, 1.5, 121)
        for s in np.geomspace(y.mean() / 10, y.mean() * 10, 121)
    )
    assert fit.log_likelihood >= grid - 1e-9


def test_fit_does_not_depend_on_score_units() -> None:
    y = _gpd_sample(np.random.default_rng(2), 500, 0.2, 1.0)
    small, large = fit_gpd(y), fit_gpd(y * 1e6)
    assert large.shape == pytest.approx(small.shape, abs=1e-6)
    assert large.scale == pytest.approx(small.scale * 1e6, rel=1e-6)


def test_excess_quantile_of_the_exponential_case() -> None:
    fit = fit_gpd(_gpd_sample(np.random.default_rng(0), 50000, 0.0, 3.0))
    assert fit.excess_quantile(1e-3) == pytest.approx(-3.0 * np.log(1e-3), rel=0.05)


@pytest.mark.parametrize("bad", [[1.0], [2.0, 2.0, 2.0], [1.0, -1.0, 2.0], [1.0, np.nan, 2.0]])
def test_fit_rejects_unusable_excesses(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        fit_gpd(np.array(bad))
