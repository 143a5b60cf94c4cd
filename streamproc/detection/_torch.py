"""Shared plumbing for detectors backed by a torch module.

:class:`TorchDetector` owns what every neural detector needs and none should re-implement:
device choice, seeding that leaves the caller's global RNG untouched, a shuffled mini-batch
training loop with progress reports and early stopping on a validation tail, chunked
inference under ``torch.inference_mode``, and artifacts that store the ``state_dict`` as
plain arrays (never ``torch.save``/pickle). A subclass supplies the model and its losses.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from streamproc.errors import StreamprocError

from ._base import Detector, FitReport, ProgressCallback

DEVICES = ("auto", "cpu", "cuda")

# An epoch must lower the validation loss by this share of its best value to count as progress.
_RELATIVE_IMPROVEMENT = 1e-4


class DeviceError(StreamprocError, ValueError):
    """The configured ``device`` is unknown or not present on this machine."""


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; ``"cuda"`` fails loudly without a GPU."""
    if device not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' was asked for but torch sees no CUDA device")
    return torch.device(device)


def module_arrays(module: nn.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's ``state_dict`` as named numpy arrays (keys prefixed with ``prefix``)."""
    return {prefix + key: value.detach().cpu().numpy().copy() for key, value in module.state_dict().items()}


def restore_module(module: nn.Module, arrays: Mapping[str, np.ndarray], prefix: str = "") -> None:
    """Load arrays written by :func:`module_arrays` into ``module``; every key must match."""
    state = {
        key[len(prefix) :]: torch.from_numpy(np.array(value)) for key, value in arrays.items() if key.startswith(prefix)
    }
    module.load_state_dict(state, strict=True)


def window_tensor(series: np.ndarray, window: int) -> torch.Tensor:
    """All windows ``[N, window, C]`` of ``series[T, C]`` as a float32 CPU tensor view."""
    steps = torch.from_numpy(np.ascontiguousarray(series, dtype=np.float32))
    return steps.unfold(0, window, 1).transpose(1, 2)


class FeatureRange(nn.Module):
    """Maps each feature's training ``[min, max]`` onto ``[0, 1]``; values outside map outside.

    Models whose outputs are squashed into ``[0, 1]`` (as in USAD and TranAD) need it. The
    span is floored at ``min_span`` so that features constant in training (in units of the
    robust scaler) are not divided by zero. Buffers, so the range is saved with the weights.
    """

    # The buffers registered in __init__, typed (nn.Module's __getattr__ gives Tensor | Module).
    low: torch.Tensor
    span: torch.Tensor

    def __init__(self, n_features: int, min_span: float = 1.0) -> None:
        super().__init__()
        self.min_span = float(min_span)
        self.register_buffer("low", torch.zeros(n_features))
        self.register_buffer("span", torch.ones(n_features))

    def fit(self, train: np.ndarray) -> None:
        low, high = train.min(axis=0), train.max(axis=0)
        self.low.copy_(torch.from_numpy(low))
        self.span.copy_(torch.from_numpy(np.maximum(high - low, self.min_span)))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.low) / self.span


@dataclass(frozen=True)
class TrainStep:
    """What a training step may need beyond its batch.

    ``epoch`` counts from 1 (the 1/n schedules of USAD and TranAD use it as is);
    ``generator`` lives on the training device and is the only source of sampling noise.
    """

    epoch: int
    epochs: int
    optimizers: Sequence[torch.optim.Optimizer]
    generator: torch.Generator


class TorchDetector(Detector):
    """A detector whose learned state is one ``torch.nn.Module`` (``self.module``).

    Training settings shared by every subclass, all part of the saved config:

    - ``epochs``, ``batch_size``, ``learning_rate`` (Adam unless ``_make_optimizers`` says otherwise);
    - ``patience``: stop after this many epochs without a lower validation loss, and keep the
      best weights; early stopping needs validation data: the ``validation`` argument of
      ``fit`` when given, else the last ``validation_tail`` share of the training series;
    - ``max_train_windows`` and ``train_stride``: windows are taken every ``train_stride``
      steps (held-out windows too) and, if more than ``max_train_windows`` remain, a seeded
      random subset is kept;
    - ``score_batch_size``: scoring runs in chunks of this many windows, whatever the batch;
    - ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"``; ``seed``: fixes initialisation,
      shuffling and sampling noise without touching the caller's global RNG state.

    ``fit`` reports each epoch's mean training losses to ``progress`` (with ``val_loss`` when
    there is validation data); its report's ``history`` is the training loss per epoch and
    ``validation_loss`` the best held-out loss, whose weights are the ones kept.

    Subclasses implement ``_build_module``, ``_train_step`` and ``_score_tensor``.
    """

    def __init__(
        self,
        *,
        window: int,
        epochs: int,
        batch_size: int,
        learning_rate: float,
        patience: int,
        validation_tail: float,
        max_train_windows: int,
        train_stride: int,
        score_batch_size: int,
        device: str,
        seed: int,
        **model_config: Any,
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
            **model_config,
        )
        for key, value in (
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("patience", patience),
            ("max_train_windows", max_train_windows),
            ("train_stride", train_stride),
            ("score_batch_size", score_batch_size),
        ):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not 0.0 <= validation_tail < 0.5:
            raise ValueError(f"validation_tail must be in [0, 0.5), got {validation_tail}")
        if device not in DEVICES:
            raise DeviceError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.patience = int(patience)
        self.validation_tail = float(validation_tail)
        self.max_train_windows = int(max_train_windows)
        self.train_stride = int(train_stride)
        self.score_batch_size = int(score_batch_size)
        self.device = device
        self.seed = int(seed)
        self.module: nn.Module | None = None
        self._device: torch.device | None = None

    # -- what a subclass provides -------------------------------------------------------------

    @abc.abstractmethod
    def _build_module(self, n_features: int) -> nn.Module:
        """A freshly initialised model for ``n_features`` features (uses the global torch RNG)."""

    @abc.abstractmethod
    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        """One optimisation step on ``batch[B, W, C]``; returns its losses, ``"loss"`` among them."""

    @abc.abstractmethod
    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores[B], contributions[B, C])`` of ``windows[B, W, C]``, called in inference mode."""

    def _initialise(self, module: nn.Module, train: np.ndarray) -> None:
        """Set data-derived state (buffers such as a :class:`FeatureRange`) before training."""

    def _make_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(module.parameters(), lr=self.learning_rate)]

    def _validation_loss(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-window loss that early stopping minimises; by default the anomaly score itself."""
        return self._score_tensor(windows)[0]

    # -- training -----------------------------------------------------------------------------

    def _fit(
        self, train: np.ndarray, progress: ProgressCallback | None, validation: np.ndarray | None = None
    ) -> FitReport:
        started = time.perf_counter()
        device = self._device = resolve_device(self.device)
        train, validation = self._split_validation(train, validation)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.seed)
            shuffler = torch.Generator().manual_seed(self.seed)
            noise = torch.Generator(device=device).manual_seed(self.seed + 1)
            assert self.n_features is not None  # set by Detector.fit
            module = self._build_module(self.n_features)
            self._initialise(module, train)
            self.module = module = module.to(device)
            windows = window_tensor(train, self.window)
            pool = self._training_pool(len(windows), shuffler)
            held_out = None if validation is None else window_tensor(validation, self.window)[:: self.train_stride]
            optimizers = self._make_optimizers(module)
            history: list[float] = []
            best_loss, best_state, stale = math.inf, None, 0
            epochs_run = 0
            for epoch in range(1, self.epochs + 1):
                module.train()
                order = pool[torch.randperm(len(pool), generator=shuffler)]
                step = TrainStep(epoch, self.epochs, optimizers, noise)
                sums: dict[str, float] = {}
                batches = 0
                for start in range(0, len(order), self.batch_size):
                    batch = windows[order[start : start + self.batch_size]].to(device)
                    for key, value in self._train_step(batch, step).items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    batches += 1
                values = {key: total / batches for key, total in sums.items()}
                epochs_run = epoch
                history.append(values["loss"])
                if held_out is not None:
                    values["val_loss"] = self._held_out_loss(held_out)
                if progress:
                    progress(epoch, self.epochs, values)
                if held_out is None:
                    continue
                if best_state is None or values["val_loss"] < best_loss - _RELATIVE_IMPROVEMENT * abs(best_loss):
                    best_loss, stale = values["val_loss"], 0
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
            if best_state is not None:
                module.load_state_dict(best_state)
        module.eval()
        return FitReport(
            seconds=time.perf_counter() - started,
            train_windows=len(pool),
            epochs=epochs_run,
            final_loss=history[-1] if history else None,
            history=history,
            validation_loss=None if held_out is None else best_loss,
        )

    def _split_validation(
        self, train: np.ndarray, validation: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if validation is not None:  # already checked by ``Detector.fit``
            return train, (validation if len(validation) >= self.window else None)
        tail = int(len(train) * self.validation_tail)
        if tail < 1 or len(train) - tail < self.window + 1:
            return train, None
        # The held-out windows end inside the tail; their first steps may reach back into training.
        return train[:-tail], train[-(tail + self.window - 1) :]

    def _training_pool(self, n_windows: int, generator: torch.Generator) -> torch.Tensor:
        pool = torch.arange(0, n_windows, self.train_stride)
        if len(pool) > self.max_train_windows:
            keep = torch.randperm(len(pool), generator=generator)[: self.max_train_windows]
            pool = pool[keep.sort().values]
        return pool

    def _held_out_loss(self, windows: torch.Tensor) -> float:
        assert self.module is not None  # built by _fit before it validates
        self.module.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for start in range(0, len(windows), self.score_batch_size):
                losses = self._validation_loss(windows[start : start + self.score_batch_size].to(self._device))
                total += float(losses.sum())
                count += len(losses)
        return total / count

    # -- scoring and artifacts ----------------------------------------------------------------

    def _score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.module is not None  # fitted: built by _fit or _restore
        self.module.eval()
        scores, contributions = [], []
        with torch.inference_mode():
            for start in range(0, len(windows), self.score_batch_size):
                chunk = np.ascontiguousarray(windows[start : start + self.score_batch_size])
                if not chunk.flags.writeable:
                    # torch cannot share read-only memory (sliding-window views are read-only).
                    chunk = chunk.copy()
                batch_scores, batch_contributions = self._score_tensor(torch.from_numpy(chunk).to(self._device))
                scores.append(batch_scores.float().cpu().numpy())
                contributions.append(batch_contributions.float().cpu().numpy())
        return np.concatenate(scores), np.concatenate(contributions)

    def use_device(self, device: str) -> None:
        self._device = resolve_device(device)
        self.device = device
        if self.module is not None:
            self.module = self.module.to(self._device)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.module is not None  # fitted: built by _fit or _restore
        return module_arrays(self.module)

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._device = resolve_device(self.device)
        assert self.n_features is not None  # set by Detector.load
        with torch.random.fork_rng(devices=[]):  # initial weights are overwritten; spare the caller's RNG
            module = self._build_module(self.n_features)
        restore_module(module, arrays)
        self.module = module.to(self._device).eval()
