"""Kafka connection settings and the client configurations derived from them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from ._errors import ConfigError
from ._fields import setting
from ._secret import Secret

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")
_PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Room for a record's framing (batch header, key, headers) around a value of the largest size.
MESSAGE_OVERHEAD_BYTES = 16 * 1024


@dataclass(frozen=True)
class KafkaSettings:
    """Where the cluster is and how to authenticate; passed through to every Kafka client."""

    bootstrap: str | None = setting(None, "Comma-separated host:port list; unset means the embedded broker.")
    security_protocol: str = setting("PLAINTEXT", "How clients talk to brokers.", choices=SECURITY_PROTOCOLS)
    sasl_mechanism: str | None = setting(
        None, "SASL mechanism (PLAIN when a SASL protocol leaves it unset).", choices=SASL_MECHANISMS
    )
    sasl_username: str | None = setting(None, "SASL user name.")
    sasl_password: Secret | None = setting(None, "SASL password.")
    ssl_cafile: str | None = setting(None, "PEM file of the CA that signed the brokers' certificates.")
    ssl_certfile: str | None = setting(None, "PEM client certificate (mutual TLS).")
    ssl_keyfile: str | None = setting(None, "PEM private key of the client certificate.")
    ssl_key_password: Secret | None = setting(None, "Password of ssl_keyfile, if it is encrypted.")
    schema_registry_url: str | None = setting(None, "Schema registry URL; set, messages use the Confluent wire format.")
    schema_registry_auth: Secret | None = setting(None, "Registry basic auth as USER:PASSWORD.")
    max_message_bytes: int = setting(
        1_048_588,
        "The largest message the cluster accepts (its message.max.bytes; stock Kafka's by default). "
        "Workers fetch at least this much per partition, so any message the cluster delivers can be "
        "read and, if bad, dead-lettered; producers may send up to it.",
        min=1024,
    )
    client: dict[str, str | Secret] = setting(
        {},
        "Extra librdkafka properties passed to confluent-kafka clients "
        "as they are; values of keys naming a password, secret or token "
        "are masked.",
    )

    def __post_init__(self) -> None:
        if self.sasl and self.mechanism in _PASSWORD_MECHANISMS:
            for key in ("sasl_username", "sasl_password"):
                if getattr(self, key) is None:
                    raise ConfigError(
                        f"kafka.{key}: required when kafka.security_protocol is "
                        f"{self.security_protocol} with mechanism {self.mechanism}"
                    )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigError("kafka.ssl_keyfile: ssl_certfile and ssl_keyfile must be set together")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def mechanism(self) -> str:
        return self.sasl_mechanism or "PLAIN"

    def bootstrap_servers(self) -> list[str]:
        """The bootstrap list; ConfigError when none is configured."""
        if not self.bootstrap:
            raise ConfigError(
                "kafka.bootstrap: not set (set KAFKA_BOOTSTRAP, STREAMPROC_KAFKA__BOOTSTRAP "
                "or [kafka] bootstrap in the config file)"
            )
        return [host.strip() for host in self.bootstrap.split(",") if host.strip()]

    def confluent_config(self) -> dict[str, str]:
        """Configuration for confluent-kafka's Producer, Consumer and AdminClient.

        ``client`` properties come last, so they can override anything derived here.
        """
        config = {
            "bootstrap.servers": ",".join(self.bootstrap_servers()),
            "security.protocol": self.security_protocol,
            "message.max.bytes": str(self.max_message_bytes + MESSAGE_OVERHEAD_BYTES),
        }
        if self.sasl:
            config["sasl.mechanism"] = self.mechanism
            if self.sasl_username is not None:
                config["sasl.username"] = self.sasl_username
            if self.sasl_password is not None:
                config["sasl.password"] = self.sasl_password.reveal()
        optional = {
            "ssl.ca.location": self.ssl_cafile,
            "ssl.certificate.location": self.ssl_certfile,
            "ssl.key.location": self.ssl_keyfile,
            "ssl.key.password": self.ssl_key_password.reveal() if self.ssl_key_password else None,
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        config.update({k: v.reveal() if isinstance(v, Secret) else v for k, v in self.client.items()})
        return config

    def schema_registry_config(self) -> dict[str, str] | None:
        """Configuration for confluent-kafka's SchemaRegistryClient, or None without a registry URL."""
        if not self.schema_registry_url:
            return None
        config = {"url": self.schema_registry_url}
        if self.schema_registry_auth is not None:
            config["basic.auth.user.info"] = self.schema_registry_auth.reveal()
        return config

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context from the ssl_* files, or None when the protocol uses no TLS."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"kafka.ssl_cafile: cannot load {self.ssl_cafile!r}: {exc}") from None
        if self.ssl_certfile is not None:
            password = self.ssl_key_password.reveal() if self.ssl_key_password else None
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"kafka.ssl_certfile: cannot load {self.ssl_certfile!r} with key {self.ssl_keyfile!r}: {exc}"
                ) from None
        return context

    def faust_credentials(self) -> Any | None:
        """Faust's ``broker_credentials``: SASL or SSL credentials, or None for PLAINTEXT."""
        import faust

        if not self.sasl:
            return faust.SSLCredentials(self.ssl_context()) if self.tls else None
        if self.mechanism == "GSSAPI":
            return faust.GSSAPICredentials(ssl_context=self.ssl_context(), mechanism="GSSAPI")
        if self.mechanism == "OAUTHBEARER":
            raise ConfigError(
                "kafka.sasl_mechanism: OAUTHBEARER needs a token provider, which Faust "
                "clients cannot take from configuration"
            )
        assert self.sasl_password is not None  # a password mechanism: checked in __post_init__
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.sasl_password.reveal(),
            ssl_context=self.ssl_context(),
            mechanism=self.mechanism,
        )

    def aiokafka_config(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers(),
            "security_protocol": self.security_protocol,
        }
        if self.tls:
            config["ssl_context"] = self.ssl_context()
        if self.sasl:
            if self.mechanism == "OAUTHBEARER":
                raise ConfigError(
                    "kafka.sasl_mechanism: OAUTHBEARER needs a token provider, which aiokafka "
                    "clients cannot take from configuration"
                )
            config["sasl_mechanism"] = self.mechanism
            if self.mechanism in _PASSWORD_MECHANISMS:
                config["sasl_plain_username"] = self.sasl_username
                assert self.sasl_password is not None  # checked in __post_init__
                config["sasl_plain_password"] = self.sasl_password.reveal()
        return config
