from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PlanarFlow(nn.Module):
    """A stack of planar flows ``f(z) = z + û·tanh(wᵀz + b)`` (Rezende & Mohamed, 2015).

    ``û`` is ``u`` adjusted so that ``wᵀû >= -1``, which keeps every layer invertible.
    ``forward`` maps ``z[..., D]`` to ``f_K(...f_1(z))`` and returns the summed
    ``log|det ∂f_k/∂z|`` of the layers (shape ``z.shape[:-1]``).
    """

    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.randn(layers, dim) * 0.01)
        self.w = nn.Parameter(torch.randn(layers, dim) * 0.01)
        self.b = nn.Parameter(torch.zeros(layers))

    def _invertible_u(self) -> torch.Tensor:
        wu = (self.w * self.u).sum(dim=1, keepdim=True)
        norm = (self.w**2).sum(dim=1, keepdim=True).clamp_min(1e-12)
        return self.u + (F.softplus(wu) - 1.0 - wu) * self.w / norm

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self._invertible_u()
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for k in range(self.u.shape[0]):
            activation = torch.tanh(z @ self.w[k] + self.b[k])
            # det(I + u ψᵀ) = 1 + ψᵀu with ψ = tanh'(wᵀz + b)·w
            log_det = log_det + torch.log((1.0 + (1.0 - activation**2) * (self.w[k] @ u[k])).abs() + 1e-12)
            z = z + activation[..., None] * u[k]
        return z, log_det
