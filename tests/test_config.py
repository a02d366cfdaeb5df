"""The configuration contract: unknown keys and wrong types fail with the key path; valid files pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appliance.config import CURRENT_SCHEMA_VERSION, ConfigError, load_config, load_raw
from appliance.config.migrations import MigrationError, migrate
from appliance.config.reference import BEGIN, END, render_reference
from appliance.config.secrets import MissingSecret, read_secret

ROOT = Path(__file__).resolve().parent.parent
VALID = """\
schema_version = 1

[device]
id = "room-3-2"
school = "城关小学"
data_dir = "/var/lib/classroom"

[api]
port = 8800

[drivers.panel]
backend = "serial"
port = "/dev/ttyUSB0"
baudrate = 9600
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "classroom.toml"
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    return info.value.errors


def test_valid_file_loads_with_sources(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID), environ={})
    cfg = loaded.config
    assert cfg.api.port == 8800
    assert cfg.drivers.panel is not None and cfg.drivers.panel.backend == "serial"
    assert loaded.sources["api.port"].endswith("classroom.toml:9")
    assert loaded.sources["api.host"] == "default"


def test_unknown_key_names_path_line_and_suggestion(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, VALID.replace('school = "城关小学"', 'schol = "城关小学"'))
    assert len(errs) == 1
    assert errs[0].startswith("device.schol: unknown key")
    assert "did you mean 'school'" in errs[0]
    assert "classroom.toml:5" in errs[0]


def test_unknown_table_is_rejected(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, VALID + "\n[camera]\nurl = 'x'\n")
    assert any(e.startswith("camera: unknown key") for e in errs)


def test_wrong_type_names_path_value_and_allowed(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, VALID.replace("port = 8800", 'port = "eighty"'))
    assert errs == [errs[0]] and errs[0].startswith("api.port: got 'eighty'")
    assert "integer" in errs[0]


def test_discriminated_union_error_has_clean_path(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, VALID.replace("baudrate = 9600", "baudrate = 1234"))
    assert errs[0].startswith("drivers.panel.baudrate: got 1234")
    assert "9600" in errs[0] and "115200" in errs[0]
    errs = errors_of(tmp_path, VALID.replace('backend = "serial"', 'backend = "usb"'))
    assert errs[0].startswith("drivers.panel: ") and "'serial'" in errs[0] and "'simulator'" in errs[0]


def test_several_errors_one_line_each(tmp_path: Path) -> None:
    text = VALID.replace("port = 8800", "port = 70000").replace('id = "room-3-2"', 'id = "Room 3"')
    errs = errors_of(tmp_path, text)
    assert {e.split(":")[0] for e in errs} == {"api.port", "device.id"}
    assert all("\n" not in e for e in errs)


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, VALID + "\n[debug]\nmqtt_password = 'hunter2'\n")
    assert any(e.startswith("debug.mqtt_password: secrets never go in the config file") for e in errs)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, "schema_version = 1\n[api\n")
    assert "not valid TOML" in errs[0]
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_environment_override_wins_and_is_traced(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID), environ={"CLASSROOM__API__PORT": "9100"})
    assert loaded.config.api.port == 9100
    assert loaded.sources["api.port"] == "env:CLASSROOM__API__PORT"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, VALID), environ={"CLASSROOM__API__PORT": "x"})
    assert "from environment CLASSROOM__API__PORT" in info.value.errors[0]


def test_schema_version_rules() -> None:
    with pytest.raises(MigrationError, match="required key missing"):
        migrate({}, CURRENT_SCHEMA_VERSION)
    with pytest.raises(MigrationError, match="upgrade the software"):
        migrate({"schema_version": CURRENT_SCHEMA_VERSION + 1}, CURRENT_SCHEMA_VERSION)
    with pytest.raises(MigrationError, match="whole number"):
        migrate({"schema_version": "1"}, CURRENT_SCHEMA_VERSION)


def test_migrations_run_in_order() -> None:
    def v1_to_v2(raw: dict) -> dict:
        raw = dict(raw)
        raw["display"] = raw.pop("panel")
        return raw

    def v2_to_v3(raw: dict) -> dict:
        return {**raw, "seen_v2": "display" in raw}

    out, notes = migrate({"schema_version": 1, "panel": 1}, 3, {1: v1_to_v2, 2: v2_to_v3})
    assert out == {"schema_version": 3, "display": 1, "seen_v2": True}
    assert len(notes) == 2
    with pytest.raises(MigrationError, match="no migration from version 2"):
        migrate({"schema_version": 2}, 3, {1: v1_to_v2})


def test_load_raw_for_demo() -> None:
    loaded = load_raw({"schema_version": 1, "device": {"id": "demo"}}, source="built-in demo", environ={})
    assert loaded.sources["device.id"] == "built-in demo"


def test_secrets_from_credentials_dir_and_env(tmp_path: Path) -> None:
    import os

    (tmp_path / "mqtt-password").write_text("s3cret\n")
    old = dict(os.environ)
    try:
        os.environ["CREDENTIALS_DIRECTORY"] = str(tmp_path)
        assert read_secret("mqtt-password") == "s3cret"
        del os.environ["CREDENTIALS_DIRECTORY"]
        os.environ["CLASSROOM_SECRET_MQTT_PASSWORD"] = "fromenv"
        assert read_secret("mqtt-password") == "fromenv"
        del os.environ["CLASSROOM_SECRET_MQTT_PASSWORD"]
        with pytest.raises(MissingSecret, match="LoadCredential=mqtt-password"):
            read_secret("mqtt-password")
    finally:
        os.environ.clear()
        os.environ.update(old)


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance.cli", "check-config", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, VALID)
    r = run_check(good)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "valid" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(VALID.replace("baudrate = 9600", "baudrate = 9600\nparity = 'N'").replace("port = 8800", "port = 'x'"))
    r = run_check(bad)
    assert r.returncode == 2
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("drivers.panel.parity: unknown key") for line in lines)
    assert any(line.startswith("api.port: got 'x'") for line in lines)


def test_example_config_is_valid() -> None:
    r = run_check(ROOT / "docs" / "classroom.example.toml")
    assert r.returncode == 0, r.stdout


def test_readme_reference_is_generated_from_schema() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end].strip() == render_reference().strip(), (
        "README's configuration reference is stale: run `classroom config-reference` and paste it"
    )


CAMERAS = """
schema_version = 1
[drivers.cameras]
sources = [{id = "mats", url = "rtsp://admin@10.0.0.9/stream1"}]
[features.fitness]
enabled = true
"""


def test_fitness_station_must_name_a_configured_camera(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, CAMERAS + """
stations = [{id = "mat-1", camera = "bars", exercise = "sit_up", region = [[0, 0], [1, 0], [1, 1]]}]
""")
    assert any("features.fitness.stations[0].camera" in e and "'bars'" in e and "mats" in e for e in errs), errs


def test_fitness_station_region_and_camera_fields_are_checked(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, CAMERAS + """
stations = [{id = "mat-1", camera = "mats", exercise = "yoga", region = [[0, 0], [1.5, 0], [1, 1]]}]
""")
    text = "\\n".join(errs)
    assert "exercise" in text and "'yoga'" in text
    assert "region" in text and "between 0 and 1" in text
    errs = errors_of(tmp_path, """
schema_version = 1
[drivers.cameras]
sources = [{id = "mats", url = "/dev/video0", width = 640}]
""")
    assert any("drivers.cameras.sources.0" in e and "width and height" in e for e in errs), errs
    errs = errors_of(tmp_path, """
schema_version = 1
[drivers.cameras]
sources = [{id = "mats", url = "/dev/video0"}, {id = "mats", url = "/dev/video1"}]
""")
    assert any("drivers.cameras" in e and "mats is used twice" in e for e in errs), errs


def test_fitness_config_with_cameras_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, CAMERAS + """
stations = [{id = "mat-1", camera = "mats", exercise = "sit_up", region = [[0, 0], [1, 0], [1, 1]]}]
""")).config
    assert cfg.features.fitness.stations[0].camera == "mats" and cfg.drivers.cameras is not None
