"""``streamproc models``: versions written by ``train``, listed, shown, promoted, put in the
shadow, rolled back and retired from the command line."""

from __future__ import annotations

import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic_channels, write_telemanom
from streamproc.training import ModelStore, Pointers


@pytest.fixture
def trained(tmp_path, run_cli):
    """One channel trained twice (the second time as the shadow) through ``streamproc train``."""
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=3, train_steps=400, test_steps=200, seed=1), 1, prefix="S-"
    )
    data = tmp_path / "data"
    write_telemanom(data, channels)
    models = tmp_path / "models"
    common = ["train", "--detector", "pca", "--data", str(data), "--out", str(models), "--set", "window=8"]
    assert run_cli(*common)[0] == 0
    code, _, err = run_cli(*common, "--force", "--shadow")
    assert code == 0, err
    return models, next(iter(channels))


def test_train_writes_versions_that_models_lists_and_shows(trained, run_cli) -> None:
    models, channel = trained
    code, out, _ = run_cli("models", "list", "--models", str(models))
    assert code == 0
    assert out.split("\n")[1].split() == ["pca", channel, "1", "2", "2", "-"]
    code, out, _ = run_cli("models", "show", "pca", channel, "--models", str(models))
    lines = out.strip().split("\n")
    assert code == 0 and lines[0].split()[:4] == ["VERSION", "STATE", "CREATED", "BY"]
    assert [line.split()[:2] for line in lines[1:]] == [["1", "live"], ["2", "shadow"]]


def test_promote_rollback_shadow_and_retire(trained, run_cli) -> None:
    models, channel = trained
    store = ModelStore(models)
    code, out, _ = run_cli("models", "promote", "pca", channel, "2", "--models", str(models))
    assert (code, out.strip()) == (0, f"pca {channel}: live 2, shadow -")
    assert store.pointers("pca", channel) == Pointers(live=2, history=(1,))
    code, out, _ = run_cli("models", "rollback", "pca", channel, "--models", str(models))
    assert (code, out.strip()) == (0, f"pca {channel}: live 1, shadow -")
    assert run_cli("models", "shadow", "pca", channel, "2", "--models", str(models))[0] == 0
    assert store.pointers("pca", channel).shadow == 2
    assert run_cli("models", "shadow", "pca", channel, "none", "--models", str(models))[0] == 0
    assert run_cli("models", "retire", "pca", channel, "2", "--models", str(models))[0] == 0
    assert [v.version for v in store.versions("pca", channel)] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "pca", "{channel}", "9"], "no version 9"),
        (["retire", "pca", "{channel}", "1"], "version 1 is live"),
        (["rollback", "pca", "{channel}"], "nothing to roll back to"),
        (["promote", "pca", "../up", "1"], "invalid channel name"),
        (["list", "--models", "{missing}"], "not a directory"),
    ],
)
def test_refusals_are_one_line_without_a_traceback(trained, run_cli, args, message) -> None:
    models, channel = trained
    filled = [a.format(channel=channel, missing=models / "missing") for a in args]
    if "--models" not in filled:
        filled += ["--models", str(models)]
    code, out, err = run_cli("models", *filled)
    assert code != 0 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_channels_first_model_is_live_even_when_trained_as_a_shadow(tmp_path, run_cli) -> None:
    channels = generate_synthetic_channels(
        SyntheticConfig(n_features=3, train_steps=400, test_steps=200, seed=2), 1, prefix="S-"
    )
    write_telemanom(tmp_path / "data", channels)
    models = tmp_path / "models"
    args = ["train", "--detector", "pca", "--data", str(tmp_path / "data"), "--out", str(models), "--set", "window=8"]
    assert run_cli(*args, "--shadow")[0] == 0
    assert ModelStore(models).pointers("pca", next(iter(channels))) == Pointers(live=1)
