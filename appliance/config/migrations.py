"""Upgrades of old classroom.toml layouts to the current schema version.

Each entry takes the raw dict of version N and returns version N+1. Versions are integers: comparing
"1.10" with "1.9" as strings is a bug other edge projects shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Raw = dict[str, Any]

# version N -> function producing version N + 1. Version 1 is the first published layout.
MIGRATIONS: dict[int, Callable[[Raw], Raw]] = {}


class MigrationError(ValueError):
    pass


def migrate(raw: Raw, current: int, migrations: dict[int, Callable[[Raw], Raw]] | None = None) -> tuple[Raw, list[str]]:
    """Return the raw dict at ``current`` version and notes about what was migrated."""
    steps = MIGRATIONS if migrations is None else migrations
    version = raw.get("schema_version")
    if version is None:
        raise MigrationError(f"schema_version: required key missing; add 'schema_version = {current}' at the top")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MigrationError(f"schema_version: got {version!r}; must be a whole number such as {current}")
    if version > current:
        raise MigrationError(
            f"schema_version: got {version}; this release understands up to {current}: upgrade the software "
            "or use a file written for this release"
        )
    if version < 1:
        raise MigrationError(f"schema_version: got {version}; versions start at 1")
    notes: list[str] = []
    data = dict(raw)
    while version < current:
        step = steps.get(version)
        if step is None:
            raise MigrationError(f"schema_version: no migration from version {version}; rewrite the file for {current}")
        data = step(data)
        version += 1
        data["schema_version"] = version
        notes.append(f"migrated configuration from schema_version {version - 1} to {version}")
    return data, notes
