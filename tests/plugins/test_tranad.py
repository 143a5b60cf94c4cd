"""``tranad``: focus-score self-conditioning, the two adversarial phases and the score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamproc_plugins.tranad import TranADDetector

from streamproc.detection import sliding_windows


def _series(steps: int = 300, features: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return (np.sin(t / 6.0 + np.arange(features)) + 0.05 * rng.standard_normal((steps, features))).astype(np.float32)


@pytest.fixture()
def detector() -> TranADDetector:
    detector = TranADDetector(
        window=6, d_model=8, heads=2, feedforward=16, epochs=1, batch_size=64, device="cpu", validation_tail=0.0
    )
    detector.fit(_series())
    return detector


def _scaled(detector: TranADDetector, seed: int = 1) -> torch.Tensor:
    windows = torch.from_numpy(np.ascontiguousarray(sliding_windows(_series(60, seed=seed), detector.window)))
    return detector.module.feature_range(windows)


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def _snapshot(*modules: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def _changed(before: list[torch.Tensor], *modules: torch.nn.Module) -> bool:
    after = [p for m in modules for p in m.parameters()]
    return any(not torch.equal(b, a) for b, a in zip(before, after, strict=False))


def test_phase_two_decodes_with_the_phase_one_error_as_focus(detector: TranADDetector) -> None:
    net = detector.module
    scaled = _scaled(detector)
    with torch.inference_mode():
        output1, output2, focused2 = net(scaled)
        query = net.query(scaled)
        torch.testing.assert_close(output1, net.decode1(query, net.encode(scaled, torch.zeros_like(scaled))))
        torch.testing.assert_close(output2, net.decode2(query, net.encode(scaled, torch.zeros_like(scaled))))
        torch.testing.assert_close(focused2, net.decode2(query, net.encode(scaled, (output1 - scaled) ** 2)))
        assert not torch.allclose(focused2, output2)


def test_optimisers_split_decoder2_from_the_rest(detector: TranADDetector) -> None:
    net = detector.module
    first, second = detector._make_optimizers(net)
    own = {id(p) for group in second.param_groups for p in group["params"]}
    rest = {id(p) for group in first.param_groups for p in group["params"]}
    assert own == {id(p) for m in (net.decoder2, net.output2) for p in m.parameters()}
    assert own.isdisjoint(rest) and own | rest == {id(p) for p in net.parameters()}


@pytest.mark.parametrize("epoch", [1, 3])
def test_phase_losses_are_the_epoch_weighted_paper_losses(detector: TranADDetector, epoch: int) -> None:
    net = detector.module
    net.eval()  # no dropout, so the expected values are those the phase computes
    scaled = _scaled(detector)
    weight = 1.0 / epoch
    first, second = detector._make_optimizers(net)
    with torch.no_grad():
        output1, _, focused2 = net(scaled)
    expected1 = weight * _mse(scaled, output1) + (1 - weight) * _mse(scaled, focused2)
    before_two = _snapshot(net.decoder2, net.output2)
    before_one = _snapshot(net.encoder, net.decoder1, net.output1)
    assert detector._phase_one(scaled, weight, first) == pytest.approx(expected1, rel=1e-5)
    assert _changed(before_one, net.encoder, net.decoder1, net.output1)
    assert not _changed(before_two, net.decoder2, net.output2)

    with torch.no_grad():
        _, output2, focused2 = net(scaled)
    expected2 = weight * _mse(scaled, output2) - (1 - weight) * _mse(scaled, focused2)
    before_one = _snapshot(net.encoder, net.decoder1, net.output1)
    assert detector._phase_two(scaled, weight, second) == pytest.approx(expected2, rel=1e-5)
    assert not _changed(before_one, net.encoder, net.decoder1, net.output1)
    assert _changed(before_two, net.decoder2, net.output2)


def test_score_is_half_of_each_phase_error_at_the_last_step(detector: TranADDetector) -> None:
    windows = np.ascontiguousarray(sliding_windows(_series(60, seed=2), detector.window))
    net = detector.module
    with torch.inference_mode():
        scaled = net.feature_range(torch.from_numpy(windows))
        output1, _, focused2 = net(scaled)
        expected = 0.5 * (output1[:, -1] - scaled[:, -1]) ** 2 + 0.5 * (focused2[:, -1] - scaled[:, -1]) ** 2
    scores, contributions = detector.score(windows)
    np.testing.assert_allclose(contributions, expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scores, contributions.sum(axis=1), rtol=1e-5)


def test_the_window_encoder_is_causal(detector: TranADDetector) -> None:
    scaled = _scaled(detector)[:4]
    changed = scaled.clone()
    changed[:, -1] += 1.0
    with torch.inference_mode():
        before, after = detector.module.query(scaled), detector.module.query(changed)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])
    assert not torch.allclose(before[:, -1], after[:, -1])


@pytest.mark.parametrize("config", [{"d_model": 10, "heads": 4}, {"layers": 0}, {"dropout": 1.0}])
def test_bad_config_is_rejected(config) -> None:
    with pytest.raises(ValueError):
        TranADDetector(**config)
