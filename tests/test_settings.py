"""How every Kafka client is built from the settings: TLS, SASL/SCRAM, MSK IAM; and the replication."""

from __future__ import annotations

import asyncio
import ssl
import sys
import types

import pytest

from stream.settings import Settings
from stream.worker import faust_credentials


def test_plaintext_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    options = Settings().client_options()
    assert options["security_protocol"] == "PLAINTEXT" and "ssl_context" not in options
    assert faust_credentials(Settings()) is None


def test_tls_verifies_the_brokers_against_the_system_or_the_given_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "ssl")  # case does not matter
    monkeypatch.delenv("KAFKA_SSL_CAFILE", raising=False)
    context = Settings().client_options()["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/no/such/ca.pem")
    with pytest.raises(ValueError, match="KAFKA_SSL_CAFILE"):
        Settings().client_options()


def test_scram_needs_its_user_and_password_and_faust_gets_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.delenv("KAFKA_SSL_CAFILE", raising=False)
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        Settings().client_options()
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "claimwatch")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-a-real-secret")
    settings = Settings()
    options = settings.client_options()
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "claimwatch")
    assert "not-a-real-secret" not in repr(settings), "the password never shows in a log of the settings"
    credentials = faust_credentials(settings)
    assert credentials.mechanism.value == "SCRAM-SHA-512" and credentials.ssl_context is not None


def test_msk_iam_tokens_are_signed_for_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    signed: list[str] = []

    class Signer:
        @staticmethod
        def generate_auth_token(region: str) -> tuple[str, int]:
            signed.append(region)
            return f"token-for-{region}", 900_000

    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", types.SimpleNamespace(MSKAuthTokenProvider=Signer))
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "oauthbearer")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # boto3's name works as well as AWS_REGION
    monkeypatch.delenv("KAFKA_SSL_CAFILE", raising=False)
    provider = Settings().client_options()["sasl_oauth_token_provider"]
    assert asyncio.run(provider.token()) == "token-for-eu-west-1" and signed == ["eu-west-1"]
    from stream.logslice import rdkafka_config  # replay's reader signs with the same signer

    assert rdkafka_config(Settings())["oauth_cb"]("") == ("token-for-eu-west-1", 900.0)


def test_topics_are_created_with_the_replication_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("CLAIMWATCH_MIN_INSYNC_REPLICAS", "2")
    settings = Settings()
    assert settings.replication_factor == 3 and settings.topic_configs() == {"min.insync.replicas": "2"}
    monkeypatch.setenv("CLAIMWATCH_REPLICATION_FACTOR", "0")
    with pytest.raises(ValueError, match="CLAIMWATCH_REPLICATION_FACTOR must be a whole number above 0, got '0'"):
        Settings()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"security_protocol": "PLAINTEXT"}, {"security.protocol": "plaintext"}),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/ca.pem"},
            {
                "security.protocol": "ssl",
                "ssl.ca.location": "/ca.pem",
                "ssl.endpoint.identification.algorithm": "https",
            },
        ),
        (
            {"security_protocol": "SSL", "ssl_cafile": ""},
            {"ssl.ca.location": "probe"},
        ),  # the system's CAs, as aiokafka uses
        (
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "u",
                "sasl_password": "p",
            },
            {
                "security.protocol": "sasl_ssl",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "u",
                "sasl.password": "p",
            },
        ),
    ],
)
def test_replay_s_reader_reaches_the_brokers_the_other_clients_reach(
    fields: dict[str, str], expected: dict[str, str]
) -> None:
    from stream.logslice import rdkafka_config

    config = rdkafka_config(Settings(bootstrap_servers="b1:9094,b2:9094", **fields))  # type: ignore[arg-type]
    assert config["bootstrap.servers"] == "b1:9094,b2:9094"
    assert expected.items() <= config.items()


def test_replay_s_reader_without_sasl_credentials_is_one_clear_error() -> None:
    from stream.logslice import rdkafka_config

    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        rdkafka_config(
            Settings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="", sasl_password="")
        )
