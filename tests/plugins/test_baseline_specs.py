"""The baseline plugins' specs: registered, complete, and in agreement with their constructors."""

from __future__ import annotations

import pytest

from streamproc.detection import DetectorRegistry

BASELINES = ["range", "usad", "tranad", "omnianomaly", "mscred"]
REGISTRY = DetectorRegistry(BASELINES)


@pytest.mark.parametrize("name", BASELINES)
def test_default_config_is_what_the_constructor_defaults_to(name: str) -> None:
    spec = REGISTRY.spec(name)
    assert spec.factory().config == dict(spec.default_config)
    assert spec.build().config == dict(spec.default_config)


@pytest.mark.parametrize("name", BASELINES)
def test_small_config_sets_every_key_and_stays_on_the_cpu(name: str) -> None:
    spec = REGISTRY.spec(name)
    assert set(spec.small_config) == set(spec.default_config)
    assert spec.small_config.get("device", "cpu") == "cpu"
    assert spec.build(**spec.small_config).config == dict(spec.small_config)
