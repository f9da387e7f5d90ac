"""Settings: YAML with ${VAR:-default}, LOCKGATE_* environment, explicit overrides, clear errors."""

from pathlib import Path

import pytest

from lockgate.config import ConfigError, load_settings, substitute_env


def test_substitution_uses_value_then_default() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert substitute_env("${SET} ${SET:-d} ${UNSET:-fallback} ${EMPTY:-e}", env) == "value value fallback e"


def test_unset_variable_without_default_is_an_error() -> None:
    with pytest.raises(ConfigError, match="MISSING"):
        substitute_env("key: ${MISSING}", {})


def test_file_env_and_overrides_in_order(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.yaml"
    config.write_text("port: ${PORT_FROM_ENV:-9001}\nlog_level: debug\nsession_ttl_seconds: 120\n")
    settings = load_settings(config, environ={"LOCKGATE_LOG_LEVEL": "warning"})
    assert (settings.port, settings.log_level, settings.session_ttl_seconds) == (9001, "warning", 120)
    settings = load_settings(config, environ={"PORT_FROM_ENV": "9002"}, port=9003)
    assert settings.port == 9003


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("host: 0.0.0.0\n")
    assert load_settings(environ={"LOCKGATE_CONFIG": str(config)}).host == "0.0.0.0"


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"LOCKGATE_DATA_DIR": str(tmp_path)})
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/lockgate.db"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("prot: 80\n", "prot"),
        ("port: not-a-number\n", "port"),
        ("- a list\n", "mapping"),
        ("master_key: short\n", "master_key"),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            [
                {
                    "name": "a",
                    "type": "text-generation",
                    "providers": [{"type": "tei", "url": "http://x", "model_name": "m"}],
                }
            ],
            "cannot serve",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "text-generation",
                    "providers": [{"type": "vllm", "url": "http://x/v1", "model_name": "m"}],
                }
            ],
            "without /v1",
        ),
        ([{"name": "a", "type": "text-generation", "providers": []}], "providers"),
        (
            [
                {
                    "name": "a",
                    "type": "text-generation",
                    "providers": [{"type": "vllm", "url": "http://x", "model_name": "m"}],
                },
                {
                    "name": "b",
                    "type": "text-generation",
                    "aliases": ["a"],
                    "providers": [{"type": "vllm", "url": "http://x", "model_name": "m"}],
                },
            ],
            "used twice",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "text-generation",
                    "providers": [
                        {"type": "vllm", "url": "http://x", "model_name": "m", "qos_metric": "ttft"}
                    ],
                }
            ],
            "together",
        ),
    ],
)
def test_bad_models_are_refused_at_load(tmp_path: Path, models: list, message: str) -> None:
    import yaml

    config = tmp_path / "models.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})
