from __future__ import annotations

import ssl

import faust
import pytest

from streamproc.config import ConfigError, KafkaSettings, Secret, Settings


def kafka(**env):
    return Settings.load(env={f"STREAMPROC_KAFKA__{k.upper()}": v for k, v in env.items()}).kafka


def test_plaintext_configs():
    settings = kafka(bootstrap="a:9092, b:9092", client='{"linger.ms": "5"}')
    assert settings.confluent_config() == {
        "bootstrap.servers": "a:9092,b:9092",
        "security.protocol": "PLAINTEXT",
        "linger.ms": "5",
        "message.max.bytes": str(1_048_588 + 16 * 1024),
    }
    assert settings.bootstrap_servers() == ["a:9092", "b:9092"]
    assert settings.faust_credentials() is None
    assert settings.aiokafka_config() == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}
    assert settings.schema_registry_config() is None
    assert settings.ssl_context() is None


def test_missing_bootstrap_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="kafka.bootstrap: not set"):
        KafkaSettings().confluent_config()


def test_sasl_ssl_passes_through_to_every_client():
    settings = kafka(
        bootstrap="b:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="scram-sha-256",
        sasl_username="svc",
        sasl_password="pw",
    )
    confluent = settings.confluent_config()
    assert confluent["security.protocol"] == "SASL_SSL"
    assert (confluent["sasl.mechanism"], confluent["sasl.username"], confluent["sasl.password"]) == (
        "SCRAM-SHA-256",
        "svc",
        "pw",
    )
    credentials = settings.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("svc", "pw")
    assert credentials.mechanism.value == "SCRAM-SHA-256" and credentials.protocol.value == "SASL_SSL"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    aio = settings.aiokafka_config()
    assert aio["sasl_plain_password"] == "pw" and aio["sasl_mechanism"] == "SCRAM-SHA-256"
    assert isinstance(aio["ssl_context"], ssl.SSLContext)


def test_sasl_plaintext_has_no_tls():
    settings = kafka(bootstrap="b:9092", security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p")
    credentials = settings.faust_credentials()
    assert credentials.protocol.value == "SASL_PLAINTEXT" and credentials.ssl_context is None
    assert settings.confluent_config()["sasl.mechanism"] == "PLAIN"


def test_ssl_files_map_to_librdkafka_keys_and_bad_files_name_the_key(tmp_path):
    settings = KafkaSettings(
        bootstrap="b:9093",
        security_protocol="SSL",
        ssl_cafile=str(tmp_path / "ca.pem"),
        ssl_certfile="c.pem",
        ssl_keyfile="k.pem",
        ssl_key_password=Secret("kp"),
    )
    config = settings.confluent_config()
    assert config["ssl.ca.location"] == str(tmp_path / "ca.pem")
    assert (config["ssl.certificate.location"], config["ssl.key.location"], config["ssl.key.password"]) == (
        "c.pem",
        "k.pem",
        "kp",
    )
    with pytest.raises(ConfigError, match="kafka.ssl_cafile: cannot load"):
        settings.faust_credentials()


def test_oauthbearer_is_refused_for_clients_that_cannot_take_it_from_configuration():
    settings = kafka(bootstrap="b:9093", security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER")
    assert settings.confluent_config()["sasl.mechanism"] == "OAUTHBEARER"
    with pytest.raises(ConfigError, match="kafka.sasl_mechanism: OAUTHBEARER"):
        settings.faust_credentials()


def test_one_size_limit_sets_every_client():
    from streamproc.stream import WorkerOptions, faust_settings

    settings = Settings.load(
        env={"STREAMPROC_KAFKA__BOOTSTRAP": "a:9092", "STREAMPROC_KAFKA__MAX_MESSAGE_BYTES": "2000000"}
    )
    assert settings.kafka.confluent_config()["message.max.bytes"] == str(2_000_000 + 16 * 1024)
    faust = faust_settings(settings, WorkerOptions())
    assert faust["consumer_max_fetch_size"] == faust["producer_max_request_size"] == 2_000_000 + 16 * 1024
