"""The shared torch plumbing: devices, array artifacts, the training loop, chunked scoring."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
import torch
from torch import nn

from streamproc.detection import (
    DeviceError,
    FeatureRange,
    TorchDetector,
    TrainStep,
    module_arrays,
    resolve_device,
    restore_module,
    sliding_windows,
    window_tensor,
)
from streamproc.errors import StreamprocError


class _LinearAutoencoder(TorchDetector):
    """A linear autoencoder of flattened windows: the smallest model that learns something."""

    name = "linear_autoencoder"

    def __init__(
        self,
        *,
        window: int = 4,
        epochs: int = 5,
        batch_size: int = 16,
        learning_rate: float = 1e-2,
        patience: int = 2,
        validation_tail: float = 0.0,
        max_train_windows: int = 10_000,
        train_stride: int = 1,
        score_batch_size: int = 1024,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        super().__init__(
            window=window,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            validation_tail=validation_tail,
            max_train_windows=max_train_windows,
            train_stride=train_stride,
            score_batch_size=score_batch_size,
            device=device,
            seed=seed,
        )
        self.batches_seen: list[int] = []

    def _build_module(self, n_features: int) -> nn.Module:
        size = self.window * n_features
        return nn.Sequential(nn.Flatten(), nn.Linear(size, 2), nn.Linear(2, size))

    def _errors(self, windows: torch.Tensor) -> torch.Tensor:
        return ((self.module(windows).view_as(windows) - windows) ** 2).mean(dim=1)

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        self.batches_seen.append(len(batch))
        loss = self._errors(batch).mean()
        (optimizer,) = step.optimizers
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        errors = self._errors(windows)
        return errors.sum(dim=1), errors


def _series(steps: int = 300, features: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    return (np.sin(t / 7.0 + np.arange(features)) + 0.1 * rng.standard_normal((steps, features))).astype(np.float32)


def test_auto_device_is_the_cpu_without_cuda_and_cuda_must_exist() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(StreamprocError, match="cuda"):
            resolve_device("cuda")


def test_unknown_device_in_config_is_rejected_at_construction() -> None:
    with pytest.raises(DeviceError, match="device"):
        _LinearAutoencoder(device="gpu0")


def test_state_dict_round_trips_through_plain_arrays() -> None:
    torch.manual_seed(0)
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    arrays = module_arrays(source, prefix="net.")
    assert set(arrays) == {"net.weight", "net.bias"}
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    restore_module(target, arrays, prefix="net.")
    torch.testing.assert_close(target.weight, source.weight)
    with pytest.raises(RuntimeError):
        restore_module(nn.Linear(4, 2), arrays, prefix="net.")


def test_window_tensor_matches_sliding_windows() -> None:
    series = _series(20, 3)
    np.testing.assert_array_equal(window_tensor(series, 5).numpy(), sliding_windows(series, 5))


def test_feature_range_maps_training_range_onto_unit_interval() -> None:
    train = np.array([[0.0, 5.0], [4.0, 5.0]], np.float32)
    scaler = FeatureRange(2, min_span=1.0)
    scaler.fit(train)
    out = scaler(torch.tensor([[2.0, 5.0], [6.0, 7.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.0], [1.5, 2.0]]))  # constant feature: unit span


def test_fit_is_seeded_and_leaves_the_global_rng_alone() -> None:
    train = _series()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = _LinearAutoencoder(seed=4)
    first.fit(train)
    after = torch.rand(3)
    torch.testing.assert_close(before, after)
    second = _LinearAutoencoder(seed=4)
    second.fit(train)
    windows = sliding_windows(train, 4)[:50]
    np.testing.assert_array_equal(first.score(windows).scores, second.score(windows).scores)
    other_seed = _LinearAutoencoder(seed=5)
    other_seed.fit(train)
    assert not np.allclose(first.score(windows).scores, other_seed.score(windows).scores)


def test_progress_reports_every_epoch_and_the_history_is_the_training_loss() -> None:
    calls = []
    report = _LinearAutoencoder(epochs=4).fit(_series(), progress=lambda s, t, v: calls.append((s, t, dict(v))))
    assert [(s, t) for s, t, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [v["loss"] for _, _, v in calls] == report.history
    assert report.epochs == 4 and report.validation_loss is None
    assert report.history[-1] < report.history[0]


def test_early_stopping_on_the_validation_argument_keeps_the_best_weights() -> None:
    train = _series()
    calls = []
    detector = _LinearAutoencoder(epochs=50, patience=2, learning_rate=0.5)  # too large: the loss oscillates
    report = detector.fit(train[:240], validation=train[237:], progress=lambda s, t, v: calls.append(v["val_loss"]))
    assert report.epochs < 50
    assert report.validation_loss == min(calls)
    best_epoch = calls.index(min(calls))
    assert len(calls) == best_epoch + 1 + 2  # stopped after `patience` epochs without progress
    held_out = window_tensor(train[237:], 4)
    with torch.inference_mode():
        assert detector._held_out_loss(held_out) == pytest.approx(min(calls), rel=1e-6)


def test_validation_tail_is_held_out_of_training() -> None:
    detector = _LinearAutoencoder(epochs=1, batch_size=1000, validation_tail=0.2)
    report = detector.fit(_series(300))
    assert report.train_windows == 240 - 4 + 1
    assert report.validation_loss is not None


def test_training_windows_are_strided_then_capped() -> None:
    detector = _LinearAutoencoder(epochs=1, batch_size=7, train_stride=3, max_train_windows=40)
    report = detector.fit(_series(300))
    assert report.train_windows == 40
    assert sum(detector.batches_seen) == 40 and max(detector.batches_seen) == 7
    assert _LinearAutoencoder(epochs=1, train_stride=3).fit(_series(300)).train_windows == len(range(0, 297, 3))


def test_scoring_in_chunks_equals_scoring_at_once() -> None:
    train = _series()
    whole = _LinearAutoencoder(score_batch_size=10_000)
    whole.fit(train)
    chunked = _LinearAutoencoder(score_batch_size=7)
    chunked.fit(train)
    windows = sliding_windows(_series(100, seed=1), 4)
    np.testing.assert_allclose(chunked.score(windows).scores, whole.score(windows).scores, rtol=1e-6)


def test_save_and_load_restore_the_module(tmp_path) -> None:
    detector = _LinearAutoencoder()
    detector.fit(_series())
    detector.save(tmp_path)
    loaded = _LinearAutoencoder.load(tmp_path)
    windows = sliding_windows(_series(60, seed=2), 4)
    np.testing.assert_array_equal(loaded.score(windows).scores, detector.score(windows).scores)
    assert not loaded.module.training


def test_use_device_moves_a_loaded_model_and_checks_the_device(tmp_path) -> None:
    detector = _LinearAutoencoder()
    detector.fit(_series())
    detector.save(tmp_path)
    loaded = _LinearAutoencoder.load(tmp_path)
    loaded.use_device("cpu")
    assert loaded.device == "cpu" and next(loaded.module.parameters()).device.type == "cpu"
    windows = sliding_windows(_series(60, seed=2), 4)
    np.testing.assert_array_equal(loaded.score(windows).scores, detector.score(windows).scores)
    with pytest.raises(DeviceError, match="device"):
        loaded.use_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="cuda"):
            loaded.use_device("cuda")


@pytest.mark.parametrize(
    "key, value",
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("patience", 0),
        ("learning_rate", 0.0),
        ("validation_tail", 0.5),
        ("train_stride", 0),
    ],
)
def test_bad_training_settings_are_rejected(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=key):
        _LinearAutoencoder(**{key: value})
