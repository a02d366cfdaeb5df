"""Secrets come from systemd's credentials directory or the environment, never from classroom.toml.

A config file gets copied into tickets, chat groups and USB sticks; a password in it is a leak.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SECRET_KEY_PATTERN = re.compile(r"(password|passwd|secret|token|private_key|api_key)$", re.IGNORECASE)


class MissingSecret(LookupError):
    pass


def read_secret(name: str) -> str:
    """Read credential ``name`` from ``$CREDENTIALS_DIRECTORY`` (LoadCredential=) or ``CLASSROOM_SECRET_<NAME>``."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    env_name = "CLASSROOM_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    value = os.environ.get(env_name)
    if value is not None:
        return value
    raise MissingSecret(
        f"secret {name!r} not found: add 'LoadCredential={name}:/etc/classroom/credentials/{name}' to the "
        f"unit, or set {env_name} in the environment"
    )


def looks_like_secret(key: str) -> bool:
    return bool(SECRET_KEY_PATTERN.search(key))
