"""Maximum-likelihood fit of a Generalised Pareto Distribution by Grimshaw's method.

The GPD ``P(Y > y) = (1 + γ y / σ)^(-1/γ)`` (the exponential ``exp(-y / σ)`` when γ = 0)
models the excesses ``Y = X - t`` of scores over a high threshold ``t`` (Pickands-Balkema-de
Haan). Grimshaw (1993) reduces the two-parameter likelihood to one equation in
``x = γ / σ``::

    w(x) = u(x) · v(x) - 1 = 0,   u(x) = 1 + mean(log(1 + x·Y)),   v(x) = mean(1 / (1 + x·Y))

whose non-zero roots are candidates ``γ = u(x) - 1``, ``σ = γ / x``. The roots lie in
``(-1 / max(Y), 0)`` and ``(0, 2 (mean(Y) - min(Y)) / min(Y)²]``; we find every sign change
of ``w`` on a dense logarithmic grid of each interval, refine it by bisection, and keep the
candidate (the exponential fit included) with the largest log-likelihood. Siffer et al.
(KDD 2017) use the same reduction; scanning a grid instead of starting a local optimiser
from a few points keeps roots close to the interval ends from being missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

# Shape parameters this close to zero use the exponential form (the limit γ -> 0).
_EXPONENTIAL_TOLERANCE = 1e-8
_SMALLEST_ROOT = 1e-8
_POINTS_PER_DECADE = 8
_POINTS_NEAR_END = 16
_REFINE_STEPS = 40
_RELATIVE_TOLERANCE = 1e-10


@dataclass(frozen=True)
class GPDFit:
    """Fitted GPD of excesses: ``shape`` γ, ``scale`` σ, and the log-likelihood reached."""

    shape: float
    scale: float
    log_likelihood: float

    def excess_quantile(self, tail_ratio: float) -> float:
        """The excess ``y`` with ``P(Y > y) = tail_ratio`` (``0 < tail_ratio <= 1``)."""
        if abs(self.shape) < _EXPONENTIAL_TOLERANCE:
            return -self.scale * float(np.log(tail_ratio))
        return cast(float, self.scale / self.shape * (tail_ratio ** (-self.shape) - 1.0))


def gpd_log_likelihood(excesses: np.ndarray, shape: float, scale: float) -> float:
    """Log-likelihood of ``excesses`` under GPD(shape, scale); ``-inf`` outside the support."""
    if scale <= 0:
        return -np.inf
    n = len(excesses)
    if abs(shape) < _EXPONENTIAL_TOLERANCE:
        return float(-n * np.log(scale) - excesses.sum() / scale)
    z = 1.0 + shape * excesses / scale
    if (z <= 0).any():
        return -np.inf
    return float(-n * np.log(scale) - (1.0 + 1.0 / shape) * np.log(z).sum())


def fit_gpd(excesses: np.ndarray) -> GPDFit:
    """Fit a GPD to positive ``excesses`` (at least two distinct values) by Grimshaw's method."""
    y = np.asarray(excesses, dtype=np.float64)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError("need at least two excesses to fit a GPD")
    if (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("excesses must be positive and finite")
    if np.ptp(y) == 0:
        raise ValueError("excesses are all equal: the GPD is not identifiable")
    # The fit is scale-equivariant; working on excesses of mean 1 keeps the grid well conditioned
    # whatever the detector's score units.
    unit = y.mean()
    y = y / unit

    candidates = [(0.0, 1.0)]  # the exponential fit: γ = 0, σ = mean excess (1 after rescaling)
    for x in _grimshaw_roots(y):
        shape = float(np.mean(np.log1p(x * y)))
        if shape != 0.0:
            candidates.append((shape, shape / x))
    best_shape, best_scale, best_ll = 0.0, 1.0, -np.inf
    for shape, scale in candidates:
        ll = gpd_log_likelihood(y, shape, scale)
        if ll > best_ll:
            best_shape, best_scale, best_ll = shape, scale, ll
    # Log-likelihood of the original excesses: the density picks up a factor 1/unit per point.
    return GPDFit(
        shape=float(best_shape), scale=float(best_scale * unit), log_likelihood=float(best_ll - len(y) * np.log(unit))
    )


def _w(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grimshaw's ``u(x)·v(x) - 1`` for each ``x`` (vectorised over the grid)."""
    s = 1.0 + np.multiply.outer(x, y)
    return cast(np.ndarray, (1.0 + np.log(s).mean(axis=-1)) * (1.0 / s).mean(axis=-1) - 1.0)


def _grimshaw_roots(y: np.ndarray) -> np.ndarray:
    y_min, y_max, y_mean = y.min(), y.max(), y.mean()
    upper = 2.0 * (y_mean - y_min) / (y_min * y_min)
    lower = -1.0 / y_max
    # w(0) = 0 always (the trivial root), so each grid starts a small step away from 0. On
    # excesses of mean 1, |x| ~ |γ| / σ: a logarithmic grid from 1e-8 covers shapes of every
    # size, and extra points close to the interval's far end catch roots where 1 + x·max(Y) -> 0.
    grids = []
    for end in (lower, upper):
        if not np.isfinite(end) or abs(end) <= _SMALLEST_ROOT:
            continue
        decades = np.log10(abs(end) / _SMALLEST_ROOT)
        magnitudes = np.concatenate(
            [
                np.geomspace(_SMALLEST_ROOT, abs(end), max(2, int(decades * _POINTS_PER_DECADE))),
                abs(end) * (1.0 - np.geomspace(1e-9, 0.5, _POINTS_NEAR_END)),
            ]
        )
        grids.append(np.sign(end) * np.unique(magnitudes[magnitudes < abs(end)]))
    if not grids:
        return np.zeros(0)
    grid = np.sort(np.concatenate(grids))
    values = _w(grid, y)
    finite = np.isfinite(values)
    # Sign changes between neighbours on the same side of 0 bracket one root each.
    same_side = np.sign(grid[:-1]) == np.sign(grid[1:])
    change = finite[:-1] & finite[1:] & same_side & (np.sign(values[:-1]) * np.sign(values[1:]) < 0)
    brackets = np.flatnonzero(change)
    return _refine(grid[brackets], grid[brackets + 1], values[brackets], values[brackets + 1], y)


def _refine(a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Roots in every bracket ``[a, b]`` at once, by the Illinois variant of regula falsi
    (superlinear, and the bracket is kept so it cannot diverge)."""
    for _ in range(_REFINE_STEPS):
        if len(a) == 0 or np.all(np.abs(b - a) <= _RELATIVE_TOLERANCE * np.abs(a)):
            break
        c = b - wb * (b - a) / (wb - wa)
        wc = _w(c, y)
        same = np.sign(wc) == np.sign(wb)
        # Illinois: when the same end survives twice, halve its value so that it moves next time.
        wa = np.where(same, wa * 0.5, wb)
        a = np.where(same, a, b)
        b, wb = c, wc
    return cast(np.ndarray, 0.5 * (a + b))
