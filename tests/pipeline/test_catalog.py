import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.errors import StreamprocError
from streamproc.pipeline import ModelCatalog
from streamproc.training import ModelStore, Pointers, train_channel


def test_loads_models_once(stream_models):
    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window)
    assert catalog.unknown(["a0", "a1", "a0"]) == ["a0", "a1"]
    catalog.prepare(["a0"])
    entry = catalog.get("a0")
    assert entry.problem is None and entry.n_features == 4
    assert entry.feature_names == stream_models.channels["a0"].feature_names
    assert catalog.unknown(["a0", "a1"]) == ["a1"]


def test_missing_model_is_retried_later(stream_models, tmp_path):
    clock = [0.0]
    store = ModelStore(tmp_path)
    catalog = ModelCatalog(store, ["pca"], stream_models.window, retry_after_s=10, clock=lambda: clock[0])
    catalog.prepare(["a0"])
    assert "no 'pca' model for channel 'a0'" in catalog.get("a0").problem
    shutil.copytree(stream_models.root / "pca", tmp_path / "pca")
    clock[0] = 5.0
    assert catalog.unknown(["a0"]) == []
    clock[0] = 10.0
    catalog.prepare(catalog.unknown(["a0"]))
    assert catalog.get("a0").problem is None
    assert catalog.available("a0") == ["pca"] and catalog.available("zz") == []


def test_model_of_another_window_is_unusable(stream_models):
    catalog = ModelCatalog(stream_models.store, ["pca"], stream_models.window + 1)
    catalog.prepare(["a0"])
    assert "uses windows of 16 samples but window.size is 17" in catalog.get("a0").problem


class _StubStore:
    """A model store holding fake models of given feature counts."""

    def __init__(
        self, features: dict[str, int], window: int = 8, devices: tuple[str, ...] = ("cpu",), score: float = 0.5
    ) -> None:
        self.features = features
        self.score = score
        self.window = window
        self.devices = devices
        self.placed: list[tuple[str, str]] = []

    def live_version(self, detector: str, channel: str) -> int | None:
        return 1 if detector in self.features else None

    def pointers(self, detector: str, channel: str) -> Pointers:
        return Pointers(live=self.live_version(detector, channel))

    def load(self, detector: str, channel: str, version: int | None = None):
        if detector not in self.features:
            raise StreamprocError(f"no {detector!r} model for channel {channel!r}")

        def use_device(device: str) -> None:
            if device not in self.devices:
                raise StreamprocError(f"no {device} device here")
            self.placed.append((detector, device))

        n = self.features[detector]
        return SimpleNamespace(
            threshold=1.0,
            window=self.window,
            n_features=n,
            feature_names=None,
            detector=SimpleNamespace(use_device=use_device),
            scaler=SimpleNamespace(center=np.zeros(n, np.float32)),
            score=lambda windows: (np.full(len(windows), self.score), np.zeros((len(windows), n))),
        )


def test_models_must_agree_on_features():
    catalog = ModelCatalog(_StubStore({"pca": 3, "usad": 2}), ["pca", "usad"], 8)
    catalog.prepare(["c"])
    assert "disagree on its number of features" in catalog.get("c").problem


def test_models_are_moved_to_the_workers_device():
    store = _StubStore({"pca": 2, "usad": 2})
    ModelCatalog(store, ["pca", "usad"], 8, device="cpu").prepare(["c"])
    assert store.placed == [("pca", "cpu"), ("usad", "cpu")]
    catalog = ModelCatalog(_StubStore({"usad": 2}), ["usad"], 8, device="cuda")
    catalog.prepare(["c"])
    assert "no cuda device here" in catalog.get("c").problem


def test_a_channel_is_scored_by_the_detectors_that_have_a_model():
    catalog = ModelCatalog(_StubStore({"usad": 2}), ["pca", "usad"], 8)
    catalog.prepare(["c"])
    assert list(catalog.get("c").models) == ["usad"]


def test_needs_a_detector(stream_models):
    with pytest.raises(StreamprocError, match="detectors.enabled"):
        ModelCatalog(stream_models.store, [], 16)


def _store_with_a0(stream_models, root) -> ModelStore:
    store = ModelStore(root)
    store.save(stream_models.store.load("pca", "a0"))
    return store


def _other_model(window: int):
    """Another pca model of a0's shape (four features), trained on other data."""
    data = generate_synthetic(SyntheticConfig(n_features=4, train_steps=600, test_steps=100, seed=99))
    return train_channel("pca", "a0", data.train, config={"window": window})


def test_a_shadow_is_loaded_beside_a_promoted_version_replaces_the_live_one_and_a_rollback_brings_it_back(
    stream_models, tmp_path
):
    store = _store_with_a0(stream_models, tmp_path)
    catalog = ModelCatalog(store, ["pca"], stream_models.window)
    catalog.prepare(["a0"])
    first = catalog.get("a0").models["pca"]
    assert catalog.changed() == []
    candidate = _other_model(stream_models.window)
    store.save(candidate, role="shadow")
    assert catalog.changed() == ["a0"]
    assert "shadow version 2" in catalog.reload(["a0"]).swapped[0]
    entry = catalog.get("a0")
    assert entry.models["pca"] is first and entry.shadows["pca"].version == candidate.version
    store.promote("pca", "a0", 2)
    assert catalog.changed() == ["a0"]
    reloaded = catalog.reload(["a0"])
    assert reloaded.refused == [] and "live version 2" in reloaded.swapped[0]
    assert catalog.get("a0").models["pca"].version == candidate.version and catalog.changed() == []
    assert catalog.get("a0").shadows == {}, "promoted, it is no longer its own shadow"
    store.rollback("pca", "a0")
    catalog.reload(catalog.changed())
    assert catalog.get("a0").models["pca"].version == first.version


def test_a_live_version_that_does_not_fit_is_refused_once_and_the_old_model_keeps_scoring(stream_models, tmp_path):
    store = _store_with_a0(stream_models, tmp_path)
    catalog = ModelCatalog(store, ["pca"], stream_models.window)
    catalog.prepare(["a0"])
    first = catalog.get("a0").models["pca"]
    store.save(_other_model(stream_models.window + 4))  # loads, but scores windows of another size
    reloaded = catalog.reload(catalog.changed())
    assert reloaded.swapped == [] and "live version 2 refused" in reloaded.refused[0]
    assert reloaded.refused[0].endswith(f"version {first.version} stays")
    assert catalog.get("a0").models["pca"] is first and catalog.get("a0").problem is None
    assert catalog.changed() == [], "refused once per pointer change, not at every look"


def test_pointers_unreadable_for_a_moment_keep_the_loaded_models(stream_models, tmp_path):
    store = _store_with_a0(stream_models, tmp_path)
    catalog = ModelCatalog(store, ["pca"], stream_models.window)
    catalog.prepare(["a0"])
    first = catalog.get("a0").models["pca"]
    pointers = store.path("pca", "a0") / "pointers.json"
    saved = pointers.read_text()
    pointers.write_text("{not json")  # a shared volume's hiccup
    assert catalog.changed() == []
    assert catalog.available("a0") == ["pca"], "answered from what was looked up before"
    pointers.write_text(saved)
    assert catalog.get("a0").models["pca"] is first


def test_a_shadow_of_another_shape_is_not_scored_and_does_not_block_a_promotion(stream_models, tmp_path):
    store = _store_with_a0(stream_models, tmp_path)
    catalog = ModelCatalog(store, ["pca"], stream_models.window)
    catalog.prepare(["a0"])
    wide = generate_synthetic(SyntheticConfig(n_features=5, train_steps=600, test_steps=100, seed=98))
    store.save(train_channel("pca", "a0", wide.train, config={"window": stream_models.window}), role="shadow")
    candidate = _other_model(stream_models.window)
    store.save(candidate, role="none")
    store.promote("pca", "a0", 3)
    reloaded = catalog.reload(catalog.changed())
    assert "does not fit the live model" in reloaded.refused[0]
    entry = catalog.get("a0")
    assert entry.models["pca"].version == candidate.version and entry.shadows == {}


def test_a_backtest_catalog_leaves_shadows_alone(stream_models, tmp_path):
    store = _store_with_a0(stream_models, tmp_path)
    store.save(_other_model(stream_models.window), role="shadow")
    catalog = ModelCatalog(store, ["pca"], stream_models.window, shadows=False)
    catalog.prepare(["a0"])
    assert catalog.get("a0").shadows == {} and catalog.changed() == []


def test_a_model_that_breaks_the_scoring_contract_is_refused_with_the_reason():
    catalog = ModelCatalog(_StubStore({"pca": 3}, score=float("nan")), ["pca"], 8)
    catalog.prepare(["c"])
    assert "non-finite score" in catalog.get("c").problem
