from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from streamproc.detection import TorchDetector, TrainStep, window_tensor
from streamproc.errors import StreamprocError

from ._network import StructureAwareNetwork


class StructureAwareConfigError(StreamprocError, ValueError):
    """A structure_aware setting is out of range; the message starts with the key."""


class StructureAwareDetector(TorchDetector):
    """The paper's structure-aware detector: multi-scale convolutions, structural attention,
    and joint reconstruction / next-step prediction.

    A window's score belongs to its last step, so the network reads the first ``window - 1``
    steps, reconstructs them and predicts step ``window``. Training minimises
    ``λ·L_rec + (1-λ)·L_pred`` with ``λ = rec_loss_weight``. The per-feature contribution is
    ``α·rec_err_c + (1-α)·pred_err_c`` (``α = alpha``) and the score is their sum, where
    ``pred_err_c`` is the squared error of the prediction and ``rec_err_c`` the squared
    reconstruction error averaged over the input steps with weights that halve every
    ``recency_halflife`` steps back from the end (``0``: a plain mean over the window).
    Covariates (commands, set points: inputs, never scored) are read but not learnt: the losses
    average over the scored features only. With ``known_covariates`` the network also reads the
    scored step's covariates, its scored values hidden: a command is known when the step it
    drives is scored, and a reading that does not follow it is what should stand out.

    With ``normalize_errors`` each feature's two errors are divided by their mean over the
    training windows, floored at ``error_scale_floor`` times the mean over features: a
    feature the model never learned to predict well (a command flag toggled from outside,
    say) then counts in units of its own normal error instead of swamping the score, while
    a feature that was easy to model is not amplified beyond the average.

    ``bottleneck_steps > 0`` decodes the last ``bottleneck_steps`` input steps from the
    attention-pooled context alone (a ``d_model``-number summary of the window) and scores their
    reconstruction: what the network cannot summarise as normal, it cannot rebuild.
    ``mask_steps > 0`` hides the scored values of the last ``mask_steps`` input steps from the
    network (they read as the scaled median, 0; their covariates stay) and scores their
    reconstruction alone: the network must rebuild them
    from the steps before, so it cannot copy what it scores (an anomaly copied is an anomaly
    missed). ``error_scale_source`` says which windows measure each feature's normal error:
    ``train`` (the fitted ones) or ``validation`` (the held-out ones, when given: unseen normal
    data, whose errors a model that fits its training data closely underestimates).

    ``drift_ratio > 0`` reads a *drifting* scored feature relative to its value at the last step
    before the scored one: one whose level moves between the quarters of the training data (each
    at least a window long) more than ``drift_ratio`` times it varies within a quarter, as long as
    another scored feature does not drift
    (:func:`drifting_features`; a temperature warming through a run, say). Training cannot say
    where its level belongs, so its level is not judged, only its movement and next step: unseen
    normal data at a new level then scores like training data instead of flooding the stream.
    ``level_weight > 0`` adds, for every other scored feature, how far the window's recent level
    (its steps averaged with the recency weights) lies beyond the farthest a training window's
    did from the training mean, squared and in units of the training windows' mean squared
    deviation, times ``level_weight``: 0 inside what training showed, growing outside it. A
    prediction error forgets a shift once the window has filled with it; the level term does
    not. ``extreme_weight > 0`` adds, for the same features, how far the scored step lies outside
    the training ``[min, max]``, squared, in units of the feature's training variance, times
    ``extreme_weight``: a spike counts on the step it happens, above the windows after it that
    still hold it in their history (the reconstruction error's echo). Off by default: it ranks the
    generator's spikes first but costs SKAB's development folder ranking (VUS-PR 0.932 → 0.905 at
    10; BENCHMARKS.md, session 11).

    ``threads > 0`` runs fitting and scoring with that many torch threads (restored after);
    ``0`` leaves torch's setting alone. :meth:`explain` returns the structural attention.
    """

    name = "structure_aware"
    added_settings = {"known_covariates": False, "drift_ratio": 0.0, "level_weight": 0.0, "extreme_weight": 0.0}

    def __init__(
        self,
        *,
        window: int = 100,
        d_model: int = 24,
        layers: int = 3,
        kernel_sizes: Sequence[int] = (3, 3, 3),
        dilations: Sequence[int] = (1, 2, 4),
        dropout: float = 0.1,
        alpha: float = 0.5,
        rec_loss_weight: float = 0.5,
        recency_halflife: float = 5.0,
        normalize_errors: bool = True,
        error_scale_floor: float = 1.0,
        mask_steps: int = 0,
        bottleneck_steps: int = 0,
        error_scale_source: str = "train",
        known_covariates: bool = True,
        drift_ratio: float = 0.5,
        level_weight: float = 1.0,
        extreme_weight: float = 0.0,
        threads: int = 0,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 2e-3,
        patience: int = 3,
        validation_tail: float = 0.1,
        max_train_windows: int = 3000,
        train_stride: int = 1,
        score_batch_size: int = 1024,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        kernel_sizes = _int_list(kernel_sizes, "kernel_sizes")
        dilations = _int_list(dilations, "dilations")
        _check(int(window) >= 3, "window", f"must be >= 3 (one step to predict, two to read), got {window}")
        _check(int(d_model) >= 1, "d_model", f"must be >= 1, got {d_model}")
        _check(int(layers) >= 1, "layers", f"must be >= 1, got {layers}")
        _check(len(kernel_sizes) >= 1, "kernel_sizes", "must name at least one branch")
        _check(
            len(kernel_sizes) == len(dilations),
            "dilations",
            f"must pair with kernel_sizes (one per branch): {len(dilations)} vs {len(kernel_sizes)}",
        )
        _check(
            all(k >= 1 and k % 2 == 1 for k in kernel_sizes),
            "kernel_sizes",
            f"must be odd and >= 1 (for 'same' padding), got {kernel_sizes}",
        )
        _check(all(q >= 1 for q in dilations), "dilations", f"must be >= 1, got {dilations}")
        _check(0.0 <= dropout < 1.0, "dropout", f"must be in [0, 1), got {dropout}")
        _check(0.0 <= alpha <= 1.0, "alpha", f"must be in [0, 1], got {alpha}")
        _check(0.0 <= rec_loss_weight <= 1.0, "rec_loss_weight", f"must be in [0, 1], got {rec_loss_weight}")
        _check(recency_halflife >= 0.0, "recency_halflife", f"must be >= 0, got {recency_halflife}")
        _check(
            isinstance(normalize_errors, bool), "normalize_errors", f"must be true or false, got {normalize_errors!r}"
        )
        _check(error_scale_floor > 0.0, "error_scale_floor", f"must be > 0, got {error_scale_floor}")
        _check(0 <= int(mask_steps) < int(window) - 2, "mask_steps", f"must be in [0, window - 2), got {mask_steps}")
        _check(
            0 <= int(bottleneck_steps) < int(window),
            "bottleneck_steps",
            f"must be in [0, window), got {bottleneck_steps}",
        )
        _check(not (mask_steps and bottleneck_steps), "bottleneck_steps", "and mask_steps exclude each other")
        _check(
            error_scale_source in ("train", "validation"),
            "error_scale_source",
            f"must be train or validation, got {error_scale_source!r}",
        )
        _check(
            isinstance(known_covariates, bool), "known_covariates", f"must be true or false, got {known_covariates!r}"
        )
        _check(
            math.isfinite(drift_ratio) and drift_ratio >= 0.0,
            "drift_ratio",
            f"must be finite and >= 0 (0: off), got {drift_ratio}",
        )
        _check(
            math.isfinite(level_weight) and level_weight >= 0.0,
            "level_weight",
            f"must be finite and >= 0 (0: off), got {level_weight}",
        )
        _check(
            math.isfinite(extreme_weight) and extreme_weight >= 0.0,
            "extreme_weight",
            f"must be finite and >= 0 (0: off), got {extreme_weight}",
        )
        _check(int(threads) >= 0, "threads", f"must be >= 0, got {threads}")
        try:
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
                d_model=int(d_model),
                layers=int(layers),
                kernel_sizes=kernel_sizes,
                dilations=dilations,
                dropout=float(dropout),
                alpha=float(alpha),
                rec_loss_weight=float(rec_loss_weight),
                recency_halflife=float(recency_halflife),
                normalize_errors=normalize_errors,
                error_scale_floor=float(error_scale_floor),
                mask_steps=int(mask_steps),
                bottleneck_steps=int(bottleneck_steps),
                error_scale_source=error_scale_source,
                known_covariates=known_covariates,
                drift_ratio=float(drift_ratio),
                level_weight=float(level_weight),
                extreme_weight=float(extreme_weight),
                threads=int(threads),
            )
        except StreamprocError:
            raise
        except ValueError as exc:  # the shared training settings report themselves as "key must ..."
            raise StructureAwareConfigError(str(exc)) from exc
        self.d_model = int(d_model)
        self.layers = int(layers)
        self.kernel_sizes = kernel_sizes
        self.dilations = dilations
        self.dropout = float(dropout)
        self.alpha = float(alpha)
        self.rec_loss_weight = float(rec_loss_weight)
        self.recency_halflife = float(recency_halflife)
        self.normalize_errors = normalize_errors
        self.error_scale_floor = float(error_scale_floor)
        self.mask_steps = int(mask_steps)
        self.bottleneck_steps = int(bottleneck_steps)
        self.error_scale_source = error_scale_source
        self.known_covariates = known_covariates
        self.drift_ratio = float(drift_ratio)
        self.level_weight = float(level_weight)
        self.extreme_weight = float(extreme_weight)
        self.threads = int(threads)
        self._drifting = np.zeros(0, dtype=bool)
        # Per feature: the training mean and the mean squared deviation of a window's recent
        # level from it (0: the level is not judged: covariates, drifting or flat features).
        self._level_mean = self._level_scale = self._level_envelope = np.zeros(0, dtype=np.float32)
        # Per feature: the training range of its values and their variance (0: not judged).
        self._extreme_low = self._extreme_high = self._extreme_scale = np.zeros(0, dtype=np.float32)
        self._on_device: dict[str, torch.Tensor] | None = None  # the arrays above, where scoring runs
        self._step_weights: torch.Tensor | None = None
        self._scored: torch.Tensor | None = None

    # -- the model and its losses -------------------------------------------------------------

    def _build_module(self, n_features: int) -> nn.Module:
        return StructureAwareNetwork(
            n_features,
            self.d_model,
            self.layers,
            self.kernel_sizes,
            self.dilations,
            self.dropout,
            self.bottleneck_steps,
        )

    def _squared_errors(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rec[B, W-1, C], pred[B, C])``: squared errors of both heads on ``windows``."""
        windows = self._relative(windows)
        history, target = windows[:, :-1], windows[:, -1]
        output = self.module(self._visible(windows))
        rebuilt = history[:, -self.bottleneck_steps :] if self.bottleneck_steps else history
        reconstruction = output.reconstruction
        if reconstruction.shape[1] > rebuilt.shape[1]:
            reconstruction = reconstruction[:, : rebuilt.shape[1]]
        return (rebuilt - reconstruction) ** 2, (target - output.prediction) ** 2

    def _relative(self, windows: torch.Tensor) -> torch.Tensor:
        """``windows`` with each drifting feature measured from its value at the last step before
        the scored one: its level, which the training data does not pin down, is not judged;
        its movement over the window and its next step are."""
        if not self._drifting.any():
            return windows
        drifting = self._device_state(windows.device)["drifting"]
        relative = windows.clone()
        relative[:, :, drifting] -= windows[:, -2:-1, drifting]
        return relative

    def _visible(self, windows: torch.Tensor) -> torch.Tensor:
        """What the network reads of ``windows[B, W, C]``: the steps before the scored one, and
        with ``known_covariates`` the scored step too, its scored values hidden (its commands and
        set points are known when it is scored); ``mask_steps`` hides the scored values of the
        last steps before it."""
        scored = self._scored_features(windows.device)
        if self.known_covariates and self.covariates:
            visible = windows.clone()
            visible[:, -1, scored] = 0.0
        else:
            visible = windows[:, :-1].clone() if self.mask_steps else windows[:, :-1]
        if self.mask_steps:
            end = self.window - 1
            visible[:, end - self.mask_steps : end, scored] = 0.0
        return visible

    def _scored_features(self, device: torch.device) -> torch.Tensor:
        """``[C]`` booleans: the features that are scored (every one but the covariates)."""
        if self._scored is None or self._scored.device != device:
            scored = torch.ones(self.n_features, dtype=torch.bool)
            scored[list(self.covariates)] = False
            self._scored = scored.to(device)
        return self._scored

    def _objective(self, rec: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """Per-window training loss ``λ·L_rec + (1-λ)·L_pred`` over the scored features (the
        covariates are inputs: predicting a command toggled from outside is not the model's job)."""
        scored = self._scored_features(rec.device)
        return self.rec_loss_weight * rec[:, :, scored].mean(dim=(1, 2)) + (1.0 - self.rec_loss_weight) * pred[
            :, scored
        ].mean(dim=1)

    def _train_step(self, batch: torch.Tensor, step: TrainStep) -> Mapping[str, float]:
        rec, pred = self._squared_errors(batch)
        loss = self._objective(rec, pred).mean()
        (optimizer,) = step.optimizers
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "rec_loss": rec.detach().mean().item(), "pred_loss": pred.detach().mean().item()}

    def _validation_loss(self, windows: torch.Tensor) -> torch.Tensor:
        return self._objective(*self._squared_errors(windows))

    def _feature_errors(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rec[B, C], pred[B, C])``: each head's squared error per feature, before scaling."""
        rec, pred = self._squared_errors(windows)
        return torch.einsum("btc,t->bc", rec, self._history_weights(rec.shape[1], rec.device)), pred

    def _score_tensor(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rec, pred = self._feature_errors(windows)
        if self.normalize_errors:
            rec_scale, pred_scale = self.module.error_scale
            rec, pred = rec / rec_scale, pred / pred_scale
        contributions = self.alpha * rec + (1.0 - self.alpha) * pred
        if self.level_weight and self._level_scale.any():
            contributions = contributions + self.level_weight * self._level_errors(windows)
        if self.extreme_weight and self._extreme_scale.any():
            contributions = contributions + self.extreme_weight * self._extreme_errors(windows)
        return contributions.sum(dim=1), contributions

    def _level_errors(self, windows: torch.Tensor) -> torch.Tensor:
        """``[B, C]``: how far each window's recent level (its steps averaged with the recency
        weights, the scored one included) lies beyond the farthest any training window's did from
        the training mean, squared, in units of the training windows' mean squared deviation; 0
        inside that envelope and where the level is not judged."""
        state = self._device_state(windows.device)
        recent = torch.einsum("btc,t->bc", windows, state["level_weights"])
        beyond = torch.clamp((recent - state["level_mean"]).abs() - state["level_envelope"], min=0.0)
        scale = state["level_scale"]
        judged = scale > 0
        return torch.where(judged, beyond**2 / torch.where(judged, scale, 1.0), 0.0)

    def _extreme_errors(self, windows: torch.Tensor) -> torch.Tensor:
        """``[B, C]``: how far the scored step lies outside the feature's training ``[min, max]``,
        squared, in units of its training variance; 0 inside and where the level is not judged."""
        state = self._device_state(windows.device)
        last = windows[:, -1]
        beyond = torch.clamp(torch.maximum(last - state["extreme_high"], state["extreme_low"] - last), min=0.0)
        scale = state["extreme_scale"]
        judged = scale > 0
        return torch.where(judged, beyond**2 / torch.where(judged, scale, 1.0), 0.0)

    def _device_state(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The drift and level state as tensors on ``device``, built once, not per batch."""
        state = self._on_device
        if state is None or state["level_mean"].device != device:
            arrays = {
                "drifting": torch.from_numpy(np.flatnonzero(self._drifting)),
                "level_mean": torch.from_numpy(self._level_mean),
                "level_scale": torch.from_numpy(self._level_scale),
                "level_envelope": torch.from_numpy(self._level_envelope),
                "extreme_low": torch.from_numpy(self._extreme_low),
                "extreme_high": torch.from_numpy(self._extreme_high),
                "extreme_scale": torch.from_numpy(self._extreme_scale),
                "level_weights": recency_weights(self.window, self.recency_halflife),
            }
            state = self._on_device = {key: value.to(device) for key, value in arrays.items()}
        return state

    def _history_weights(self, steps: int, device: torch.device) -> torch.Tensor:
        """Weights over the input steps (sum 1) that average the reconstruction error."""
        if self._step_weights is None or self._step_weights.device != device:
            if self.mask_steps:
                weights = torch.zeros(steps)
                weights[-self.mask_steps :] = 1.0 / self.mask_steps  # the hidden steps alone: rebuilt, never copied
            else:
                weights = recency_weights(steps, self.recency_halflife)
            self._step_weights = weights.to(device)
        return self._step_weights

    def _initialise(self, module: nn.Module, train: np.ndarray) -> None:
        scored = np.ones(self.n_features, dtype=bool)
        scored[list(self.covariates)] = False
        # quarters of the training data, at least a window long: a cycle that repeats within a
        # quarter has one level in all of them, a drift or a random walk has not
        block = max(self.window, len(train) // 4)
        self._drifting = drifting_features(train, self.drift_ratio, block) & scored
        self._fit_levels(train, scored & ~self._drifting)
        # With every varying scored feature read relative, a sustained shift of the whole channel
        # would go unseen once it filled the window: then every level stays judged.
        if self._drifting.any() and not self._level_scale.any():
            self._drifting = np.zeros_like(self._drifting)
            self._fit_levels(train, scored)

    def _fit_levels(self, train: np.ndarray, judged: np.ndarray) -> None:
        # reversed: np.convolve flips its kernel, and the newest step carries the largest weight
        weights = recency_weights(self.window, self.recency_halflife).double().numpy()[::-1]
        mean = train.mean(axis=0, dtype=np.float64)
        centred = train.astype(np.float64) - mean
        # how far the recent level of every training window (a causal weighted moving average)
        # lies from the training mean
        deviation = np.stack([np.convolve(centred[:, c], weights, mode="valid") for c in range(train.shape[1])], axis=1)
        scale = (deviation**2).mean(axis=0)
        # a level that did not move in training (rounding aside) is not judged: there is no
        # spread to measure a departure in, and the flat-feature warning of training covers it
        moved = scale > 1e-12 * np.maximum(1.0, mean**2)
        judged = judged & moved
        self._level_envelope = np.abs(deviation).max(axis=0).astype(np.float32)
        self._level_mean = mean.astype(np.float32)
        self._level_scale = np.where(judged, scale, 0.0).astype(np.float32)
        self._extreme_low = train.min(axis=0).astype(np.float32)
        self._extreme_high = train.max(axis=0).astype(np.float32)
        self._extreme_scale = np.where(judged, centred.var(axis=0), 0.0).astype(np.float32)
        self._on_device = None

    # -- thread control -----------------------------------------------------------------------

    def _fit(self, train, progress, validation=None):
        self._scored = self._step_weights = None  # a refit may change the features and covariates
        with self._thread_limit():
            report = super()._fit(train, progress, validation)
            if self.normalize_errors:
                held_out = (
                    self.error_scale_source == "validation" and validation is not None and len(validation) > self.window
                )
                self._calibrate_error_scale(validation if held_out else train)
        if self._drifting.any():
            note = "drift between training quarters: read relative to their latest value, level not judged"
            report = replace(report, feature_notes={**report.feature_notes, note: self.drifting})
        return report

    def _calibrate_error_scale(self, train: np.ndarray) -> None:
        """Set each feature's error scale from the trained model's errors on training windows."""
        windows = window_tensor(train, self.window)
        stride = max(1, -(-len(windows) // self.max_train_windows))  # evenly spread, at most the cap
        windows = windows[::stride]
        sums = torch.zeros(self.module.error_scale.shape, dtype=torch.float64)
        self.module.eval()
        with torch.inference_mode():
            for start in range(0, len(windows), self.score_batch_size):
                errors = self._feature_errors(windows[start : start + self.score_batch_size].to(self._device))
                sums += torch.stack([error.sum(dim=0) for error in errors]).double().cpu()
        scales = sums / len(windows)
        floor = self.error_scale_floor * scales[:, self._scored_features(scales.device)].mean(dim=1, keepdim=True)
        # An exact fit everywhere leaves no scale to measure: keep raw errors then.
        scales = torch.where(floor > 0, torch.maximum(scales, floor), torch.ones_like(scales))
        self.module.error_scale.copy_(scales.float())

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            **super()._arrays(),
            "drifting": self._drifting,
            "level_mean": self._level_mean,
            "level_scale": self._level_scale,
            "level_envelope": self._level_envelope,
            "extreme_low": self._extreme_low,
            "extreme_high": self._extreme_high,
            "extreme_scale": self._extreme_scale,
        }

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        arrays = dict(arrays)
        # models saved before drift_ratio and level_weight existed have none of these
        drifting = arrays.pop("drifting", None)
        level_mean, level_scale = arrays.pop("level_mean", None), arrays.pop("level_scale", None)
        level_envelope = arrays.pop("level_envelope", None)
        # ... and those saved before extreme_weight none of these
        extreme = [arrays.pop(key, None) for key in ("extreme_low", "extreme_high", "extreme_scale")]
        super()._restore(arrays)
        none = np.zeros(self.n_features, dtype=np.float32)
        self._drifting = none.astype(bool) if drifting is None else np.asarray(drifting, bool)
        self._level_mean = none if level_mean is None else np.asarray(level_mean, np.float32)
        self._level_scale = none if level_scale is None else np.asarray(level_scale, np.float32)
        self._level_envelope = none if level_envelope is None else np.asarray(level_envelope, np.float32)
        self._extreme_low, self._extreme_high, self._extreme_scale = (
            none if array is None else np.asarray(array, np.float32) for array in extreme
        )
        self._on_device = None

    @property
    def drifting(self) -> list[int]:
        """Indices of the features read relative to their latest value (see ``drift_ratio``)."""
        return [int(i) for i in np.flatnonzero(self._drifting)]

    def _score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._thread_limit():
            return super()._score(windows)

    @contextlib.contextmanager
    def _thread_limit(self) -> Iterator[None]:
        previous = torch.get_num_threads()
        if self.threads == 0 or self.threads == previous:
            yield
            return
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    # -- inspection ---------------------------------------------------------------------------

    def explain(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """The structural attention the network paid to ``windows[B, W, C]``.

        Returns ``channel_mask[B, d_model]`` (the sigmoid mask over hidden channels, in
        ``(0, 1)``) and ``time_attention[B, T]`` (softmax weights over the steps the network
        reads: ``T = W - 1``, the last entry the step just before the scored one; with
        ``known_covariates`` and covariates, ``T = W``, the last entry the scored step itself).
        """
        if not self.fitted:
            raise RuntimeError(f"detector {self.name!r} is not fitted")
        windows = np.asarray(windows, dtype=np.float32)
        expected = (self.window, self.n_features)
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise ValueError(f"windows must be [B, {expected[0]}, {expected[1]}], got {windows.shape}")
        windows = np.nan_to_num(windows, nan=0.0, posinf=0.0, neginf=0.0)
        masks, attention = [], []
        self.module.eval()
        with self._thread_limit(), torch.inference_mode():
            for start in range(0, len(windows), self.score_batch_size):
                chunk = torch.from_numpy(windows[start : start + self.score_batch_size]).to(self._device)
                output = self.module(self._visible(self._relative(chunk)))
                masks.append(output.channel_mask.float().cpu().numpy())
                attention.append(output.time_attention.float().cpu().numpy())
        if not masks:
            return {
                "channel_mask": np.zeros((0, self.d_model), np.float32),
                "time_attention": np.zeros(
                    (0, self.window - (0 if self.known_covariates and self.covariates else 1)), np.float32
                ),
            }
        return {"channel_mask": np.concatenate(masks), "time_attention": np.concatenate(attention)}


def recency_weights(steps: int, halflife: float) -> torch.Tensor:
    """``[steps]`` float32 weights summing to 1 that halve every ``halflife`` steps back from the
    last one (``0``: equal weights)."""
    if halflife > 0:
        age = torch.arange(steps - 1, -1, -1, dtype=torch.float32)
        weights = torch.pow(0.5, age / halflife)
    else:
        weights = torch.ones(steps)
    return weights / weights.sum()


def drifting_features(train: np.ndarray, ratio: float, block: int) -> np.ndarray:
    """``[C]`` booleans: the features of ``train[T, C]`` whose level moves between consecutive
    blocks of ``block`` steps more than ``ratio`` times it varies within one (the spread of the
    block means over the mean spread inside a block: about ``1/sqrt(block)`` for noise around a
    level, large for a drift, a random walk or a cycle longer than a block). ``ratio`` 0, or
    fewer than two blocks: none."""
    train = np.asarray(train, dtype=np.float64)
    blocks = len(train) // block
    if ratio <= 0 or blocks < 2:
        return np.zeros(train.shape[1], dtype=bool)
    split = train[: blocks * block].reshape(blocks, block, -1)
    within = np.nanstd(split, axis=1).mean(axis=0)
    between = np.nanstd(np.nanmean(split, axis=1), axis=0)
    return (within > 0) & (between > ratio * within)


def _int_list(values: Sequence[int], key: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise StructureAwareConfigError(f"{key} must be a list of integers, got {values!r}") from None


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise StructureAwareConfigError(f"{key} {message}")
