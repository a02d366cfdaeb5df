"""Configuration of the county receiver: one TOML file, one pydantic schema, one line per error.

Mirrors the appliance's rules (unknown keys fail loudly, secrets never live in the file, errors name the
key path, the value found, the fix and the line) so a technician reads both the same way.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.config.loader import ConfigError, explain, read_toml, secret_errors
from appliance.config.schema import known_timezone

__all__ = ["BrokerConfig", "ConfigError", "DatabaseConfig", "ReceiverConfig", "load_config", "load_raw"]

MQTT_PASSWORD_SECRET = "mqtt-password"
DATABASE_PASSWORD_SECRET = "db-password"


def default_client_id() -> str:
    """Unique per process, so two receivers on one host never kick each other off the broker."""
    return f"classroom-cloud-{socket.gethostname()}-{os.getpid()}"[:128]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(Section):
    """The MQTT broker the classroom boxes publish to. The password is credential 'mqtt-password'."""

    url: str = Field(
        "mqtt://127.0.0.1:1883",
        pattern=r"^mqtts?://[^/:]+(:\d+)?/?$",
        description="Broker address: mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS.",
    )
    protocol: Literal["mqtt5", "mqtt311"] = Field("mqtt5", description="MQTT 5, or 3.1.1 for brokers such as amqtt.")
    shared_group: str = Field(
        "receivers",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Shared-subscription group ($share/GROUP/...) so several receivers split the load; "
        "'' subscribes plainly (needed on brokers without shared subscriptions).",
    )
    client_id: str = Field(default_factory=default_client_id, min_length=1, max_length=128,
                           description="MQTT client id; default classroom-cloud-HOST-PID.")
    keepalive: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    username: str | None = Field(None, description="Broker user; the password comes from credential 'mqtt-password'.")
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://.")
    cert_file: Path | None = Field(None, description="Client certificate for mqtts://.")
    key_file: Path | None = Field(None, description="Client key for mqtts://.")

    @property
    def tls(self) -> bool:
        return self.url.startswith("mqtts://")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @model_validator(mode="after")
    def _tls_consistent(self) -> BrokerConfig:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("TLS files are set but url uses mqtt://; use mqtts://HOST:PORT or drop the files")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together; set both or neither")
        return self


class DatabaseConfig(Section):
    """Where records land. SQLite for one school or a pilot, PostgreSQL for a county."""

    url: str = Field(
        "sqlite:///classroom-cloud.db",
        description="sqlite:///PATH (relative to the working directory) or postgresql+psycopg://USER@HOST:PORT/DB; "
        "the PostgreSQL password comes from credential 'db-password' or ~/.pgpass.",
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if scheme == "postgresql":
            v, scheme = "postgresql+psycopg" + v[len("postgresql"):], "postgresql+psycopg"
        if scheme not in ("sqlite", "postgresql+psycopg"):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB")
        if scheme != "sqlite" and urlsplit(v).password:
            raise ValueError("a password in the URL is a leak; remove it and provide credential 'db-password'")
        return v


class RollupsConfig(Section):
    """How daily counts for the county pages are cut."""

    timezone: str = Field("UTC", description="IANA zone in which a record's timestamp falls on a day, e.g. 'Asia/Shanghai'.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_timezone(v)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the receiver.")


class ReceiverConfig(Section):
    """The whole classroom-cloud.toml."""

    schema_version: Literal[1] = Field(1, description="Version of this file's layout.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    rollups: RollupsConfig = Field(default_factory=RollupsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


# -- loading -------------------------------------------------------------------------------------------
def load_config(path: Path, overrides: dict[str, Any] | None = None) -> ReceiverConfig:
    """Parse and validate a file; ``overrides`` ({"broker.url": ...}) are command-line flags, applied on top."""
    raw, text = read_toml(path, "classroom-cloud.toml")
    return load_raw(raw, overrides, text=text, path=path)


def load_raw(
    raw: dict[str, Any], overrides: dict[str, Any] | None = None, text: str | None = None, path: Path | None = None
) -> ReceiverConfig:
    errors = secret_errors(raw, _secret_remedy)
    data = _deep_copy(raw)
    for key_path, value in (overrides or {}).items():
        node = data
        *parents, leaf = key_path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        config = ReceiverConfig.model_validate(data)
    except ValidationError as exc:
        flags = dict.fromkeys(overrides or {}, "the command line")
        errors += [explain(err, ReceiverConfig, text, path, flags) for err in exc.errors()]
    if errors:
        raise ConfigError(errors, raw)
    return config


def _deep_copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in d.items()}


def _secret_remedy(key_path: str) -> str:
    secret = MQTT_PASSWORD_SECRET if key_path.startswith("broker") else DATABASE_PASSWORD_SECRET
    return f"provide credential '{secret}' (systemd LoadCredential= or CLASSROOM_SECRET_{secret.upper().replace('-', '_')})"
