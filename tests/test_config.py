"""Settings: layered sources, and every unknown key refused by name."""

import pytest

from ringex.config import SETTINGS_FILE_ENV, load_settings, settings_of_process, settings_to_json
from ringex.errors import ConfigError


def test_defaults_are_embedded_and_valid():
    settings = load_settings(environ={})
    assert settings.embedded
    assert settings.engine.wait_strategy == "blocking"
    assert [p.name for p in settings.registry()] == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]


def test_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "ringex.toml"
    config.write_text('[engine]\nmax_batch = 128\norder_capacity = 1000\n'
                      '[gateway]\nworkers = 3\n')
    settings = load_settings(config, environ={"RINGEX_ENGINE_MAX_BATCH": "256"},
                             flags={"gateway": {"workers": 5, "bind": ""}})
    assert settings.engine.order_capacity == 1000  # file
    assert settings.engine.max_batch == 256  # environment beats file
    assert settings.gateway.workers == 5  # flags beat both
    assert settings.gateway.bind == "127.0.0.1:8080"  # an empty flag means "not given"


@pytest.mark.parametrize(
    "document, message",
    [
        ("[engine]\nmax_bacth = 1\n", "unknown key engine.max_bacth"),
        ("[enigne]\nmax_batch = 1\n", "unknown section 'enigne'"),
        ("[engine]\nmax_batch = 'many'\n", "engine.max_batch must be an integer"),
        ("[engine]\ninbound_capacity = 1000\n", "power of two"),
        ("[engine]\nwait_strategy = 'spin-forever'\n", "wait_strategy"),
        ("[kafka]\nbootstrap = '127.0.0.1:9092'\n", "go together"),
        ("[[pairs]]\nname = 'BTC-USDT'\ntick = '0.01'\n", "tick"),
        ("not toml at all [", "cannot read config file"),
        ("[redis]\ncatch_up_nice = 20\n", "redis.catch_up_nice must be 0..19"),
        ("[redis]\napply_interval_ms = -1\n", "redis.apply_interval_ms must be 0..1000"),
        ("[kafka]\ntransactional_producers = 3\n",
         "kafka.transactional_producers must be 1 or 2"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path, document, message):
    config = tmp_path / "bad.toml"
    config.write_text(document)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_unknown_environment_settings_are_refused():
    with pytest.raises(ConfigError, match="RINGEX_ENGINE_TYPO"):
        load_settings(environ={"RINGEX_ENGINE_TYPO": "1"})
    with pytest.raises(ConfigError, match="RINGEX_NOPE"):
        load_settings(environ={"RINGEX_NOPE": "1"})
    # the scripts' own variables are not settings
    load_settings(environ={"RINGEX_VAR": "/tmp/x", "RINGEX_CACHE": "/tmp/y"})


def test_distributed_mode_needs_both_services():
    settings = load_settings(environ={"RINGEX_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
                                      "RINGEX_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert not settings.embedded


def test_pairs_from_the_file_replace_the_defaults(tmp_path):
    config = tmp_path / "pairs.toml"
    config.write_text('[[pairs]]\nname = "doge/usdt"\ntick_size = "0.00001"\n'
                      'lot_size = "1"\nmin_qty = "1"\nmax_qty = "1000000"\n'
                      'price_band = ["0.01", "1"]\n')
    registry = load_settings(config, environ={}).registry()
    assert [p.name for p in registry] == ["DOGE-USDT"]


def test_settings_survive_the_file_a_child_process_reads(tmp_path):
    config = tmp_path / "pairs.toml"
    config.write_text('[[pairs]]\nname = "doge/usdt"\ntick_size = "0.00001"\n'
                      'lot_size = "1"\nmin_qty = "1"\nmax_qty = "1000000"\n'
                      'price_band = ["0.01", "1"]\n')
    settings = load_settings(config, environ={
        "RINGEX_KAFKA_BOOTSTRAP": "127.0.0.1:9092", "RINGEX_REDIS_URL": "redis://h:1/0",
        "RINGEX_KAFKA_ORDERS_PARTITIONS": "0,2", "RINGEX_GATEWAY_API_KEYS": ""})
    path = tmp_path / "settings.json"
    path.write_text(settings_to_json(settings))
    assert settings_of_process({SETTINGS_FILE_ENV: str(path)}) == settings
    assert settings_of_process({}) == load_settings(environ={})
    path.write_text('{"engine": {"typo": 1}}')
    with pytest.raises(ConfigError, match="engine.typo"):
        settings_of_process({SETTINGS_FILE_ENV: str(path)})
