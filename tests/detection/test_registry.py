from __future__ import annotations

import types

import numpy as np
import pytest

from streamproc.detection import Detector, DetectorRegistry, DetectorSpec, FitReport, PluginError, hookimpl


class _MeanDetector(Detector):
    name = "mean"

    def _fit(self, train, progress):
        self.mu = train.mean(axis=0)
        return FitReport(seconds=0.0, train_windows=len(train))

    def _score(self, windows):
        contributions = np.abs(windows[:, -1, :] - self.mu)
        return contributions.sum(axis=1), contributions

    def _arrays(self):
        return {"mu": self.mu}

    def _restore(self, arrays):
        self.mu = arrays["mu"]


def _plugin(*specs):
    module = types.SimpleNamespace()
    module.streamproc_detectors = hookimpl(lambda: list(specs))
    return module


def _spec(name="mean", **kw):
    return DetectorSpec(name=name, summary="test", factory=_MeanDetector, default_config={"window": 4}, **kw)


def test_extra_plugin_is_listed_beside_entry_points():
    registry = DetectorRegistry(extra=[("mine", _plugin(_spec()))])
    assert {"mean", "pca"} <= set(registry.names())
    info = {i.spec.name: i for i in registry.infos()}
    assert info["mean"].plugin == "mine"
    assert info["pca"].package == "streamproc"


def test_enabled_restricts_entry_points():
    assert DetectorRegistry(enabled=[], extra=[("mine", _plugin(_spec()))]).names() == ["mean"]


def test_enabled_unknown_plugin_is_named():
    with pytest.raises(PluginError, match="nope"):
        DetectorRegistry(enabled=["nope"])


def test_plugin_returning_a_non_spec_is_named():
    bad = types.SimpleNamespace(streamproc_detectors=hookimpl(lambda: ["not a spec"]))
    registry = DetectorRegistry(entry_points=False, extra=[("broken", bad)])
    with pytest.raises(PluginError, match="broken.*DetectorSpec"):
        registry.names()


def test_plugin_raising_is_named():
    def explode():
        raise RuntimeError("boom")

    bad = types.SimpleNamespace(streamproc_detectors=hookimpl(explode))
    with pytest.raises(PluginError, match="'broken'.*boom"):
        DetectorRegistry(entry_points=False, extra=[("broken", bad)]).names()


def test_duplicate_detector_names_are_rejected():
    registry = DetectorRegistry(entry_points=False, extra=[("a", _plugin(_spec())), ("b", _plugin(_spec()))])
    with pytest.raises(PluginError, match="both"):
        registry.names()


def test_unknown_detector_lists_available():
    with pytest.raises(KeyError, match="available: .*pca"):
        DetectorRegistry().spec("nope")


def test_spec_rejects_unknown_config_keys():
    with pytest.raises(ValueError, match="unknown config key"):
        _spec().build(windw=3)


def test_spec_name_must_be_identifier():
    with pytest.raises(ValueError):
        _spec(name="not valid")


def test_artifact_of_another_detector_is_refused(tmp_path):
    from streamproc_plugins.pca import PCADetector

    from streamproc.detection import ArtifactError

    detector = _MeanDetector(window=4)
    detector.fit(np.random.default_rng(0).normal(size=(50, 3)))
    detector.save(tmp_path)
    with pytest.raises(ArtifactError, match="'mean' model"):
        PCADetector.load(tmp_path)


def test_artifact_never_unpickles(tmp_path):
    detector = _MeanDetector(window=4)
    detector.fit(np.random.default_rng(0).normal(size=(50, 3)))
    detector.save(tmp_path)
    # An object array can only be read by unpickling: load must refuse it.
    np.savez(tmp_path / "arrays.npz", mu=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        _MeanDetector.load(tmp_path)
