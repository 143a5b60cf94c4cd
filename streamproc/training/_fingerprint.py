"""A fingerprint of training data: changes whenever the values or the shape change."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def data_fingerprint(train: np.ndarray) -> dict[str, Any]:
    """``{"sha256", "shape"}`` of ``train`` as float32 (the dtype every detector trains on)."""
    array = np.ascontiguousarray(train, dtype=np.float32)
    digest = hashlib.sha256()
    digest.update(repr(tuple(array.shape)).encode())
    digest.update(array.tobytes())
    return {"sha256": digest.hexdigest(), "shape": list(array.shape)}
