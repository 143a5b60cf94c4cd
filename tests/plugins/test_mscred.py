"""``mscred``: signature matrices, the attentive ConvLSTM, shapes and the residual score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamproc_plugins.mscred import MSCREDDetector
from streamproc_plugins.mscred._network import AttentiveConvLSTM, MSCREDNetwork
from streamproc_plugins.mscred._signature import signature_matrices, signature_span

from streamproc.detection import sliding_windows


def _naive_signatures(window: np.ndarray, steps: int, gap: int, scales: list[int]) -> np.ndarray:
    length, features = window.shape
    out = np.zeros((steps, len(scales), features, features))
    for k in range(steps):
        end = length - 1 - (steps - 1 - k) * gap
        for s, w in enumerate(scales):
            for i in range(features):
                for j in range(features):
                    out[k, s, i, j] = sum(window[end - d, i] * window[end - d, j] for d in range(w)) / w
    return out


def test_signature_matrices_equal_the_naive_loop() -> None:
    rng = np.random.default_rng(0)
    windows = rng.standard_normal((3, 20, 4))
    steps, gap, scales = 3, 4, [3, 6, 10]
    assert signature_span(steps, gap, scales) == 18
    fast = signature_matrices(torch.from_numpy(windows), steps, gap, scales).numpy()
    assert fast.shape == (3, steps, len(scales), 4, 4)
    for b in range(3):
        np.testing.assert_allclose(fast[b], _naive_signatures(windows[b], steps, gap, scales), rtol=1e-12)


def test_attention_weighs_steps_by_similarity_to_the_last_state() -> None:
    torch.manual_seed(0)
    memory = AttentiveConvLSTM(channels=2, rescale=5.0).eval()
    sequence = torch.randn(2, 4, 2, 3, 3)
    with torch.no_grad():
        out = memory(sequence)
        # rerun the recurrence by hand to get every hidden state
        hidden, cell, states = torch.zeros(2, 2, 3, 3), torch.zeros(2, 2, 3, 3), []
        for k in range(4):
            i, f, o, g = (memory.input_gates(sequence[:, k]) + memory.hidden_gates(hidden)).chunk(4, dim=1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            hidden = torch.sigmoid(o) * torch.tanh(cell)
            states.append(hidden)
        weights = torch.softmax(torch.stack([(h * hidden).sum(dim=(1, 2, 3)) / 5.0 for h in states], dim=1), dim=1)
        expected = sum(weights[:, k, None, None, None] * states[k] for k in range(4))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("features", [2, 5, 7, 25])
def test_reconstruction_has_the_shape_of_the_matrices_for_any_feature_count(features: int) -> None:
    net = MSCREDNetwork(scales=3, filters=2, rescale=5.0)
    with torch.no_grad():
        out = net(torch.randn(2, 4, 3, features, features))
    assert out.shape == (2, 3, features, features)


def test_contributions_are_row_sums_of_squared_residuals() -> None:
    rng = np.random.default_rng(1)
    train = rng.standard_normal((200, 3)).astype(np.float32)
    detector = MSCREDDetector(
        window=12, scales=[3, 6], steps=3, gap=3, filters=2, epochs=1, device="cpu", validation_tail=0.0, train_stride=2
    )
    detector.fit(train)
    windows = np.ascontiguousarray(sliding_windows(rng.standard_normal((40, 3)).astype(np.float32), 12))
    with torch.inference_mode():
        tensor = torch.from_numpy(windows)
        matrices = signature_matrices(tensor, 3, 3, [3, 6])
        residual = matrices[:, -1] - detector.module(matrices)
    scores, contributions = detector.score(windows)
    np.testing.assert_allclose(contributions, (residual**2).sum(dim=(1, 3)).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scores, contributions.sum(axis=1), rtol=1e-5)


def test_window_must_cover_the_signature_span() -> None:
    with pytest.raises(ValueError, match="window 90"):
        MSCREDDetector(window=90, scales=[10, 30, 60], steps=5, gap=10)
    assert MSCREDDetector(window=100).config["scales"] == [10, 30, 60]


@pytest.mark.parametrize("config", [{"scales": []}, {"scales": [1, 4]}, {"filters": 0}, {"rescale": 0.0}])
def test_bad_config_is_rejected(config) -> None:
    with pytest.raises(ValueError):
        MSCREDDetector(**config)
