from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._flow import PlanarFlow

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_prob(value: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Element-wise ``log N(value; mean, std²)``."""
    return -((value - mean) ** 2) / (2.0 * std**2) - torch.log(std) - _HALF_LOG_2PI


class OmniAnomalyNetwork(nn.Module):
    """OmniAnomaly's stochastic recurrent model: GRU + VAE, linked latents, planar flow.

    Inference (qnet): a GRU summarises ``x_{1:t}`` as ``e_t``; ``q(z_t | z_{t−1}, e_t)`` is a
    Gaussian from a dense layer over ``[e_t, z_{t−1}]`` (the stochastic variable connection),
    then a planar normalising flow makes the posterior non-Gaussian. The recurrence feeds the
    pre-flow sample forward, so the flow runs once over the whole sequence instead of inside
    the sequential loop. Generation (pnet): a linear Gaussian transition prior
    ``p(z_t | z_{t−1}) = N(A z_{t−1} + c, diag σ_z²)``, a GRU over ``z_{1:t}`` and a dense layer
    giving ``p(x_t | z_{≤t}) = N(μ_t, diag σ_t²)`` with ``σ_t >= min_std``.
    """

    def __init__(self, n_features: int, hidden: int, dense: int, latent: int, flows: int, min_std: float) -> None:
        super().__init__()
        self.latent = latent
        self.min_std = min_std
        self.q_rnn = nn.GRU(n_features, hidden, batch_first=True)
        self.q_from_rnn = nn.Linear(hidden, dense)
        self.q_from_latent = nn.Linear(latent, dense, bias=False)
        self.q_mean = nn.Linear(dense, latent)
        self.q_std = nn.Linear(dense, latent)
        self.flow = PlanarFlow(latent, flows)
        self.transition = nn.Linear(latent, latent)
        self.transition_log_std = nn.Parameter(torch.zeros(latent))
        self.p_rnn = nn.GRU(latent, hidden, batch_first=True)
        self.p_dense = nn.Sequential(nn.Linear(hidden, dense), nn.ReLU())
        self.x_mean = nn.Linear(dense, n_features)
        self.x_std = nn.Linear(dense, n_features)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-element ``log p(x_t | z_{≤t})`` ``[N, T, C]`` and per-step ``log p(z_t|z_{t−1}) − log q(z_t)``
        ``[N, T]``, for one posterior sample per row drawn with ``noise[N, T, latent]`` (standard normal).

        ``x`` may hold fewer rows than ``noise``: then ``noise.shape[0]`` is a multiple of it
        and each window is scored once per block of noise (Monte-Carlo samples).
        """
        summary = self.q_from_rnn(self.q_rnn(x)[0])
        samples = noise.shape[0] // x.shape[0]
        if samples > 1:
            summary = summary.repeat(samples, 1, 1)
            x = x.repeat(samples, 1, 1)
        # Only what the recurrence needs stays in the per-step loop; densities run once per sequence.
        previous = noise.new_zeros(noise.shape[0], self.latent)
        means, stds, samples_z0 = [], [], []
        for t in range(x.shape[1]):
            hidden = F.relu(summary[:, t] + self.q_from_latent(previous))
            mean, std = self.q_mean(hidden), F.softplus(self.q_std(hidden)) + 1e-4
            previous = mean + std * noise[:, t]
            means.append(mean)
            stds.append(std)
            samples_z0.append(previous)
        z0 = torch.stack(samples_z0, dim=1)
        z, log_det = self.flow(z0)
        log_q0 = gaussian_log_prob(z0, torch.stack(means, dim=1), torch.stack(stds, dim=1))
        log_posterior = log_q0.sum(dim=-1) - log_det

        shifted = torch.cat([z.new_zeros(z.shape[0], 1, self.latent), z[:, :-1]], dim=1)
        log_prior = gaussian_log_prob(z, self.transition(shifted), self.transition_log_std.exp()).sum(dim=-1)

        decoded = self.p_dense(self.p_rnn(z)[0])
        x_std = F.softplus(self.x_std(decoded)) + self.min_std
        return gaussian_log_prob(x, self.x_mean(decoded), x_std), log_prior - log_posterior
