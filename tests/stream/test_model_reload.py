"""A running worker follows the model store's pointers: a shadow scored beside the live model
and flagged, promote, rollback and a candidate that does not fit, with every window scored once
throughout and the alerts of the live scores, swaps included."""

from __future__ import annotations

import dataclasses
import time

import pytest

from streamproc.config import Settings
from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, WindowVerdicts
from streamproc.training import ModelStore, train_channel

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]

SEGMENT = 140  # readings streamed between two changes of the live model (four fit the 600 test steps)


def _other_model(window: int):
    data = generate_synthetic(SyntheticConfig(n_features=4, train_steps=600, test_steps=100, seed=99))
    return train_channel("pca", "a0", data.train, config={"window": window})


def _wait_for_log(worker, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in worker.log():
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker never logged {text!r}:\n{worker.log()[-3000:]}")


def test_a_worker_scores_the_shadow_swaps_models_on_promote_and_rollback_and_scores_every_window_once(
    make_pipeline, stream_models, tmp_path, run_cli, monkeypatch
):
    channel = stream_models.channels["a0"]
    store = ModelStore(tmp_path / "models")
    first = stream_models.store.load("pca", "a0")
    store.save(first)
    second = _other_model(stream_models.window)
    store.save(second, role="shadow")
    misfit = _other_model(stream_models.window + 4)
    store.save(misfit, role="none")
    models = dataclasses.replace(stream_models, root=tmp_path / "models")
    pipe = make_pipeline(tmp_path, "model-reload", models)
    try:
        worker = pipe.start_worker(env={"STREAMPROC_DETECTORS__RELOAD_INTERVAL_S": "0.3"})
        expected_versions = []

        def stream(segment: int, version: str, shadow: str | None = None) -> None:
            start, stop = segment * SEGMENT, (segment + 1) * SEGMENT
            pipe.produce([channel], start, stop)
            ends = [models.window_end(s) for s in models.window_steps(stop) if s >= start]
            expected_versions.extend((end, version, False) for end in ends)
            if shadow is not None:
                expected_versions.extend((end, shadow, True) for end in ends)
            pipe.wait_for(
                lambda: len(pipe.scored_windows().get("a0", [])) >= len(expected_versions),
                what=f"the windows of segment {segment}",
            )

        stream(0, first.version, shadow=second.version)
        store.promote("pca", "a0", 2)
        _wait_for_log(worker, "pca a0: now scoring with live version 2")
        stream(1, second.version)
        store.rollback("pca", "a0")
        _wait_for_log(worker, "pca a0: now scoring with live version 1")
        stream(2, first.version)
        store.promote("pca", "a0", 3)
        _wait_for_log(worker, "pca a0: live version 3 refused")
        stream(3, first.version)
        time.sleep(1.0)  # anything scored twice would arrive by now
        scored = sorted(
            (r.record["window_end"], r.record["model_version"], r.record["shadow"]) for r in pipe.records("scores")
        )
        assert scored == sorted(expected_versions)
        # alerts: what the worker's fusion gives the live scores of each window, offline, across
        # the swaps (fusion state carries over; the shadow's scores never enter)
        fuser = Fuser.from_settings(
            Settings.load(env={}, overrides={"window.size": models.window, "window.stride": models.stride}).fusion
        )
        offline = {m.version: (m, *m.score_series(channel.test)) for m in (first, second)}
        state, expected_alerts = ChannelFusion(), []
        for end, version, shadow in sorted(expected_versions):
            if shadow:
                continue
            model, scores, contributions = offline[version]
            step = (end - models.start_ms) // models.step_ms
            verdict = DetectorVerdict("pca", version, float(scores[step]), model.threshold, contributions[step])
            expected_alerts += fuser.fuse(state, WindowVerdicts("a0", end, [verdict], channel.feature_names))
        published = [(r.record["alert_id"], r.record["state"], r.record["updated_at"]) for r in pipe.records("alerts")]
        assert expected_alerts, "a0 has planted anomalies: alerts are part of the check"
        assert published == [(e.alert_id, e.state, e.updated_at) for e in expected_alerts]
        # the comparison reads the same topic: the windows of segment 0, scored by both versions
        for key, value in pipe.env().items():
            if key.startswith("STREAMPROC_") or key == "KAFKA_BOOTSTRAP":
                monkeypatch.setenv(key, value)
        code, out, err = run_cli("models", "compare", "pca", "--channels", "a0", "--quiet", "1")
        assert code == 0, err
        shadowed = sum(1 for _, _, shadow in expected_versions if shadow)
        row = out.strip().splitlines()[1].split()
        assert row[:4] == ["a0", first.version, second.version, str(shadowed)]
    finally:
        pipe.close()
