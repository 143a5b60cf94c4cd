from __future__ import annotations

import pytest

from streamproc.config import ConfigError, Secret, Settings, to_toml
from streamproc.errors import StreamprocError


def load(env=None, **kwargs):
    return Settings.load(env=env or {}, **kwargs)


def test_defaults():
    settings = load()
    assert settings.topics.readings == "sensors.readings"
    assert settings.topics.dead_letter == "readings.dlq"
    assert (settings.window.size, settings.window.stride) == (100, 10)
    assert settings.detectors.enabled == ["structure_aware", "pca"]
    assert settings.fusion.policy == "mean" and settings.fusion.open_after == 4 and settings.fusion.resolve_after == 20
    assert settings.worker.web_port == 6066
    assert settings.uses_embedded_broker


def test_each_layer_overrides_the_one_before(tmp_path):
    config = tmp_path / "streamproc.toml"
    config.write_text(
        'embedded = false\n[window]\nsize = 50\nstride = 5\n[kafka]\nbootstrap = "file:9092"\n'
        '[topics]\nscores = "file-scores"\n'
    )
    env = {
        "STREAMPROC_CONFIG": str(config),
        "STREAMPROC_WINDOW__SIZE": "60",
        "KAFKA_BOOTSTRAP": "env:9092",
        "STREAMPROC_TOPICS__SCORES": "env-scores",
    }
    settings = load(env, overrides={"window.size": 70, "topics": {"alerts": "flag-alerts"}})
    assert settings.window.size == 70  # override > env > file
    assert settings.window.stride == 5  # file > default
    assert settings.kafka.bootstrap == "env:9092"
    assert settings.topics.scores == "env-scores"
    assert settings.topics.alerts == "flag-alerts"
    assert settings.embedded is False and not settings.uses_embedded_broker


def test_explicit_config_file_beats_the_environment_variable(tmp_path):
    (tmp_path / "a.toml").write_text("[window]\nsize = 11\n")
    (tmp_path / "b.toml").write_text("[window]\nsize = 22\n")
    settings = Settings.load(tmp_path / "b.toml", env={"STREAMPROC_CONFIG": str(tmp_path / "a.toml")})
    assert settings.window.size == 22


def test_streamproc_bootstrap_variable_beats_kafka_bootstrap():
    settings = load({"KAFKA_BOOTSTRAP": "generic:9092", "STREAMPROC_KAFKA__BOOTSTRAP": "specific:9092"})
    assert settings.kafka.bootstrap == "specific:9092"


def test_path_overrides_are_accepted_for_text_settings(tmp_path):
    assert load(overrides={"detectors.models_dir": tmp_path}).detectors.models_dir == str(tmp_path)


def test_none_overrides_are_ignored_so_unset_flags_can_be_passed_through():
    assert load({"STREAMPROC_WINDOW__SIZE": "64"}, overrides={"window.size": None}).window.size == 64


def test_environment_strings_are_coerced():
    settings = load(
        {
            "STREAMPROC_EMBEDDED": "off",
            "STREAMPROC_WORKER__BATCH_WITHIN_S": "0.2",
            "STREAMPROC_DETECTORS__ENABLED": "pca, usad",
            "STREAMPROC_DETECTORS__CONFIG__PCA__N_COMPONENTS": "5",
            "STREAMPROC_DETECTORS__CONFIG__USAD": '{"epochs": 3, "alpha": 0.5}',
            "STREAMPROC_FUSION__POLICY": "K_OF_N",
            "STREAMPROC_FUSION__K": "2",
            "STREAMPROC_FUSION__WEIGHTS__USAD": "2.5",
            "STREAMPROC_FUSION__SEVERITY_BANDS": '{"low": 1.5, "critical": 3}',
            "STREAMPROC_KAFKA__CLIENT__SOCKET_TIMEOUT_MS": "1000",
            "STREAMPROC_KAFKA__SECURITY_PROTOCOL": "ssl",
        }
    )
    assert settings.embedded is False
    assert settings.worker.batch_within_s == 0.2
    assert settings.detectors.enabled == ["pca", "usad"]
    assert settings.detectors.config == {"pca": {"n_components": 5}, "usad": {"epochs": 3, "alpha": 0.5}}
    assert settings.fusion.policy == "k_of_n" and settings.fusion.k == 2
    assert settings.fusion.weights == {"usad": 2.5}
    assert settings.fusion.severity_bands == {"LOW": 1.5, "CRITICAL": 3.0}
    assert settings.fusion.severity(2.0) == "LOW" and settings.fusion.severity(3.0) == "CRITICAL"
    assert settings.fusion.severity(1.0) is None
    assert settings.kafka.client == {"socket.timeout.ms": "1000"}
    assert settings.kafka.security_protocol == "SSL"


def test_file_and_environment_merge_inside_mappings(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[detectors.config.pca]\nn_components = 3\nwhiten = true\n")
    settings = Settings.load(config, env={"STREAMPROC_DETECTORS__CONFIG__PCA__N_COMPONENTS": "7"})
    assert settings.detectors.config == {"pca": {"n_components": 7, "whiten": True}}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STREAMPROC_WINDOW__SIZE": "abc"},
            "window.size: expected an integer of at least 2, got 'abc' (from STREAMPROC_WINDOW__SIZE)",
        ),
        ({"STREAMPROC_WINDOW__STRIDE": "0"}, "window.stride: expected a positive integer, got '0'"),
        ({"STREAMPROC_WORKER__WEB_PORT": "70000"}, "worker.web_port: expected an integer from 1 to 65535"),
        ({"STREAMPROC_WORKER__BATCH_WITHIN_S": "soon"}, "worker.batch_within_s: expected a number"),
        ({"STREAMPROC_EMBEDDED": "maybe"}, "embedded: expected true or false"),
        ({"STREAMPROC_FUSION__POLICY": "median"}, "fusion.policy: expected one of max, mean, weighted, k_of_n"),
        ({"STREAMPROC_DETECTORS__DEVICE": "tpu"}, "detectors.device: expected text matching"),
        ({"STREAMPROC_DETECTORS__ENABLED": ""}, "detectors.enabled: expected at least one name"),
        ({"STREAMPROC_TOPICS__ALERTS": "has space"}, "topics.alerts: expected text matching"),
        ({"STREAMPROC_WINDOW__SIZES": "5"}, "window.sizes: unknown setting (from STREAMPROC_WINDOW__SIZES)"),
        ({"STREAMPROC_WINDOWS__SIZE": "5"}, "windows: unknown setting"),
        ({"STREAMPROC_WINDOW_SIZE": "5"}, "did you mean STREAMPROC_WINDOW__SIZE?"),
        ({"STREAMPROC_FUSION__WEIGHTS__PCA": "-1"}, "fusion.weights.pca: expected a non-negative number"),
        ({"STREAMPROC_FUSION__WEIGHTS__PCA": "heavy"}, "fusion.weights.pca: expected a number"),
        ({"STREAMPROC_FUSION__SEVERITY_BANDS": '{"LOW": 2, "HIGH": 1}'}, "fusion.severity_bands: expected"),
        ({"STREAMPROC_FUSION__SEVERITY_BANDS__URGENT": "9"}, "fusion.severity_bands: unknown severity 'URGENT'"),
        ({"STREAMPROC_FUSION__POLICY": "k_of_n", "STREAMPROC_FUSION__K": "3"}, "fusion.k: 3 exceeds the 2"),
        ({"STREAMPROC_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, "kafka.sasl_username: required"),
        ({"STREAMPROC_KAFKA__SSL_CERTFILE": "c.pem"}, "kafka.ssl_keyfile: ssl_certfile and ssl_keyfile"),
        ({"STREAMPROC_CONFIG": "/nonexistent/streamproc.toml"}, "config file /nonexistent/streamproc.toml: not found"),
    ],
)
def test_bad_values_name_the_key(env, message):
    with pytest.raises(ConfigError) as caught:
        load(env)
    assert message in str(caught.value)
    assert isinstance(caught.value, StreamprocError)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[window]\nsize = 1.5\n", "window.size: expected an integer of at least 2, got 1.5 (from config file"),
        ("[window]\nsize = true\n", "window.size: expected an integer"),
        ("[windw]\nsize = 5\n", "windw: unknown setting"),
        ("window = 5\n", "window: expected a section"),
        ("[kafka]\nbootstrap = 9092\n", "kafka.bootstrap: expected text, got 9092"),
        ("[window\n", "invalid TOML"),
    ],
)
def test_bad_config_files_name_the_key(tmp_path, toml, message):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=None) as caught:
        Settings.load(config, env={})
    assert message in str(caught.value)


def test_bad_overrides_name_the_key():
    with pytest.raises(
        ConfigError,
        match="window.size: expected an integer of at least 2, got 0 "
        r"\(from overrides\)",
    ):
        load(overrides={"window.size": 0})


def test_secrets_are_masked_everywhere_but_where_clients_need_them():
    settings = load(
        {
            "KAFKA_BOOTSTRAP": "b:9093",
            "STREAMPROC_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STREAMPROC_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "STREAMPROC_KAFKA__SASL_USERNAME": "svc",
            "STREAMPROC_KAFKA__SASL_PASSWORD": "hunter2",
            "STREAMPROC_KAFKA__SCHEMA_REGISTRY_URL": "https://sr",
            "STREAMPROC_KAFKA__SCHEMA_REGISTRY_AUTH": "key:registry-secret",
            "STREAMPROC_KAFKA__CLIENT__SASL_OAUTHBEARER_CLIENT_SECRET": "oauth-secret",
        }
    )
    shown = [repr(settings), str(settings), str(settings.to_dict()), to_toml(settings.to_dict())]
    for text in shown:
        for secret in ("hunter2", "registry-secret", "oauth-secret"):
            assert secret not in text
    assert settings.kafka.sasl_password == Secret("hunter2")
    assert settings.to_dict(reveal_secrets=True)["kafka"]["sasl_password"] == "hunter2"
    assert settings.kafka.confluent_config()["sasl.password"] == "hunter2"
    assert settings.kafka.confluent_config()["sasl.oauthbearer.client.secret"] == "oauth-secret"
    assert settings.kafka.schema_registry_config() == {
        "url": "https://sr",
        "basic.auth.user.info": "key:registry-secret",
    }


def test_bad_secret_values_are_not_echoed(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[kafka]\nsasl_password = 123456\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(config, env={})
    assert "123456" not in str(caught.value) and "kafka.sasl_password" in str(caught.value)


def test_to_toml_output_loads_back_to_the_same_settings(tmp_path):
    original = load(
        {
            "KAFKA_BOOTSTRAP": "h:1",
            "STREAMPROC_DETECTORS__CONFIG__PCA__N_COMPONENTS": "4",
            "STREAMPROC_FUSION__WEIGHTS__PCA": "2",
        }
    )
    config = tmp_path / "shown.toml"
    config.write_text(to_toml(original.to_dict()))
    assert Settings.load(config, env={}) == original
