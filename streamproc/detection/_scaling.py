"""Robust, bounded feature scaling fitted on training data only.

SMAP's one-hot command flags are constant in training and change in test; a min-max or z
scaler with a tiny epsilon turns such a change into values of 10^4 that swamp every score.
We centre on the median, divide by the inter-quartile range (or the standard deviation, or 1
when both vanish) and clip to ``±clip``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np


@dataclass(frozen=True)
class RobustScaler:
    center: np.ndarray
    scale: np.ndarray
    clip: float = 10.0

    @classmethod
    def fit(cls, train: np.ndarray, clip: float = 10.0) -> RobustScaler:
        train = np.asarray(train, dtype=np.float64)
        center = np.nanmedian(train, axis=0)
        q75, q25 = np.nanpercentile(train, [75, 25], axis=0)
        scale = q75 - q25
        std = np.nanstd(train, axis=0)
        scale = np.where(scale > 1e-8, scale, np.where(std > 1e-8, std, 1.0))
        return cls(center.astype(np.float32), scale.astype(np.float32), float(clip))

    def transform(self, values: np.ndarray) -> np.ndarray:
        scaled = (np.asarray(values, dtype=np.float32) - self.center) / self.scale
        return cast(np.ndarray, np.clip(scaled, -self.clip, self.clip, out=scaled))

    def to_json(self) -> dict[str, Any]:
        return {"center": self.center.tolist(), "scale": self.scale.tolist(), "clip": self.clip}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RobustScaler:
        return cls(np.asarray(data["center"], np.float32), np.asarray(data["scale"], np.float32), float(data["clip"]))
