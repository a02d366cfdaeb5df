"""Configuration: one TOML file, one schema, validated at start-up."""

from appliance.config.loader import ConfigError, LoadedConfig, check_file, effective, load_config, load_raw
from appliance.config.schema import CURRENT_SCHEMA_VERSION, AppConfig

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "AppConfig",
    "ConfigError",
    "LoadedConfig",
    "check_file",
    "effective",
    "load_config",
    "load_raw",
]
