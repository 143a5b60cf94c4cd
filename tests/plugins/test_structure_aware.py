"""Model-specific behaviour of the structure_aware detector (the shared contract suite covers the rest)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from streamproc_plugins.structure_aware import (
    StructureAwareConfigError,
    StructureAwareDetector,
    StructureAwareNetwork,
    drifting_features,
)

from streamproc.datasets.synthetic import SyntheticConfig, generate_synthetic
from streamproc.detection import DetectorRegistry, DeviceError, sliding_windows
from streamproc.errors import StreamprocError
from streamproc.training import train_channel

WINDOW = 12
TINY = {
    "window": WINDOW,
    "d_model": 8,
    "layers": 3,
    "kernel_sizes": [3, 5],
    "dilations": [1, 2],
    "dropout": 0.0,
    "epochs": 6,
    "batch_size": 32,
    "max_train_windows": 600,
    "device": "cpu",
    "seed": 3,
}


def _series(steps: int, seed: int) -> np.ndarray:
    """Three phase-shifted sines with a little noise: features move together, as sensors do."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    phases = np.array([0.0, 1.0, 2.0])
    return (np.sin(2 * np.pi * t / 25 + phases) + 0.05 * rng.standard_normal((steps, 3))).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> StructureAwareDetector:
    detector = StructureAwareDetector(**TINY)
    detector.fit(_series(800, seed=0))
    return detector


@pytest.fixture(scope="module")
def test_windows() -> np.ndarray:
    return np.ascontiguousarray(sliding_windows(_series(200, seed=1), WINDOW))


def _twin(detector: StructureAwareDetector, **overrides) -> StructureAwareDetector:
    """The same weights under another scoring configuration."""
    twin = StructureAwareDetector(**{**detector.config, **overrides})
    twin.n_features = detector.n_features
    twin._restore(detector._arrays())
    return twin


def test_network_output_shapes_and_attention_ranges() -> None:
    torch.manual_seed(0)
    net = StructureAwareNetwork(
        n_features=5, d_model=16, layers=3, kernel_sizes=[3, 3, 3], dilations=[1, 2, 4], dropout=0.0
    )
    out = net(torch.randn(7, 30, 5))
    assert out.reconstruction.shape == (7, 30, 5)
    assert out.prediction.shape == (7, 5)
    assert out.channel_mask.shape == (7, 16)
    assert out.time_attention.shape == (7, 30)
    assert ((out.channel_mask > 0) & (out.channel_mask < 1)).all()
    torch.testing.assert_close(out.time_attention.sum(dim=1), torch.ones(7))


@pytest.mark.parametrize("layers, middle", [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2)])
def test_structural_attention_sits_after_the_middle_block(layers: int, middle: int) -> None:
    net = StructureAwareNetwork(2, 4, layers, [3], [1], 0.0)
    assert net.attention_after == middle


def test_gradient_reaches_each_head_only_from_its_own_loss() -> None:
    torch.manual_seed(0)
    net = StructureAwareNetwork(4, 8, 3, [3, 3], [1, 2], 0.0)
    history = torch.randn(6, 20, 4)
    target = torch.randn(6, 4)

    def grads(loss: torch.Tensor) -> dict[str, float]:
        net.zero_grad(set_to_none=True)
        loss.backward()
        return {name: 0.0 if p.grad is None else float(p.grad.abs().sum()) for name, p in net.named_parameters()}

    out = net(history)
    from_rec = grads(((out.reconstruction - history) ** 2).mean())
    out = net(history)
    from_pred = grads(((out.prediction - target) ** 2).mean())

    assert all(v > 0 for k, v in from_rec.items() if k.startswith("reconstruct."))
    assert all(v == 0 for k, v in from_rec.items() if k.startswith("predict."))
    assert all(v > 0 for k, v in from_pred.items() if k.startswith("predict."))
    assert all(v == 0 for k, v in from_pred.items() if k.startswith("reconstruct."))
    # The shared trunk (embedding, every block's convolutions and gate, the structural
    # attention) learns from both heads.
    shared = ("embed.weight", "blocks.0.branches.1.weight", "blocks.2.gate.weight", "attention.channel_gate.weight")
    for name in shared:
        assert from_rec[name] > 0 and from_pred[name] > 0, name
    # Time attention pools the window for the prediction head only.
    assert from_pred["attention.time_score.0.weight"] > 0
    assert from_rec["attention.time_score.0.weight"] == 0


@pytest.mark.parametrize(
    "rec_loss_weight, frozen, trained", [(1.0, "predict.", "reconstruct."), (0.0, "reconstruct.", "predict.")]
)
def test_rec_loss_weight_selects_which_head_is_trained(rec_loss_weight: float, frozen: str, trained: str) -> None:
    config = {**TINY, "epochs": 1, "rec_loss_weight": rec_loss_weight, "validation_tail": 0.0}
    detector = StructureAwareDetector(**config)
    torch.manual_seed(config["seed"])
    initial = {k: v.clone() for k, v in detector._build_module(3).state_dict().items()}
    detector.fit(_series(300, seed=0))
    after = detector.module.state_dict()
    assert all(torch.equal(initial[k], after[k]) for k in after if k.startswith(frozen))
    assert any(not torch.equal(initial[k], after[k]) for k in after if k.startswith(trained))


def test_alpha_mixes_reconstruction_and_prediction_errors(fitted, test_windows) -> None:
    rec = _twin(fitted, alpha=1.0).score(test_windows)
    pred = _twin(fitted, alpha=0.0).score(test_windows)
    mixed = _twin(fitted, alpha=0.25).score(test_windows)
    np.testing.assert_allclose(
        mixed.contributions, 0.25 * rec.contributions + 0.75 * pred.contributions, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(mixed.scores, mixed.contributions.sum(axis=1), rtol=1e-5)
    assert not np.allclose(rec.scores, pred.scores)


def test_recency_halflife_weights_recent_reconstruction_errors(fitted) -> None:
    weights = _twin(fitted, recency_halflife=2.0)._history_weights(WINDOW - 1, torch.device("cpu"))
    assert float(weights.sum()) == pytest.approx(1.0)
    assert float(weights[-1] / weights[-3]) == pytest.approx(2.0)
    uniform = _twin(fitted, recency_halflife=0.0)._history_weights(WINDOW - 1, torch.device("cpu"))
    torch.testing.assert_close(uniform, torch.full((WINDOW - 1,), 1.0 / (WINDOW - 1)))


def test_error_scale_is_measured_on_training_windows_and_floored(fitted) -> None:
    # The fixture's 789 training windows exceed max_train_windows=600: every second one is used.
    windows = np.ascontiguousarray(sliding_windows(_series(800, seed=0), WINDOW)[::2])
    raw = np.stack(
        [_twin(fitted, normalize_errors=False, alpha=a).score(windows).contributions.mean(axis=0) for a in (1.0, 0.0)]
    )
    expected = np.maximum(raw, fitted.error_scale_floor * raw.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(fitted.module.error_scale.numpy(), expected, rtol=1e-4)
    unscaled = StructureAwareDetector(**{**TINY, "epochs": 1, "normalize_errors": False})
    unscaled.fit(_series(200, seed=0))
    assert torch.equal(unscaled.module.error_scale, torch.ones(2, 3))


def test_normalised_errors_keep_an_unpredictable_feature_from_dominating() -> None:
    train = _series(800, seed=0)
    train[:, 2] = 3.0 * np.random.default_rng(5).standard_normal(len(train))  # noise no model can predict
    detector = StructureAwareDetector(**{**TINY, "error_scale_floor": 0.1})
    detector.fit(train)
    windows = np.ascontiguousarray(sliding_windows(train[-200:], WINDOW))
    raw = _twin(detector, normalize_errors=False).score(windows).contributions.mean(axis=0)
    scaled = detector.score(windows).contributions.mean(axis=0)
    assert raw[2] / raw.sum() > 0.9
    assert scaled[2] / scaled.sum() < 0.6


def test_prediction_error_points_at_the_feature_that_broke(fitted, test_windows) -> None:
    windows = test_windows[:40].copy()
    windows[:, -1, 1] += 4.0  # the scored step of feature 1 jumps
    scores, contributions = _twin(fitted, alpha=0.0).score(windows)
    baseline = _twin(fitted, alpha=0.0).score(test_windows[:40]).scores
    assert (contributions.argmax(axis=1) == 1).all()
    assert scores.min() > 5 * np.median(baseline)


def test_explain_returns_attention_of_each_window(fitted, test_windows) -> None:
    explained = fitted.explain(test_windows[:9])
    assert explained["channel_mask"].shape == (9, TINY["d_model"])
    assert explained["time_attention"].shape == (9, WINDOW - 1)
    np.testing.assert_allclose(explained["time_attention"].sum(axis=1), 1.0, rtol=1e-5)
    chunked = _twin(fitted, score_batch_size=4).explain(test_windows[:9])
    np.testing.assert_allclose(chunked["time_attention"], explained["time_attention"], rtol=1e-5, atol=1e-7)
    assert fitted.explain(test_windows[:0])["time_attention"].shape == (0, WINDOW - 1)
    with pytest.raises(ValueError):
        fitted.explain(test_windows[:3, :-1])


def test_explain_survives_save_and_load(fitted, test_windows, tmp_path) -> None:
    fitted.save(tmp_path)
    loaded = StructureAwareDetector.load(tmp_path)
    for key, value in fitted.explain(test_windows[:5]).items():
        np.testing.assert_allclose(loaded.explain(test_windows[:5])[key], value, rtol=1e-6)


def test_fit_reports_progress_with_training_and_validation_loss() -> None:
    calls = []
    detector = StructureAwareDetector(**{**TINY, "epochs": 3, "patience": 5})
    report = detector.fit(
        _series(400, seed=0), progress=lambda step, total, values: calls.append((step, total, values))
    )
    assert [(step, total) for step, total, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    assert all({"loss", "val_loss", "rec_loss", "pred_loss"} <= set(values) for _, _, values in calls)
    assert calls[-1][2]["loss"] < calls[0][2]["loss"]
    assert report.epochs == 3


def test_cpu_device_and_auto_without_cuda(monkeypatch) -> None:
    detector = StructureAwareDetector(**{**TINY, "epochs": 1})
    detector.fit(_series(200, seed=0))
    assert next(detector.module.parameters()).device.type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = StructureAwareDetector(**{**TINY, "epochs": 1, "device": "auto"})
    auto.fit(_series(200, seed=0))
    assert next(auto.module.parameters()).device.type == "cpu"
    with pytest.raises(DeviceError):
        StructureAwareDetector(**{**TINY, "device": "cuda"}).fit(_series(200, seed=0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_device_uses_cuda_and_scores_like_the_cpu(fitted, test_windows) -> None:
    on_gpu = _twin(fitted, device="auto")
    assert next(on_gpu.module.parameters()).device.type == "cuda"
    np.testing.assert_allclose(
        on_gpu.score(test_windows).scores, fitted.score(test_windows).scores, rtol=1e-3, atol=1e-5
    )


def test_threads_setting_is_restored_after_fit_and_score(test_windows) -> None:
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    detector = StructureAwareDetector(**{**TINY, "epochs": 1, "threads": wanted})
    seen = []
    detector.fit(_series(200, seed=0), progress=lambda *_: seen.append(torch.get_num_threads()))
    detector.score(test_windows[:4])
    assert seen == [wanted]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"window": 2}, "window"),
        ({"d_model": 0}, "d_model"),
        ({"layers": 0}, "layers"),
        ({"kernel_sizes": []}, "kernel_sizes"),
        ({"kernel_sizes": 3}, "kernel_sizes"),
        ({"dilations": ["a", 1]}, "dilations"),
        ({"kernel_sizes": [3, 3], "dilations": [1]}, "dilations"),
        ({"kernel_sizes": [4, 3]}, "kernel_sizes"),
        ({"dilations": [1, 0]}, "dilations"),
        ({"dropout": 1.0}, "dropout"),
        ({"alpha": 1.5}, "alpha"),
        ({"rec_loss_weight": -0.1}, "rec_loss_weight"),
        ({"recency_halflife": -1}, "recency_halflife"),
        ({"threads": -1}, "threads"),
        ({"drift_ratio": -1.0}, "drift_ratio"),
        ({"level_weight": -0.5}, "level_weight"),
        ({"level_weight": float("inf")}, "level_weight"),
        ({"normalize_errors": "yes"}, "normalize_errors"),
        ({"error_scale_floor": 0.0}, "error_scale_floor"),
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_invalid_settings_name_the_key(overrides: dict, key: str) -> None:
    with pytest.raises(StructureAwareConfigError, match=f"^{key} "):
        StructureAwareDetector(**{**TINY, **overrides})


def test_config_errors_are_user_errors_and_unknown_keys_are_refused() -> None:
    assert issubclass(StructureAwareConfigError, StreamprocError)
    with pytest.raises(DeviceError):
        StructureAwareDetector(**{**TINY, "device": "tpu"})
    spec = DetectorRegistry(["structure_aware"]).spec("structure_aware")
    with pytest.raises(ValueError, match="unknown config key"):
        spec.build(heads=3)


def test_spec_defaults_build_and_round_trip_through_json() -> None:
    spec = DetectorRegistry(["structure_aware"]).spec("structure_aware")
    detector = spec.build()
    assert json.loads(json.dumps(detector.config)) == detector.config
    assert set(detector.config) == set(spec.default_config)


@pytest.mark.parametrize(
    "variant",
    [
        {"bottleneck_steps": 4},
        {"mask_steps": 3},
        {"mask_steps": 3, "error_scale_source": "validation"},
    ],
)
def test_variants_that_cannot_copy_what_they_score(variant, test_windows, tmp_path) -> None:
    detector = StructureAwareDetector(**{**TINY, **variant})
    series = _series(800, seed=0)
    detector.fit(series[:700], validation=series[700 - (WINDOW - 1) :])
    scores, contributions = detector.score(test_windows)
    assert scores.shape == (len(test_windows),) and np.isfinite(scores).all() and (contributions >= 0).all()
    rec, _ = detector._squared_errors(torch.from_numpy(test_windows[:4]))
    assert rec.shape[1] == variant.get("bottleneck_steps", WINDOW - 1)
    detector.save(tmp_path)
    np.testing.assert_allclose(StructureAwareDetector.load(tmp_path).score(test_windows).scores, scores, rtol=1e-5)


def test_masked_steps_are_what_is_scored(fitted) -> None:
    masked = _twin(fitted, mask_steps=3)
    weights = masked._history_weights(WINDOW - 1, torch.device("cpu"))
    assert weights[-3:].sum().item() == pytest.approx(1.0) and weights[:-3].sum().item() == 0.0


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"mask_steps": WINDOW}, "mask_steps"),
        ({"bottleneck_steps": 3, "mask_steps": 2}, "bottleneck_steps"),
        ({"error_scale_source": "test"}, "error_scale_source"),
        ({"known_covariates": "yes"}, "known_covariates"),
    ],
)
def test_variant_settings_are_checked(settings, key) -> None:
    with pytest.raises(StructureAwareConfigError, match=f"^{key}"):
        StructureAwareDetector(**{**TINY, **settings})


def _commanded(steps: int, seed: int) -> np.ndarray:
    """A command (feature 1, a covariate switched from outside) and the sensor it drives (feature 0:
    it follows the command one step later), plus a free sine (feature 2)."""
    rng = np.random.default_rng(seed)
    command = (rng.random(steps) < 0.1).cumsum() % 2  # switches now and then
    sensor = np.roll(command, 1) * 2.0 - 1.0 + 0.05 * rng.standard_normal(steps)
    free = np.sin(2 * np.pi * np.arange(steps) / 25) + 0.05 * rng.standard_normal(steps)
    return np.stack([sensor, command, free], axis=1).astype(np.float32)


def test_known_covariates_are_read_at_the_scored_step_and_its_scored_values_are_not() -> None:
    detector = StructureAwareDetector(**{**TINY, "known_covariates": True, "epochs": 1})
    detector.fit(_commanded(300, seed=0), covariates=[1])
    windows = torch.from_numpy(np.ascontiguousarray(sliding_windows(_commanded(60, seed=1), WINDOW)[:8]))
    detector.module.eval()
    with torch.inference_mode():
        _, pred = detector._squared_errors(windows)
        flipped = windows.clone()
        flipped[:, -1, 1] = 1.0 - flipped[:, -1, 1]  # the scored step's command
        _, pred_flipped = detector._squared_errors(flipped)
        moved = windows.clone()
        moved[:, -1, 0] += 5.0  # the scored step's own value: the target, never an input
        _, pred_moved = detector._squared_errors(moved)
    assert not torch.allclose(pred[:, 0], pred_flipped[:, 0]), "the command at the scored step is read"
    # Only the error moves with the target, as if the prediction p were the same: with d = t - p,
    # the moved error is (d + 5)^2 for one of the two signs of d.
    d = pred[:, 0].sqrt()
    gap = torch.minimum(
        (pred_moved[:, 0].sqrt() - (d + 5).abs()).abs(), (pred_moved[:, 0].sqrt() - (5 - d).abs()).abs()
    )
    assert gap.max().item() < 1e-3, "the scored step's own value reached the network"
    plain = StructureAwareDetector(**{**TINY, "known_covariates": False, "epochs": 1})
    plain.fit(_commanded(300, seed=0), covariates=[1])
    plain.module.eval()
    with torch.inference_mode():
        assert torch.allclose(plain._squared_errors(windows)[1][:, 0], plain._squared_errors(flipped)[1][:, 0])


def test_an_artifact_from_before_known_covariates_scores_as_it_was_trained(tmp_path) -> None:
    """Written before the setting existed (its config lacks it), a model keeps reading what it
    was trained and calibrated on: the steps before the scored one only."""
    detector = StructureAwareDetector(**{**TINY, "known_covariates": False, "epochs": 1})
    detector.fit(_commanded(300, seed=0), covariates=[1])
    detector.save(tmp_path)
    meta_path = tmp_path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["known_covariates"]
    meta_path.write_text(json.dumps(meta))
    loaded = StructureAwareDetector.load(tmp_path)
    assert loaded.known_covariates is False
    windows = np.ascontiguousarray(sliding_windows(_commanded(60, seed=1), WINDOW))
    np.testing.assert_allclose(loaded.score(windows).scores, detector.score(windows).scores, rtol=1e-5)
    assert StructureAwareDetector(**{k: v for k, v in TINY.items()}).known_covariates is True


def _drifting(steps: int, seed: int, start: float = 0.0) -> np.ndarray:
    """A noisy fast sine (a level the data pins down) beside a slow random walk from ``start``
    (a level it does not: a temperature warming through an experiment, say)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    level = np.sin(2 * np.pi * t / 6) + 0.1 * rng.standard_normal(steps)
    walk = start + np.cumsum(0.05 * rng.standard_normal(steps))
    return np.stack([level, walk], axis=1).astype(np.float32)


def test_drifting_features_move_between_blocks_more_than_within() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(600)
    noise = rng.standard_normal(600)
    walk = np.cumsum(rng.standard_normal(600))
    fast_cycle = np.sin(2 * np.pi * t / 10)  # repeats inside a block: a level the data pins down
    slow_cycle = np.sin(2 * np.pi * t / 400)  # longer than a block: the level moves between them
    constant = np.ones(600)
    train = np.stack([noise, walk, fast_cycle, slow_cycle, constant], axis=1)
    assert drifting_features(train, 0.5, 50).tolist() == [False, True, False, True, False]
    assert not drifting_features(train, 0.0, 50).any()
    assert not drifting_features(train[:90], 0.5, 50).any()  # one block: no between


def test_a_drifting_feature_at_a_new_level_scores_near_the_training_level(tmp_path) -> None:
    """Unseen normal data whose slow feature has wandered off: read relative to its latest value
    it scores like training data; read by its level, far above (the calibration would not hold)."""
    train = _drifting(800, seed=0)
    moved = _drifting(300, seed=1, start=float(train[-1, 1]) + 40 * float(train[:, 1].std()))
    windows = np.ascontiguousarray(sliding_windows(moved, WINDOW))
    training_windows = np.ascontiguousarray(sliding_windows(train, WINDOW))
    medians = {}
    for ratio in (0.0, 0.5):
        detector = StructureAwareDetector(**{**TINY, "drift_ratio": ratio, "level_weight": 1.0})
        report = detector.fit(train)
        assert detector.drifting == ([1] if ratio else [])
        assert list(report.feature_notes.values()) == ([[1]] if ratio else [])
        medians[ratio] = np.median(detector.score(windows).scores) / np.median(detector.score(training_windows).scores)
        if ratio:
            detector.save(tmp_path)
            loaded = StructureAwareDetector.load(tmp_path)
            assert loaded.drifting == [1]
            np.testing.assert_allclose(loaded.score(windows).scores, detector.score(windows).scores, rtol=1e-5)
    assert medians[0.5] < 3.0 < 30.0 < medians[0.0]


def test_training_names_the_drifting_features() -> None:
    trained = train_channel(
        "structure_aware", "S-1", _drifting(800, seed=0), config=TINY, feature_names=["steady", "warming"]
    )
    notes = trained.metadata["training"]["feature_notes"]
    assert [names for phrase, names in notes.items() if "relative to their latest value" in phrase] == [["warming"]]


def test_a_sustained_level_shift_keeps_scoring_and_is_blamed_on_its_feature() -> None:
    """A steady feature stuck at a level it never had in training is as predictable as before,
    step to step; the level term keeps it anomalous for as long as it stays there."""
    train = _drifting(800, seed=0)
    shifted = _drifting(300, seed=1, start=float(train[-1, 1]))
    shifted[:, 0] += 4.0
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "level_weight": 1.0})
    detector.fit(train)
    normal = np.median(detector.score(np.ascontiguousarray(sliding_windows(train, WINDOW))).scores)
    late = detector.score(np.ascontiguousarray(sliding_windows(shifted, WINDOW))[100:])
    assert np.quantile(late.scores, 0.1) > 10 * normal
    assert (late.contributions.argmax(axis=1) == 0).all()


def test_a_covariate_is_never_read_as_drifting_nor_judged_by_its_level() -> None:
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "level_weight": 1.0, "epochs": 1})
    detector.fit(_drifting(300, seed=0), covariates=[1])
    assert detector.drifting == []
    assert detector._level_scale[1] == 0.0 and detector._level_scale[0] > 0.0


def test_an_artifact_from_before_drift_ratio_and_level_weight_reads_as_it_was_trained(tmp_path) -> None:
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.0, "level_weight": 0.0, "epochs": 1})
    detector.fit(_drifting(300, seed=0))
    detector.save(tmp_path)
    meta_path = tmp_path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["drift_ratio"], meta["config"]["level_weight"]
    meta_path.write_text(json.dumps(meta))
    with np.load(tmp_path / "arrays.npz") as arrays:
        added = ("drifting", "level_mean", "level_scale", "level_envelope")
        kept = {key: arrays[key] for key in arrays.files if key not in added}
    np.savez(tmp_path / "arrays.npz", **kept)
    loaded = StructureAwareDetector.load(tmp_path)
    assert loaded.drift_ratio == 0.0 and loaded.level_weight == 0.0 and loaded.drifting == []
    windows = np.ascontiguousarray(sliding_windows(_drifting(60, seed=1), WINDOW))
    np.testing.assert_allclose(loaded.score(windows).scores, detector.score(windows).scores, rtol=1e-5)


def test_a_channel_whose_every_scored_feature_drifts_keeps_judging_levels() -> None:
    """Read relative everywhere, a shift of the whole channel would vanish once it filled the
    window: the only scored feature here drifts, and is still judged by its level."""
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "level_weight": 1.0, "epochs": 1})
    detector.fit(_drifting(300, seed=0), covariates=[0])
    assert detector.drifting == []
    assert detector._level_scale[1] > 0.0


def test_a_flat_feature_does_not_count_as_one_whose_level_is_judged() -> None:
    walk_and_flat = _drifting(300, seed=0)
    walk_and_flat[:, 0] = 0.0
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "level_weight": 1.0, "epochs": 1})
    detector.fit(walk_and_flat)
    assert detector.drifting == []
    assert detector._level_scale[0] == 0.0 and detector._level_scale[1] > 0.0


def test_training_windows_lie_inside_the_level_envelope() -> None:
    """The envelope is measured with the same recency weights scoring uses (newest heaviest)."""
    train = _drifting(400, seed=2)
    detector = StructureAwareDetector(**{**TINY, "level_weight": 1.0, "validation_tail": 0.0, "epochs": 1})
    detector.fit(train, covariates=[1])
    windows = torch.from_numpy(np.ascontiguousarray(sliding_windows(train, WINDOW)))
    level = detector._level_errors(windows)
    assert float(level.max()) < 1e-6
    shifted = windows.clone()
    shifted[:, -3:, 0] += 5.0  # only the newest steps move: a heavy weight there must show
    assert float(detector._level_errors(shifted)[:, 0].min()) > 0.0


def test_the_scored_step_beyond_the_training_range_scores_at_once_and_only_then() -> None:
    """A spike is judged on the step it happens: the extreme term adds its distance outside the
    training range (in training variances), zero for every step inside it."""
    train = _series(800, seed=0)
    detector = StructureAwareDetector(**{**TINY, "extreme_weight": 10.0, "validation_tail": 0.0, "epochs": 1})
    detector.fit(train)
    windows = torch.from_numpy(np.ascontiguousarray(sliding_windows(train, WINDOW)))
    assert float(detector._extreme_errors(windows).max()) == 0.0
    spiked = windows[:5].clone()
    spiked[:, -1, 2] = float(train[:, 2].max()) + 2.0 * float(train[:, 2].std())
    extreme = detector._extreme_errors(spiked)
    np.testing.assert_allclose(extreme[:, 2].numpy(), 4.0, rtol=1e-3)  # 2 standard deviations out, squared
    assert float(extreme[:, :2].abs().max()) == 0.0
    echo = windows[:5].clone()
    echo[:, -2, 2] = spiked[0, -1, 2]  # beyond the range one step before the scored one
    assert float(detector._extreme_errors(echo).max()) == 0.0
    without = _twin(detector, extreme_weight=0.0)
    gap = detector.score(spiked.numpy()).contributions - without.score(spiked.numpy()).contributions
    np.testing.assert_allclose(gap[:, 2], 40.0, rtol=1e-3)


def test_the_extreme_term_survives_save_and_load(tmp_path) -> None:
    detector = StructureAwareDetector(**{**TINY, "extreme_weight": 10.0, "validation_tail": 0.0, "epochs": 1})
    detector.fit(_series(300, seed=0))
    detector.save(tmp_path)
    loaded = StructureAwareDetector.load(tmp_path)
    spiked = np.ascontiguousarray(sliding_windows(_series(60, seed=1), WINDOW))
    spiked[:, -1, 0] += 5.0
    before, after = detector.score(spiked), loaded.score(spiked)
    assert (before.contributions[:, 0] > 10.0).all(), "the spike is beyond the training range"
    np.testing.assert_allclose(after.contributions, before.contributions, rtol=1e-5)


def test_covariates_and_drifting_features_have_no_extreme_term() -> None:
    detector = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "extreme_weight": 10.0, "epochs": 1})
    detector.fit(_drifting(300, seed=0), covariates=[1])
    assert detector._extreme_scale[1] == 0.0 and detector._extreme_scale[0] > 0.0
    walk = StructureAwareDetector(**{**TINY, "drift_ratio": 0.5, "extreme_weight": 10.0, "epochs": 1})
    walk.fit(_drifting(300, seed=0))
    assert walk.drifting == [1] and walk._extreme_scale[1] == 0.0


def test_an_artifact_from_before_extreme_weight_reads_as_it_was_trained(tmp_path) -> None:
    detector = StructureAwareDetector(**{**TINY, "extreme_weight": 0.0, "epochs": 1})
    detector.fit(_series(300, seed=0))
    detector.save(tmp_path)
    meta_path = tmp_path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["extreme_weight"]
    meta_path.write_text(json.dumps(meta))
    with np.load(tmp_path / "arrays.npz") as arrays:
        kept = {key: arrays[key] for key in arrays.files if not key.startswith("extreme_")}
    np.savez(tmp_path / "arrays.npz", **kept)
    loaded = StructureAwareDetector.load(tmp_path)
    assert loaded.extreme_weight == 0.0
    windows = np.ascontiguousarray(sliding_windows(_series(60, seed=1) * 3.0, WINDOW))
    np.testing.assert_allclose(loaded.score(windows).scores, detector.score(windows).scores, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unseen_normal_data_scores_at_the_training_level(seed: int) -> None:
    """A model that fits its training windows far better than unseen normal data has thresholds
    that do not transfer (held-out telemetry scored orders of magnitude above training once):
    on the normal continuation of the generator's signal the scores stay at the training level."""
    spec = DetectorRegistry().spec("structure_aware")
    data = generate_synthetic(
        SyntheticConfig(n_features=4, train_steps=1500, test_steps=1200, anomaly_ratio=0.0, seed=seed)
    )
    trained = train_channel("structure_aware", "S-1", data.train, config=spec.small_config)
    window = spec.small_config["window"]
    unseen = trained.score(np.ascontiguousarray(sliding_windows(data.test, window))).scores
    seen = trained.score(np.ascontiguousarray(sliding_windows(data.train, window))).scores
    assert 0.75 < np.median(unseen) / np.median(seen) < 1.5
    assert np.quantile(unseen, 0.99) / np.quantile(seen, 0.99) < 1.5
