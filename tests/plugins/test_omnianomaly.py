"""``omnianomaly``: planar flow, the stochastic recurrence and the reconstruction-probability score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from streamproc_plugins.omnianomaly import OmniAnomalyDetector
from streamproc_plugins.omnianomaly._flow import PlanarFlow
from streamproc_plugins.omnianomaly._network import OmniAnomalyNetwork, gaussian_log_prob

from streamproc.detection import sliding_windows


def _series(steps: int = 300, features: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return (np.sin(t / 6.0 + np.arange(features)) + 0.05 * rng.standard_normal((steps, features))).astype(np.float32)


@pytest.fixture(scope="module")
def detector() -> OmniAnomalyDetector:
    detector = OmniAnomalyDetector(
        window=8,
        hidden=8,
        dense=8,
        latent=2,
        flows=3,
        samples=3,
        epochs=1,
        batch_size=64,
        device="cpu",
        validation_tail=0.0,
    )
    detector.fit(_series())
    return detector


def _flow(dim: int = 3, layers: int = 4) -> PlanarFlow:
    torch.manual_seed(0)
    flow = PlanarFlow(dim, layers).double()
    with torch.no_grad():  # larger parameters than the initial ones, so the layers really bend space
        for parameter in flow.parameters():
            parameter.normal_(0.0, 1.0)
    return flow


def test_planar_flow_log_det_matches_the_autograd_jacobian() -> None:
    flow = _flow()
    for z in torch.randn(5, 3, dtype=torch.float64):
        jacobian = torch.autograd.functional.jacobian(lambda v: flow(v)[0], z)
        expected = torch.linalg.slogdet(jacobian).logabsdet
        assert flow(z)[1].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


def test_planar_flow_stays_invertible() -> None:
    flow = _flow(layers=8)
    u = flow._invertible_u()
    assert ((flow.w * u).sum(dim=1) >= -1.0 - 1e-12).all()
    jacobians = [torch.autograd.functional.jacobian(lambda v: flow(v)[0], z) for z in torch.randn(20, 3).double()]
    assert all(torch.linalg.det(j).item() > 0 for j in jacobians)


def test_flow_batches_over_leading_dimensions() -> None:
    flow = _flow()
    z = torch.randn(4, 5, 3, dtype=torch.float64)
    out, log_det = flow(z)
    assert out.shape == z.shape and log_det.shape == (4, 5)
    single, single_log_det = flow(z[2, 3])
    torch.testing.assert_close(out[2, 3], single)
    torch.testing.assert_close(log_det[2, 3], single_log_det)


def test_gaussian_log_prob_matches_torch_distributions() -> None:
    value, mean, std = torch.randn(10), torch.randn(10), torch.rand(10) + 0.1
    expected = torch.distributions.Normal(mean, std).log_prob(value)
    torch.testing.assert_close(gaussian_log_prob(value, mean, std), expected)


def test_posterior_of_a_step_depends_on_the_previous_latent() -> None:
    """The stochastic variable connection: noise at step t moves the posterior of step t+1."""
    torch.manual_seed(0)
    net = OmniAnomalyNetwork(n_features=3, hidden=8, dense=8, latent=2, flows=2, min_std=0.1).eval()
    x = torch.randn(1, 6, 3)
    noise = torch.randn(1, 6, 2)
    moved = noise.clone()
    moved[0, 2] += 3.0
    with torch.no_grad():
        _, base = net(x, noise)
        _, other = net(x, moved)
        # Steps before the change are untouched. Step 3's prior reads z_2 directly; from step 4
        # on, only the posterior's recurrence carries the change forward.
        torch.testing.assert_close(base[0, :2], other[0, :2])
        assert not torch.allclose(base[0, 4:], other[0, 4:])
        net.q_from_latent.weight.zero_()  # cut the connection
        _, cut_base = net(x, noise)
        _, cut_other = net(x, moved)
        torch.testing.assert_close(cut_base[0, 4:], cut_other[0, 4:])


def test_score_is_the_monte_carlo_negative_reconstruction_log_likelihood(detector: OmniAnomalyDetector) -> None:
    windows = np.ascontiguousarray(sliding_windows(_series(40, seed=3), 8))
    noise = detector._scoring_noise(torch.device("cpu"))
    net = detector.module
    per_sample = []
    with torch.inference_mode():
        for s in range(detector.samples):
            rows = noise[s : s + 1].expand(len(windows), -1, -1)
            log_px, _ = net(torch.from_numpy(windows), rows)
            per_sample.append(-log_px[:, -1])
    nll = torch.stack(per_sample).mean(dim=0)
    floor = math.log(detector.min_std) + 0.5 * math.log(2 * math.pi)
    scores, contributions = detector.score(windows)
    np.testing.assert_allclose(contributions, (nll - floor).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, contributions.sum(axis=1), rtol=1e-5)
    assert (contributions >= 0).all()


def test_scoring_noise_is_fixed_by_the_seed_and_several_samples_count(detector: OmniAnomalyDetector) -> None:
    windows = np.ascontiguousarray(sliding_windows(_series(40, seed=3), 8))
    first = detector.score(windows).scores
    np.testing.assert_array_equal(detector.score(windows).scores, first)
    detector.samples, detector._noise = 1, None
    try:
        assert not np.allclose(detector.score(windows).scores, first)
    finally:
        detector.samples, detector._noise = 3, None


@pytest.mark.parametrize("config", [{"latent": 0}, {"flows": -1}, {"min_std": 0.0}, {"samples": 0}])
def test_bad_config_is_rejected(config) -> None:
    with pytest.raises(ValueError):
        OmniAnomalyDetector(**config)
