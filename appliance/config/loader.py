"""Load classroom.toml: parse, migrate, apply environment overrides, validate, explain every error.

Errors are written for a technician on the phone with a teacher: the key path, the value found, what
is allowed, and the line of the file, one line per error.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from appliance.config.migrations import MigrationError, migrate
from appliance.config.schema import CURRENT_SCHEMA_VERSION, AppConfig
from appliance.config.secrets import looks_like_secret

ENV_PREFIX = "CLASSROOM__"


class ConfigError(Exception):
    """The file cannot be used; ``errors`` holds one human-readable line per problem."""

    def __init__(self, errors: list[str], raw: dict[str, Any] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.raw = raw or {}


@dataclass
class LoadedConfig:
    config: AppConfig
    # dotted key path -> "default" | "file:PATH:LINE" | "env:NAME" | "built-in demo"
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


# -- public API --------------------------------------------------------------------------------------
def load_config(path: Path, environ: dict[str, str] | None = None) -> LoadedConfig:
    raw, text = read_toml(path)
    return load_raw(raw, source=f"file:{path}", text=text, environ=environ, path=path)


def read_toml(path: Path, name: str = "classroom.toml") -> tuple[dict[str, Any], str]:
    """The parsed file and its text (for line numbers); every failure is one ConfigError line."""
    text = _read(path, name)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}; fix the syntax at that line"]) from None


def load_raw(
    raw: dict[str, Any],
    source: str = "built-in",
    text: str | None = None,
    environ: dict[str, str] | None = None,
    path: Path | None = None,
) -> LoadedConfig:
    """Validate an already-parsed dict (the demo builds one in code)."""
    env = dict(os.environ if environ is None else environ)
    errors = secret_errors(raw)
    try:
        data, notes = migrate(raw, CURRENT_SCHEMA_VERSION)
    except MigrationError as exc:
        raise ConfigError([str(exc), *errors], raw) from None
    overrides, env_errors = _env_overrides(env)
    errors += env_errors
    for key_path, (value, _name) in overrides.items():
        _set_path(data, key_path, value)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        where = {key: f"environment {name}" for key, (_value, name) in overrides.items()}
        errors += [explain(err, AppConfig, text, path, where) for err in exc.errors()]
    if errors:
        raise ConfigError(errors, raw)
    sources = _sources(config, raw, text, source, path, overrides)
    return LoadedConfig(config=config, sources=sources, notes=notes, path=path)


def check_file(path: Path) -> list[str]:
    """Errors for ``classroom check-config``; an empty list means valid."""
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.errors
    return []


# -- reading -----------------------------------------------------------------------------------------
def _read(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; pass --config with the path of {name}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text; save the file as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror}); check the path and permissions"]) from None


DEFAULT_SECRET_REMEDY = "provide it as a systemd credential (LoadCredential=) or a CLASSROOM_SECRET_* environment variable"


def secret_errors(
    raw: dict[str, Any], remedy: Callable[[str], str] = lambda key_path: DEFAULT_SECRET_REMEDY, prefix: str = ""
) -> list[str]:
    """One error per key that looks like a secret; ``remedy(key_path)`` says where it belongs instead."""
    errors: list[str] = []
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            errors += secret_errors(value, remedy, path + ".")
        elif looks_like_secret(key):
            errors.append(f"{path}: secrets never go in the config file; remove it and {remedy(path)}")
    return errors


def _env_overrides(env: dict[str, str]) -> tuple[dict[str, tuple[Any, str]], list[str]]:
    """``CLASSROOM__API__PORT=9000`` overrides ``api.port``; values are parsed as TOML scalars."""
    out: dict[str, tuple[Any, str]] = {}
    errors: list[str] = []
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key_path = ".".join(p.lower() for p in name[len(ENV_PREFIX):].split("__"))
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word is a string
        out[key_path] = (parsed, name)
    return out, errors


def _set_path(data: dict[str, Any], key_path: str, value: Any) -> None:
    parts = key_path.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


# -- explaining validation errors --------------------------------------------------------------------
def explain(
    err: Any, root: type[BaseModel], text: str | None, path: Path | None, overridden: Mapping[str, str]
) -> str:
    """One line for one pydantic error: key path, value, what is allowed, and where the value came from.

    ``overridden`` maps key paths set outside the file to a description ("environment X", "the command line").
    """
    keys, model = _clean_loc(tuple(err["loc"]), root)
    key_path = ".".join(keys) or "(top level)"
    etype = err["type"]
    if etype == "extra_forbidden":
        allowed = sorted(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(keys[-1], allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problem = f"unknown key; {hint}allowed here: {', '.join(allowed)}"
    elif etype == "missing":
        problem = "required key missing"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg[0].lower() + msg[1:] if msg else msg
        # a whole table as "the value" helps nobody: say what is wrong with it
        problem = msg if isinstance(err.get("input"), dict) else f"got {err.get('input')!r}; {msg}"
    where = ""
    if key_path in overridden:
        where = f" (from {overridden[key_path]})"
    elif text is not None:
        line = find_line(text, keys)
        if line:
            where = f" ({path or 'file'}:{line})"
    return f"{key_path}: {problem}{where}"


def _clean_loc(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[list[str], type[BaseModel] | None]:
    """Drop discriminator tags from pydantic's error location and find the model owning the last key."""
    keys: list[str] = []
    model: type[BaseModel] | None = root
    parent: type[BaseModel] | None = root
    i = 0
    while i < len(loc):
        part = str(loc[i])
        keys.append(part)
        parent = model
        field_info = model.model_fields.get(part) if model is not None else None
        model = None
        if field_info is not None:
            members = _models_in(field_info.annotation)
            if len(members) == 1:
                model = members[0]
            elif len(members) > 1 and i + 1 < len(loc):
                tag = str(loc[i + 1])
                for m in members:
                    backend = m.model_fields.get("backend")
                    if backend is not None and tag in typing.get_args(backend.annotation):
                        model = m
                        i += 1  # skip the tag element
                        break
        i += 1
    return keys, parent


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models_in(a)]
    return []


def find_line(text: str, keys: list[str]) -> int | None:
    """Best-effort line number of a dotted key in a TOML text (tables and ``a = ...`` keys)."""
    table: list[str] = []
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    keyline = re.compile(r'^\s*("?)([A-Za-z0-9_.-]+)\1\s*=')
    for no, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            table = [p.strip().strip('"') for p in m.group(1).split(".")]
            if table == keys:
                return no
            continue
        k = keyline.match(line)
        if k and table + k.group(2).split(".") == keys:
            return no
    # the key itself is absent (missing, or inside a bad table): point at its table
    if len(keys) > 1:
        return find_line(text, keys[:-1])
    return None


# -- provenance --------------------------------------------------------------------------------------
def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out.update(_leaves(getattr(obj, name), f"{prefix}{name}."))
        return out
    out[prefix.rstrip(".")] = obj
    return out


def _has_path(raw: dict[str, Any], key_path: str) -> bool:
    node: Any = raw
    for part in key_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _sources(
    config: AppConfig,
    raw: dict[str, Any],
    text: str | None,
    source: str,
    path: Path | None,
    overrides: dict[str, tuple[Any, str]],
) -> dict[str, str]:
    out: dict[str, str] = {}
    for key_path in _leaves(config):
        if key_path in overrides:
            out[key_path] = f"env:{overrides[key_path][1]}"
        elif _has_path(raw, key_path):
            line = find_line(text, key_path.split(".")) if text else None
            out[key_path] = f"{source}:{line}" if line else source
        else:
            out[key_path] = "default"
    return out


def effective(loaded: LoadedConfig) -> list[dict[str, Any]]:
    """Rows of (key, value, source) for the TUI's configuration view."""
    rows = []
    for key_path, value in _leaves(loaded.config).items():
        rows.append({"key": key_path, "value": _jsonable(value), "source": loaded.sources.get(key_path, "default")})
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
