from __future__ import annotations

from collections.abc import Sequence

import torch


def signature_span(steps: int, gap: int, scales: Sequence[int]) -> int:
    """How many trailing time steps of a window the signature matrices read."""
    return (steps - 1) * gap + max(scales)


def signature_matrices(windows: torch.Tensor, steps: int, gap: int, scales: Sequence[int]) -> torch.Tensor:
    """MSCRED's multi-scale signature matrices of ``windows[B, W, C]``: ``[B, steps, len(scales), C, C]``.

    For a segment length ``w`` ending at step ``t``, ``M_ij = Σ_{δ<w} x_i(t−δ)·x_j(t−δ) / w``:
    the pairwise inner products of the features over the segment. Segments end every ``gap``
    steps, the last at the window's last step. All windows and steps of one scale are one
    ``einsum`` over an unfolded view (no copies, no Python loop over windows).
    """
    per_scale = []
    for length in scales:
        tail = windows[:, windows.shape[1] - ((steps - 1) * gap + length) :]
        segments = tail.unfold(1, length, gap)  # [B, steps, C, length]
        per_scale.append(torch.einsum("bkit,bkjt->bkij", segments, segments) / length)
    return torch.stack(per_scale, dim=2)
