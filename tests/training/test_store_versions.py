"""The model store as a registry: immutable versions, live and shadow pointers, promote,
rollback and retire, and folders written before versions existed."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.detection import ArtifactError
from streamproc.training import ModelStore, Pointers, train_channel

SMALL = {"window": 12, "components": 0.95, "max_train_windows": 2000, "seed": 0}


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(SyntheticConfig(n_features=4, train_steps=600, test_steps=300, seed=3))


@pytest.fixture(scope="module")
def models(data):
    """Three models of one channel that score differently (three training lengths)."""
    return [train_channel("pca", "S-1", data.train[: 300 + 100 * k], config=SMALL) for k in range(3)]


def _scores(model, data) -> np.ndarray:
    return model.score_series(data.test)[0]


def test_each_save_is_a_new_live_version_and_rollback_returns_to_the_one_before(tmp_path, models, data) -> None:
    store = ModelStore(tmp_path)
    for model in models[:2]:
        store.save(model)
    assert [v.version for v in store.versions("pca", "S-1")] == [1, 2]
    assert store.pointers("pca", "S-1") == Pointers(live=2, history=(1,))
    assert store.load("pca", "S-1").version == models[1].version
    assert store.rollback("pca", "S-1") == Pointers(live=1)
    np.testing.assert_array_equal(_scores(store.load("pca", "S-1"), data), _scores(models[0], data))
    with pytest.raises(ArtifactError, match="nothing to roll back to"):
        store.rollback("pca", "S-1")
    assert store.promote("pca", "S-1", 2) == Pointers(live=2, history=(1,))
    created = store.versions("pca", "S-1")[1]
    assert created.state == "live" and created.created_at and "@" in (created.created_by or "")


def test_a_shadow_version_is_stored_beside_the_live_one_and_promoted_in_its_place(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    store.save(models[0])
    store.save(models[1], role="shadow")
    assert store.pointers("pca", "S-1") == Pointers(live=1, shadow=2)
    assert store.load("pca", "S-1").version == models[0].version
    assert store.load("pca", "S-1", store.pointers("pca", "S-1").shadow).version == models[1].version
    assert store.promote("pca", "S-1", 2) == Pointers(live=2, history=(1,))
    assert store.pointers("pca", "S-1").shadow is None
    with pytest.raises(ArtifactError, match="its own shadow"):
        store.set_shadow("pca", "S-1", 2)
    assert store.set_shadow("pca", "S-1", 1).shadow == 1
    assert store.set_shadow("pca", "S-1", None).shadow is None


def test_a_broken_candidate_is_refused_with_the_reason_and_the_live_one_stays(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    store.save(models[0])
    broken = store.save(models[1], role="none")
    (broken / "arrays.npz").write_bytes(b"not an archive")
    with pytest.raises(ArtifactError, match="cannot be loaded"):
        store.promote("pca", "S-1", 2)
    with pytest.raises(ArtifactError, match="cannot be loaded"):
        store.set_shadow("pca", "S-1", 2)
    assert store.pointers("pca", "S-1") == Pointers(live=1)
    with pytest.raises(ArtifactError, match="no version 7"):
        store.promote("pca", "S-1", 7)


def test_retire_deletes_a_version_for_good_but_never_the_live_one(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    for model in models:
        store.save(model)
    with pytest.raises(ArtifactError, match="is live"):
        store.retire("pca", "S-1", 3)
    assert store.retire("pca", "S-1", 2) == Pointers(live=3, history=(1,), retired=(2,))
    assert not store.version_path("pca", "S-1", 2).exists()
    with pytest.raises(ArtifactError, match="retired"):
        store.promote("pca", "S-1", 2)
    store.save(models[1])
    assert store.pointers("pca", "S-1").live == 4, "a retired number is never given again"


def test_only_the_newest_versions_are_kept_besides_the_live_and_shadow_ones(tmp_path, models) -> None:
    store = ModelStore(tmp_path, keep_versions=1)
    store.save(models[0], role="none")
    store.save(models[1])
    store.save(models[2], role="shadow")
    for _ in range(3):
        store.save(models[0], role="none")
    assert [(v.version, v.state) for v in store.versions("pca", "S-1")] == [(2, "live"), (3, "shadow"), (6, "")]
    assert store.pointers("pca", "S-1").retired == (1, 4, 5)


def test_a_folder_from_before_versions_reads_as_live_version_1(tmp_path, models, data) -> None:
    store = ModelStore(tmp_path)
    path = store.save(models[0])
    legacy = tmp_path / "legacy"
    (legacy / "pca").mkdir(parents=True)
    shutil.copytree(path, legacy / "pca" / "S-1")
    (legacy / "pca" / "S-1" / "version.json").unlink()
    old = ModelStore(legacy)
    assert old.channels("pca") == ["S-1"] and old.pointers("pca", "S-1") == Pointers(live=1)
    assert old.live_path("pca", "S-1") == legacy / "pca" / "S-1"
    np.testing.assert_array_equal(_scores(old.load("pca", "S-1"), data), _scores(models[0], data))
    old.save(models[1])
    assert old.pointers("pca", "S-1") == Pointers(live=2, history=(1,))
    assert old.rollback("pca", "S-1").live == 1
    old.promote("pca", "S-1", 2)
    old.retire("pca", "S-1", 1)
    assert [v.version for v in old.versions("pca", "S-1")] == [2]
    assert not (legacy / "pca" / "S-1" / "metadata.json").exists()


def test_pointers_are_replaced_whole(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    store.save(models[0])
    store.save(models[1])
    base = store.path("pca", "S-1")
    written = json.loads((base / "pointers.json").read_text())
    assert Pointers.from_json(written) == Pointers(live=2, history=(1,))
    assert written == json.loads(json.dumps(dataclasses.asdict(Pointers(live=2, history=(1,)))))
    assert sorted(p.name for p in base.iterdir()) == [".lock", "pointers.json", "versions"], "no staging file left"


def test_pruning_never_takes_the_version_rollback_returns_to(tmp_path, models) -> None:
    store = ModelStore(tmp_path, keep_versions=1)
    store.save(models[0])
    store.save(models[1])  # live 2, rollback target 1
    for _ in range(3):
        store.save(models[2], role="shadow")
    pointers = store.pointers("pca", "S-1")
    assert (pointers.live, pointers.history[-1], pointers.shadow) == (2, 1, 5)
    assert store.rollback("pca", "S-1").live == 1


def test_unreadable_pointers_are_an_artifact_error(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    store.save(models[0])
    (store.path("pca", "S-1") / "pointers.json").write_text("[1, 2]")
    with pytest.raises(ArtifactError, match="unreadable"):
        store.pointers("pca", "S-1")
    assert store.live_version("pca", "S-1") is None


def test_a_store_that_cannot_be_written_refuses_changes_with_an_artifact_error(tmp_path, models) -> None:
    """A read-only mount, say; here the lock file's place is taken by a folder (root can write
    anywhere, not open a folder as a file)."""
    store = ModelStore(tmp_path)
    store.save(models[0])
    store.save(models[1])
    lock = store.path("pca", "S-1") / ".lock"
    lock.unlink()
    lock.mkdir()
    with pytest.raises(ArtifactError, match="cannot be written"):
        store.rollback("pca", "S-1")
    assert store.pointers("pca", "S-1").live == 2


def test_a_channels_first_model_is_live_even_when_saved_as_a_shadow(tmp_path, models) -> None:
    store = ModelStore(tmp_path)
    store.save(models[0], role="shadow")
    assert store.pointers("pca", "S-1") == Pointers(live=1)
    store.save(models[1], role="shadow")
    assert store.pointers("pca", "S-1") == Pointers(live=1, shadow=2)
