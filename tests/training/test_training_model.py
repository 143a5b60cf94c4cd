from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.detection import ArtifactError, Detector, DetectorRegistry, DetectorSpec, FitReport
from streamproc.thresholds import Spot, ThresholdConfig
from streamproc.training import (
    CALIBRATION_FILE,
    ModelStore,
    TrainedModel,
    TrainingError,
    TrainingOptions,
    data_fingerprint,
    sampling_period_ms,
    split_validation,
    train_channel,
)

SMALL = {"window": 12, "components": 0.95, "max_train_windows": 2000, "seed": 0}


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(
        SyntheticConfig(n_features=4, train_steps=1200, test_steps=900, anomaly_ratio=0.06, seed=21)
    )


@pytest.fixture(scope="module")
def model(data):
    return train_channel("pca", "S-1", data.train, config=SMALL, feature_names=data.feature_names)


def test_trained_model_exposes_what_the_stream_needs(model, data) -> None:
    assert (model.window, model.n_features, model.detector_name, model.channel) == (12, 4, "pca", "S-1")
    assert isinstance(model.version, str) and len(model.version) == 12
    assert np.isfinite(model.threshold) and model.threshold > 0
    assert model.threshold_state.threshold == model.threshold
    assert model.feature_names == data.feature_names
    windows = np.stack([data.test[i : i + 12] for i in range(5)])
    batch = model.score(windows)
    assert batch.scores.shape == (5,) and batch.contributions.shape == (5, 4)


def test_score_takes_raw_data_and_applies_the_stored_scaler(model, data) -> None:
    window = data.test[:12][None]
    expected = model.detector.score(model.scaler.transform(window)).scores
    np.testing.assert_allclose(model.score(window).scores, expected)
    # The scaler was fitted on training data only: its centre is the training median.
    np.testing.assert_allclose(model.scaler.center, np.median(data.train, axis=0), rtol=1e-5)


def test_score_series_places_each_window_at_its_last_step(model, data) -> None:
    scores, contributions = model.score_series(data.test, batch_size=100)
    assert scores.shape == (900,) and contributions.shape == (900, 4)
    assert np.isnan(scores[:11]).all() and np.isfinite(scores[11:]).all()
    np.testing.assert_allclose(scores[11 + 37], model.score(data.test[37:49][None]).scores[0], rtol=1e-6)
    again, _ = model.score_series(data.test, batch_size=7)
    np.testing.assert_allclose(again, scores, rtol=1e-5)


def test_threshold_is_calibrated_on_the_held_out_tail(model, data) -> None:
    training = model.metadata["training"]
    assert training["validation_steps"] == 240 and training["fit_steps"] == 960
    assert training["calibration"] == {"source": "validation", "scores": 240}
    assert len(model.calibration_scores) == 240
    # The scores of exactly the windows that end in the held-out steps.
    np.testing.assert_allclose(model.calibration_scores, model.score_series(data.train)[0][960:], rtol=1e-5)
    assert model.threshold >= np.quantile(model.calibration_scores, 0.98)


def test_fingerprint_and_metadata(model, data) -> None:
    training = model.metadata["training"]
    assert training["data_fingerprint"] == data_fingerprint(data.train)
    assert training["data_fingerprint"]["shape"] == [1200, 4]
    assert training["fit_report"]["validation_loss"] is not None
    json.dumps(model.metadata)


def test_training_is_deterministic(data) -> None:
    again = train_channel("pca", "S-1", data.train, config=SMALL)
    first = train_channel("pca", "S-1", data.train, config=SMALL)
    assert again.threshold == first.threshold
    np.testing.assert_array_equal(again.score_series(data.test)[0], first.score_series(data.test)[0])


def test_fingerprint_changes_with_values_and_shape(data) -> None:
    base = data_fingerprint(data.train)
    changed = data.train.copy()
    changed[0, 0] += 1e-3
    assert data_fingerprint(changed)["sha256"] != base["sha256"]
    assert data_fingerprint(data.train.reshape(600, 8))["sha256"] != base["sha256"]


def test_short_channels_calibrate_on_out_of_sample_scores_of_every_training_window(data) -> None:
    train = data.train[:300]
    model = train_channel("pca", "tiny", train, config=SMALL)
    assert model.metadata["training"]["calibration"] == {"source": "cross-fit", "scores": 300 - 11}
    assert len(model.calibration_scores) == 300 - 11
    # The windows ending in the second half are scored by a model fitted on the first half alone
    # (same scaler as the final model), those of the first half by one fitted on the second.
    detector = DetectorRegistry().spec("pca").build(**SMALL)
    detector.fit(model.scaler.transform(train[:150]))
    first_half = TrainedModel(detector, model.scaler, Spot(ThresholdConfig()), np.zeros(0), {})
    np.testing.assert_allclose(
        model.calibration_scores[:150], first_half.score_series(train[150 - 11 :])[0][11:], rtol=1e-5
    )
    # Out of sample, they sit above what the final model scores on the windows it fitted.
    in_sample = model.score_series(train)[0][11:]
    assert np.quantile(model.calibration_scores, 0.99) > np.quantile(in_sample, 0.99)


def test_a_channel_too_short_to_halve_calibrates_on_its_own_training_windows_with_a_margin(data) -> None:
    model = train_channel("pca", "tinier", data.train[:24], config=SMALL)
    assert model.metadata["training"]["calibration"]["source"] == "in-sample"
    assert len(model.calibration_scores) == 24 - 11
    in_sample = model.score_series(data.train[:24])[0][11:]
    np.testing.assert_allclose(model.calibration_scores, 1.5 * in_sample, rtol=1e-5)


def test_a_detector_may_ask_short_channels_to_calibrate_in_sample(data) -> None:
    pca = DetectorRegistry().spec("pca")
    spec = dataclasses.replace(pca, name="pca_in_sample", short_calibration="in-sample")
    train = data.train[:300]
    options = TrainingOptions(in_sample_margin=2.0)
    model = train_channel(spec, "tiny", train, config=SMALL, options=options)
    assert model.metadata["training"]["calibration"] == {"source": "in-sample", "scores": 300 - 11}
    np.testing.assert_allclose(model.calibration_scores, 2.0 * model.score_series(train)[0][11:], rtol=1e-5)
    # POT scales with its scores: the margin multiplies the threshold
    plain = train_channel(spec, "tiny", train, config=SMALL, options=TrainingOptions(in_sample_margin=1.0))
    assert model.threshold == pytest.approx(2.0 * plain.threshold, rel=1e-4)
    with pytest.raises(ValueError, match="short_calibration"):
        dataclasses.replace(pca, short_calibration="held-out")
    for margin in (0.5, float("inf")):
        with pytest.raises(TrainingError, match="in_sample_margin"):
            TrainingOptions(in_sample_margin=margin)


def test_split_leaves_the_fit_part_longer_than_a_window() -> None:
    assert split_validation(1000, 100, 0.2) == 200
    assert split_validation(150, 100, 0.2) == 30
    assert split_validation(110, 100, 0.2) == 9
    assert split_validation(101, 100, 0.2) == 0


class _ValidationProbe(Detector):
    name = "probe"
    seen: list = []

    def __init__(self, *, window: int = 5) -> None:
        super().__init__(window=window)

    def _fit(self, train, progress, validation=None):
        _ValidationProbe.seen.append((train.copy(), None if validation is None else validation.copy()))
        return FitReport(seconds=0.0, train_windows=len(train))

    def _score(self, windows):
        return np.abs(windows[:, -1]).sum(axis=1), np.abs(windows[:, -1])

    def _arrays(self):
        return {}

    def _restore(self, arrays):
        return None


def test_detector_gets_the_fit_part_and_the_tail_with_window_context(data) -> None:
    spec = DetectorSpec(name="probe", summary="", factory=_ValidationProbe, default_config={"window": 5})
    _ValidationProbe.seen.clear()
    model = train_channel(spec, "S-1", data.train[:500], options=TrainingOptions(validation_fraction=0.2))
    fit_part, validation = _ValidationProbe.seen[-1]
    scaled = model.scaler.transform(data.train[:500])
    np.testing.assert_array_equal(fit_part, scaled[:400])
    np.testing.assert_array_equal(validation, scaled[396:])


def test_threshold_options_are_used_and_stored(data) -> None:
    options = TrainingOptions(threshold=ThresholdConfig(risk=1e-2, adaptation="spot"))
    loose = train_channel("pca", "S-1", data.train, config=SMALL, options=options)
    strict = train_channel(
        "pca", "S-1", data.train, config=SMALL, options=TrainingOptions(threshold=ThresholdConfig(risk=1e-4))
    )
    assert loose.threshold < strict.threshold
    assert loose.threshold_state.config.adaptation == "spot"
    assert loose.metadata["training"]["options"]["threshold"]["risk"] == 1e-2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"config": {"no_such_key": 1}}, "unknown config key"),
        ({"config": {"window": 2000}}, "training steps"),
        ({"config": {"components": 0.9, "window": "abc"}}, "^detector 'pca': window='abc': "),
        ({"config": {"window": 1}}, "^detector 'pca': window=1: window must be >= 2"),
    ],
)
def test_bad_requests_raise_training_errors(data, kwargs, message) -> None:
    with pytest.raises(TrainingError, match=message):
        train_channel("pca", "S-1", data.train, **kwargs)


def test_unknown_detector_and_infinite_data_are_training_errors(data) -> None:
    with pytest.raises(TrainingError, match="unknown detector"):
        train_channel("no_such_detector", "S-1", data.train)
    broken = data.train.copy()
    broken[3, 1] = np.inf  # NaN is a missing value (below); infinity is an error
    with pytest.raises(TrainingError, match="infinite"):
        train_channel("pca", "S-1", broken, config=SMALL)


def test_store_round_trip(tmp_path, model, data) -> None:
    store = ModelStore(tmp_path)
    path = store.save(model)
    assert path == tmp_path / "pca" / "S-1" / "versions" / "1" == store.version_path("pca", "S-1", 1)
    assert {p.name for p in path.iterdir()} == {"metadata.json", "arrays.npz", CALIBRATION_FILE, "version.json"}
    assert store.channels("pca") == ["S-1"] and store.detectors() == ["pca"]
    loaded = store.load("pca", "S-1")
    assert (loaded.version, loaded.threshold, loaded.window) == (model.version, model.threshold, model.window)
    np.testing.assert_array_equal(loaded.score_series(data.test)[0], model.score_series(data.test)[0])
    np.testing.assert_array_equal(loaded.calibration_scores, model.calibration_scores)
    assert loaded.threshold_state.to_json() == model.threshold_state.to_json()
    assert not list(tmp_path.glob("pca/S-1/versions/.*")), "no staging directory is left behind"


def test_store_errors(tmp_path) -> None:
    store = ModelStore(tmp_path)
    assert store.channels("pca") == []
    with pytest.raises(ArtifactError, match="no 'pca' model"):
        store.load("pca", "S-9")
    with pytest.raises(ArtifactError, match="invalid"):
        store.path("pca", "../escape")


def test_reuse_compares_config_options_and_data(tmp_path, model, data) -> None:
    store = ModelStore(tmp_path)
    store.save(model)
    config = model.detector.config
    options = TrainingOptions().to_json()
    fingerprint = data_fingerprint(data.train)
    reused = store.reuse("pca", "S-1", config=config, options=options, fingerprint=fingerprint)
    assert reused.model.version == model.version and not reused.recalibrated
    assert (
        store.reuse("pca", "S-1", config={**config, "components": 2}, options=options, fingerprint=fingerprint) is None
    )
    assert (
        store.reuse(
            "pca", "S-1", config=config, options={**options, "validation_fraction": 0.1}, fingerprint=fingerprint
        )
        is None
    )
    assert (
        store.reuse("pca", "S-1", config=config, options=options, fingerprint=data_fingerprint(data.train[:-1])) is None
    )
    assert store.reuse("pca", "S-2", config=config, options=options, fingerprint=fingerprint) is None


def test_reuse_recalibrates_when_only_the_threshold_settings_differ(tmp_path, model, data) -> None:
    store = ModelStore(tmp_path)
    store.save(model)
    riskier = TrainingOptions(threshold=ThresholdConfig(risk=0.05))
    reused, recalibrated = store.reuse(
        "pca", "S-1", config=model.detector.config, options=riskier.to_json(), fingerprint=data_fingerprint(data.train)
    )
    assert recalibrated and reused.version == model.version and reused.threshold < model.threshold
    assert reused.threshold == model.recalibrated(ThresholdConfig(risk=0.05)).threshold
    again = store.load("pca", "S-1")  # saved recalibrated: the next lookup needs nothing more
    assert again.threshold == reused.threshold
    again_reused = store.reuse(
        "pca", "S-1", config=model.detector.config, options=riskier.to_json(), fingerprint=data_fingerprint(data.train)
    )
    assert again_reused.model.threshold == reused.threshold and not again_reused.recalibrated


def test_scored_features_that_never_varied_in_training_are_reported(data) -> None:
    train = data.train.copy()
    train[:, 1] = 5.0 + 1e-4 * np.sin(np.arange(len(train)))  # a set point held in training
    train[:, 3] = 0.0  # constant too, but declared a covariate: never scored, not reported
    trained = train_channel("pca", "S-1", train, config=SMALL, feature_names=data.feature_names, covariates=[3])
    assert trained.metadata["training"]["flat_features"] == [data.feature_names[1]]
    assert train_channel("pca", "S-1", data.train, config=SMALL).metadata["training"]["flat_features"] == []


def test_the_sampling_period_is_the_median_step_of_the_training_timestamps(data) -> None:
    assert sampling_period_ms(None) is None and sampling_period_ms(np.array([5])) is None
    # A historian export: 1 s steps with a few gaps and a repeated time.
    steps = np.array([1000] * 50 + [60_000, 0, 1000, 3_600_000] + [1000] * 50)
    assert sampling_period_ms(np.concatenate(([0], np.cumsum(steps)))) == 1000
    times = 1_700_000_000_000 + 250 * np.arange(len(data.train))
    model = train_channel("pca", "S-1", data.train, config=SMALL, timestamps=times)
    assert model.sampling_period_ms == 250
    assert train_channel("pca", "S-1", data.train, config=SMALL).sampling_period_ms is None


def test_missing_training_values_are_filled_by_the_policy_and_long_runs_left_out(data) -> None:
    from streamproc.windows import MissingPolicy

    train = data.train.astype(np.float64)
    train[100:102, 1] = np.nan  # filled (held)
    train[500:520, 2] = np.nan  # longer than the limit: these 20 rows are left out
    times = 1_700_000_000_000 + 1000 * np.arange(len(train))
    model = train_channel("pca", "S-1", train, config=SMALL, timestamps=times, missing=MissingPolicy(limit=3))
    assert model.metadata["training"]["missing_values"] == {"filled": 2, "rows_left_out": 20}
    assert model.metadata["training"]["fit_steps"] + model.metadata["training"]["validation_steps"] == len(train) - 20
    assert model.sampling_period_ms == 1000 and np.isfinite(model.threshold)
    with pytest.raises(TrainingError, match=r"left out for missing values"):
        train_channel("pca", "S-1", np.full((30, 4), np.nan), config=SMALL)


def test_reuse_reads_a_setting_added_after_the_model_was_stored_at_its_old_value(tmp_path) -> None:
    """A stored structure_aware model from before ``extreme_weight`` stands for one trained now
    with the setting at the value that reproduces it (0: off), so upgrading retrains nothing."""
    data = generate_synthetic(SyntheticConfig(n_features=3, train_steps=400, test_steps=100, seed=5))
    spec = DetectorRegistry().spec("structure_aware")
    config = {**spec.small_config, "epochs": 1}
    model = train_channel("structure_aware", "S-1", data.train, config=config)
    store = ModelStore(tmp_path)
    path = store.save(model)
    meta = json.loads((path / "metadata.json").read_text())
    del meta["config"]["extreme_weight"]
    (path / "metadata.json").write_text(json.dumps(meta))
    options, fingerprint = TrainingOptions().to_json(), data_fingerprint(data.train)
    resolved = model.detector.config
    assert store.reuse("structure_aware", "S-1", config=resolved, options=options, fingerprint=fingerprint)
    changed = {**resolved, "extreme_weight": 3.0}
    assert store.reuse("structure_aware", "S-1", config=changed, options=options, fingerprint=fingerprint) is None


def test_drift_is_measured_against_held_out_calibration_scores_only(model) -> None:
    """In-sample calibration scores are the model's own training windows: unseen normal data
    scores higher even without drift, so such a model has no reference to drift from."""
    assert model.metadata["training"]["calibration"]["source"] == "validation"
    np.testing.assert_array_equal(model.reference_scores, model.calibration_scores)
    in_sample = copy.copy(model)
    in_sample.metadata = json.loads(json.dumps(model.metadata))
    in_sample.metadata["training"]["calibration"]["source"] = "in-sample"
    assert len(in_sample.reference_scores) == 0
