"""Label-free thresholds by Peaks-Over-Threshold, static or streaming (Siffer et al., KDD 2017).

POT: take the ``level`` quantile t of calibration scores (normal data), fit a GPD to the
excesses over t (:func:`fit_gpd`), and set the threshold z_q so that a normal score exceeds
it with probability ``risk`` = q::

    z_q = t + σ/γ · ((q·n / N_t)^(-γ) - 1)        (t - σ·log(q·n / N_t) when γ = 0)

with n calibration scores of which N_t exceed t. SPOT keeps going on the stream: a score
above z_q is an alarm and changes nothing; a score between t and z_q is a new peak, the GPD is
refitted and z_q moves; any other score only increments n. DSPOT runs the same on each score
minus the mean of the last ``depth`` normal scores, so that a slowly drifting score level does
not turn into alarms; its threshold in score units is z_q plus that mean.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from typing import Any

import numpy as np

from ._config import ThresholdConfig, ThresholdConfigError
from ._gpd import GPDFit, fit_gpd

STATE_FORMAT = 1


class Spot:
    """A POT threshold, optionally adapted online (SPOT / DSPOT) as ``config.adaptation`` says.

    ``fit(calibration)`` sets the threshold from normal scores; ``step(score)`` returns whether
    a score is an alarm and, when adapting, updates the state. ``to_json``/``from_json``
    round-trip the full state, so a stream can resume where it stopped. Use ``copy()`` to give
    each stream its own state.
    """

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()
        self.initial: float = math.nan  # t, in drift-corrected units under DSPOT
        self.z: float = math.nan  # z_q, in the same units as ``initial``
        self.n: float = 0.0  # observations counted (float: scaled when peaks are dropped)
        self.peaks = np.zeros(0, np.float64)
        self.gpd: GPDFit | None = None
        self.method: str = ""
        self.note: str | None = None
        self.calibration_size: int = 0
        self._recent: deque[float] = deque(maxlen=self.config.depth)

    # -- calibration ---------------------------------------------------------------------
    def fit(self, calibration: np.ndarray) -> Spot:
        """Calibrate on scores of normal data (NaN values are ignored)."""
        scores = np.asarray(calibration, dtype=np.float64).ravel()
        scores = scores[np.isfinite(scores)]
        self._recent.clear()
        if self.config.adaptation == "dspot":
            depth = self.config.depth
            if len(scores) <= depth:
                raise ThresholdConfigError(
                    f"dspot with depth={depth} needs more than {depth} calibration scores, got {len(scores)}"
                )
            # The moving mean of the ``depth`` scores before each one: cumulative sums give all at once.
            sums = np.cumsum(np.concatenate([[0.0], scores]))
            means = (sums[depth:-1] - sums[: -depth - 1]) / depth
            self._recent.extend(scores[-depth:].tolist())
            scores = scores[depth:] - means
        if len(scores) == 0:
            raise ValueError("no finite calibration scores")
        self.calibration_size = len(scores)
        self.n = float(len(scores))
        self._calibrate(scores)
        return self

    def _calibrate(self, scores: np.ndarray) -> None:
        cfg = self.config
        level = cfg.level
        if len(scores) * (1.0 - level) < cfg.min_peaks:
            # Too few scores for min_peaks above the configured level: lower the level, not below min_level.
            level = max(cfg.min_level, 1.0 - cfg.min_peaks / len(scores))
        self.initial = float(np.quantile(scores, level))
        self.peaks = scores[scores > self.initial] - self.initial
        self.gpd = None
        self.note = None
        reason = self._refit()
        if reason is not None:
            self.method = "empirical"
            self.note = f"{reason}; threshold is the empirical {1 - cfg.risk:g} quantile of {len(scores)} scores"
            self.z = float(np.quantile(scores, 1.0 - cfg.risk))
        else:
            self.method = "pot"

    def _refit(self) -> str | None:
        """Fit the GPD to the current peaks and update z; return why not, when it cannot."""
        if len(self.peaks) < self.config.min_peaks:
            return f"only {len(self.peaks)} peaks over the initial threshold (need {self.config.min_peaks})"
        if np.ptp(self.peaks) == 0:
            return "all peaks are equal"
        tail_ratio = self.config.risk * self.n / len(self.peaks)
        if tail_ratio >= 1.0:
            return f"risk {self.config.risk:g} is not in the tail above the initial threshold"
        fit = fit_gpd(self.peaks)
        if fit.shape > self.config.max_shape:
            return f"the fitted tail shape {fit.shape:.3g} exceeds max_shape {self.config.max_shape:g}"
        z = self.initial + fit.excess_quantile(tail_ratio)
        if not math.isfinite(z):
            return "the fitted tail gives no finite quantile"
        self.gpd, self.z = fit, z
        return None

    # -- streaming -----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return math.isfinite(self.z)

    @property
    def threshold(self) -> float:
        """The current threshold in score units."""
        if self.config.adaptation == "dspot":
            return self.z + float(np.mean(self._recent))
        return self.z

    def step(self, score: float) -> bool:
        """Whether ``score`` is an alarm; under SPOT/DSPOT the state learns from non-alarms."""
        if not self.fitted:
            raise RuntimeError("threshold is not calibrated: call fit() first")
        if not math.isfinite(score):
            return False
        adaptation = self.config.adaptation
        if adaptation == "none":
            return score > self.z
        value = score - float(np.mean(self._recent)) if adaptation == "dspot" else score
        if value > self.z:
            return True
        if value > self.initial:
            self.peaks = np.append(self.peaks, value - self.initial)
            self.n += 1.0
            if len(self.peaks) > self.config.max_peaks:
                # Dropping the oldest peak and scaling n keeps the estimated tail ratio N_t / n.
                self.n *= (len(self.peaks) - 1) / len(self.peaks)
                self.peaks = self.peaks[1:]
            if self._refit() is None and self.method == "empirical":
                self.method, self.note = "pot", None
        else:
            self.n += 1.0
        if adaptation == "dspot":
            self._recent.append(score)
        return False

    def run(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step through ``scores``: the threshold in force at each step and the alarms."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.config.adaptation == "none":
            if not self.fitted:
                raise RuntimeError("threshold is not calibrated: call fit() first")
            with np.errstate(invalid="ignore"):
                alarms = np.isfinite(scores) & (scores > self.z)
            return np.full(len(scores), self.z), alarms
        thresholds = np.empty(len(scores))
        alarms = np.zeros(len(scores), dtype=bool)
        for i, score in enumerate(scores):
            thresholds[i] = self.threshold
            alarms[i] = self.step(float(score))
        return thresholds, alarms

    def copy(self) -> Spot:
        return copy.deepcopy(self)

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "config": self.config.to_json(),
            "initial": self.initial,
            "threshold": self.z,
            "n": self.n,
            "peaks": self.peaks.tolist(),
            "gpd": None
            if self.gpd is None
            else {"shape": self.gpd.shape, "scale": self.gpd.scale, "log_likelihood": self.gpd.log_likelihood},
            "method": self.method,
            "note": self.note,
            "calibration_size": self.calibration_size,
            "recent": list(self._recent),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Spot:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"threshold state format {state.get('format')!r}, expected {STATE_FORMAT}")
        spot = cls(ThresholdConfig.from_json(state["config"]))
        spot.initial = float(state["initial"])
        spot.z = float(state["threshold"])
        spot.n = float(state["n"])
        spot.peaks = np.asarray(state["peaks"], dtype=np.float64)
        gpd = state["gpd"]
        spot.gpd = (
            None if gpd is None else GPDFit(float(gpd["shape"]), float(gpd["scale"]), float(gpd["log_likelihood"]))
        )
        spot.method = state["method"]
        spot.note = state["note"]
        spot.calibration_size = int(state["calibration_size"])
        spot._recent.extend(float(v) for v in state["recent"])
        return spot

    def __repr__(self) -> str:
        return (
            f"Spot(threshold={self.threshold:.6g}, method={self.method!r}, "
            f"adaptation={self.config.adaptation!r}, peaks={len(self.peaks)}, n={self.n:.0f})"
        )
