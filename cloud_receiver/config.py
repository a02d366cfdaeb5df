"""Configuration of the county receiver: one TOML file, one pydantic schema, one line per error.

Mirrors the appliance's rules (unknown keys fail loudly, secrets never live in the file, errors name the
key path, the value found, the fix and the line) so a technician reads both the same way.
"""

from __future__ import annotations

import difflib
import os
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.config.loader import ConfigError, find_line
from appliance.config.secrets import looks_like_secret

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
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known IANA time zone, e.g. 'Asia/Shanghai'") from None
        return v


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; pass --config with the path of classroom-cloud.toml"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read ({exc}); check the path, permissions and UTF-8 encoding"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}; fix the syntax at that line"]) from None
    return load_raw(raw, overrides, text=text, path=path)


def load_raw(
    raw: dict[str, Any], overrides: dict[str, Any] | None = None, text: str | None = None, path: Path | None = None
) -> ReceiverConfig:
    errors = _secret_errors(raw)
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
        errors += [_explain(err, text, path, overrides or {}) for err in exc.errors()]
    if errors:
        raise ConfigError(errors, raw)
    return config


def _deep_copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in d.items()}


def _secret_errors(raw: dict[str, Any], prefix: str = "") -> list[str]:
    errors: list[str] = []
    for key, value in raw.items():
        if isinstance(value, dict):
            errors += _secret_errors(value, f"{prefix}{key}.")
        elif looks_like_secret(key):
            secret = MQTT_PASSWORD_SECRET if prefix.startswith("broker") else DATABASE_PASSWORD_SECRET
            errors.append(
                f"{prefix}{key}: secrets never go in the config file; remove it and provide credential "
                f"'{secret}' (systemd LoadCredential= or CLASSROOM_SECRET_{secret.upper().replace('-', '_')})"
            )
    return errors


def _explain(err: Any, text: str | None, path: Path | None, overrides: dict[str, Any]) -> str:
    keys = [str(k) for k in err["loc"]]
    key_path = ".".join(keys) or "(top level)"
    etype = err["type"]
    if etype == "extra_forbidden":
        allowed = _allowed_keys(keys[:-1])
        close = difflib.get_close_matches(keys[-1], allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problem = f"unknown key; {hint}allowed here: {', '.join(allowed)}"
    elif etype == "missing":
        problem = "required key missing"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg[0].lower() + msg[1:] if msg else msg
        problem = msg if isinstance(err.get("input"), dict) else f"got {err.get('input')!r}; {msg}"
    if key_path in overrides:
        where = " (from the command line)"
    else:
        line = find_line(text, keys) if text else None
        where = f" ({path or 'file'}:{line})" if line else ""
    return f"{key_path}: {problem}{where}"


def _allowed_keys(parent: list[str]) -> list[str]:
    model: type[BaseModel] = ReceiverConfig
    for part in parent:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)
