"""``usad``: the two adversarial training phases and the score formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamproc_plugins.usad import USADDetector

from streamproc.detection import sliding_windows


def _series(steps: int = 400, features: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return (np.sin(t / 6.0 + np.arange(features)) + 0.05 * rng.standard_normal((steps, features))).astype(np.float32)


@pytest.fixture()
def detector() -> USADDetector:
    detector = USADDetector(window=4, latent=3, epochs=2, batch_size=32, device="cpu", validation_tail=0.0)
    detector.fit(_series())
    return detector


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def _parameters(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=False))


def _batch(seed: int = 1) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(sliding_windows(_series(80, seed=seed), 4)))


@pytest.mark.parametrize("epoch", [1, 2, 5])
def test_phase_one_minimises_the_epoch_weighted_ae1_loss_and_leaves_decoder2(
    detector: USADDetector, epoch: int
) -> None:
    net = detector.module
    flat = net.inputs(_batch())
    weight = 1.0 / epoch
    with torch.no_grad():
        w1 = net.ae1(flat)
        expected = weight * _mse(flat, w1) + (1 - weight) * _mse(flat, net.ae2(w1))
    optimizer1, _ = detector._make_optimizers(net)
    encoder, decoder1, decoder2 = (_parameters(m) for m in (net.encoder, net.decoder1, net.decoder2))
    assert detector._phase_one(flat, weight, optimizer1) == pytest.approx(expected, rel=1e-5)
    assert _changed(encoder, net.encoder) and _changed(decoder1, net.decoder1)
    assert not _changed(decoder2, net.decoder2)


@pytest.mark.parametrize("epoch", [1, 2, 5])
def test_phase_two_minimises_the_epoch_weighted_ae2_loss_and_leaves_decoder1(
    detector: USADDetector, epoch: int
) -> None:
    net = detector.module
    flat = net.inputs(_batch())
    weight = 1.0 / epoch
    with torch.no_grad():
        z = net.encoder(flat)
        expected = weight * _mse(flat, net.decoder2(z)) - (1 - weight) * _mse(flat, net.ae2(net.decoder1(z)))
    _, optimizer2 = detector._make_optimizers(net)
    encoder, decoder1, decoder2 = (_parameters(m) for m in (net.encoder, net.decoder1, net.decoder2))
    assert detector._phase_two(flat, weight, optimizer2) == pytest.approx(expected, rel=1e-5)
    assert _changed(encoder, net.encoder) and _changed(decoder2, net.decoder2)
    assert not _changed(decoder1, net.decoder1)


def test_late_phase_two_steps_push_ae2_away_from_ae1_reconstructions(detector: USADDetector) -> None:
    net = detector.module
    flat = net.inputs(_batch())

    def adversarial_error() -> float:
        with torch.no_grad():
            return _mse(flat, net.ae2(net.ae1(flat)))

    before = adversarial_error()
    optimizer = torch.optim.SGD([*net.encoder.parameters(), *net.decoder2.parameters()], lr=1e-2)
    for _ in range(5):
        detector._phase_two(flat, 1.0 / 100, optimizer)
    assert adversarial_error() > before


def test_score_is_alpha_ae1_error_plus_beta_ae2_of_ae1_error(detector: USADDetector) -> None:
    windows = np.ascontiguousarray(sliding_windows(_series(60, seed=2), 4))
    net = detector.module
    with torch.inference_mode():
        flat = net.inputs(torch.from_numpy(windows))
        w1 = net.ae1(flat)
        e1 = ((flat - w1) ** 2).view(windows.shape).mean(dim=1)
        e2 = ((flat - net.ae2(w1)) ** 2).view(windows.shape).mean(dim=1)
    for alpha, beta in ((0.5, 0.5), (1.0, 0.0), (0.1, 0.9)):
        detector.alpha, detector.beta = alpha, beta
        scores, contributions = detector.score(windows)
        np.testing.assert_allclose(contributions, (alpha * e1 + beta * e2).numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(scores, contributions.sum(axis=1), rtol=1e-5)


def test_outputs_are_bounded_by_the_sigmoid(detector: USADDetector) -> None:
    with torch.inference_mode():
        out = detector.module.ae2(torch.randn(16, 12) * 50)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("config", [{"latent": 0}, {"alpha": -1.0}, {"alpha": 0.0, "beta": 0.0}])
def test_bad_config_is_rejected(config) -> None:
    with pytest.raises(ValueError):
        USADDetector(**config)
