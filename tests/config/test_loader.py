"""The config loader: YAML → interpolation → env → flags → typed, validated, immutable objects."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from supervisor.cloud_target import connect_cloud
from supervisor.config import ConfigError, RunnerConfig, load_config

KEY = "cred-abc.s3cr3t-value-123"
ENV = {"RUNNER_TOKEN": KEY, "OPENAI_API_KEY": "sk-test-1234567890"}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None, **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=ENV if env is None else env, overrides=overrides or None)
    return [str(problem) for problem in caught.value.problems]


def test_defaults_and_env_alone_make_a_valid_config() -> None:
    config = load_config(None, env=ENV)
    assert config.cloud.token == KEY and config.cloud.base_url == "https://cloud.xenonflare.com"
    assert config.pool.workers == 4 and config.model.name == "openai-responses"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pool.workers = 8  # type: ignore[misc]


def test_the_example_configs_are_valid() -> None:
    local = load_config("config/local.yaml", env={})
    assert local.embedded_cloud and local.model.name == "builtin"
    production = load_config("config/production.example.yaml", env=ENV)
    assert production.pool.max_worker_memory == 2 * 2 ** 30
    assert production.logging.format == "json"


def test_a_bad_value_names_the_key_and_what_was_expected(tmp_path: Path) -> None:
    assert problems(tmp_path, "pool:\n  workers: many\n") == [
        'pool.workers: expected an integer between 1 and 512, got "many"']


@pytest.mark.parametrize("text, expected", [
    ("pool:\n  workers: 0\n", "pool.workers: expected an integer between 1 and 512, got 0"),
    ("pool:\n  workers: true\n", "pool.workers: expected an integer between 1 and 512, got true"),
    ("pool:\n  poll_interval: -1\n", "pool.poll_interval: expected a number of seconds between 0.05 and 3600, got -1"),
    ("cloud:\n  read_timeout: 0\n", "cloud.read_timeout: expected a number of seconds > 0 and ≤ 3600, got 0"),
    ("pool:\n  start_method: thread\n", 'pool.start_method: expected one of forkserver, spawn, fork, got "thread"'),
    ("logging:\n  format: xml\n", 'logging.format: expected one of text, json, got "xml"'),
    ("metrics:\n  listen: 9464\n", "metrics.listen: expected HOST:PORT (e.g. 127.0.0.1:9464), got 9464"),
    ("metrics:\n  listen: 'host:99999'\n",
     'metrics.listen: expected HOST:PORT (e.g. 127.0.0.1:9464), got "host:99999"'),
    ("pool:\n  max_worker_memory: lots\n",
     'pool.max_worker_memory: expected a size in bytes (e.g. 536870912 or 512MiB) between 0 and 1125899906842624, '
     'got "lots"'),
    ("emulator:\n  error_rate: 2\n", "emulator.error_rate: expected a number between 0 and 1, got 2"),
    ("pool: 4\n", "pool: expected a mapping of pool settings, got int"),
    ("model:\n  name: 'not a handle'\n", "model.name: unknown model 'not a handle': expected one of "
                                        "openai-responses, openai-chat, builtin, llama-cpp or package.module:callable"),
])
def test_each_kind_of_bad_value_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, text)


def test_unknown_keys_get_a_did_you_mean(tmp_path: Path) -> None:
    found = problems(tmp_path, "pool:\n  wokers: 3\npoool: {}\n")
    assert 'pool.wokers: unknown key; did you mean "workers"?' in found
    assert 'poool: unknown key; did you mean "pool"?' in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "pool:\n  workers: x\n  graceful_timeout: y\nlogging:\n  level: loud\n")
    assert [p.split(":")[0] for p in found] == ["pool.workers", "pool.graceful_timeout", "logging.level"]


@pytest.mark.parametrize("text, expected", [
    ("pool: [1, 2\n", "--config: "),
    ("- a\n- b\n", "--config: "),
])
def test_unreadable_yaml_is_a_config_error(tmp_path: Path, text: str, expected: str) -> None:
    [problem] = problems(tmp_path, text)
    assert problem.startswith(expected)


def test_yaml_syntax_errors_say_where(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "pool:\n  workers: [1\n")
    assert "line" in problem and "column" in problem


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path / "nope.yaml"), env=ENV)
    assert str(caught.value) == f"--config: {tmp_path / 'nope.yaml'} cannot be read: No such file or directory"


def test_env_references_are_interpolated(tmp_path: Path) -> None:
    text = "pool:\n  workers: ${WORKERS}\n  poll_interval: ${POLL:-1.5}\nmodel:\n  model: 'pay$$model'\n"
    config = load_config(write(tmp_path, text), env={**ENV, "WORKERS": "6"})
    assert (config.pool.workers, config.pool.poll_interval, config.model.model) == (6, 1.5, "pay$model")


def test_an_unset_env_reference_is_an_error_naming_key_and_variable(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "model:\n  model: ${MISSING_MODEL}\n")
    assert problem.startswith("model.model: environment variable MISSING_MODEL is not set")


def test_precedence_is_flag_over_env_over_yaml_over_default(tmp_path: Path) -> None:
    path = write(tmp_path, "pool:\n  poll_interval: 4\n  workers: 3\nmodel:\n  model: from-yaml\n")
    env = {**ENV, "POLL_MS": "1000", "OPENAI_MODEL": "from-env"}
    config = load_config(path, env=env, overrides={"pool.workers": 9, "model.model": None})
    assert config.pool.workers == 9            # flag
    assert config.pool.poll_interval == 1.0    # env beats YAML
    assert config.model.model == "from-env"    # env beats YAML; an unset flag (None) does not count
    assert config.model.summary_model == "gpt-5-mini"   # default


def test_official_millisecond_variables_become_seconds_with_the_official_floor() -> None:
    config = load_config(None, env={**ENV, "POLL_MS": "100", "RUNNER_JOB_MAX_RUNTIME_MS": "90000",
                                    "RUNNER_JOB_MAX_EMPTY_POLLS": "7"})
    assert config.pool.poll_interval == 0.5     # POLL_MS has a 500 ms floor, as in the official runner
    assert config.pool.max_runtime == 90.0
    assert config.pool.max_empty_polls == 7


def test_a_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    assert problems(tmp_path, "{}\n", env={**ENV, "RUNNER_JOB_MAX_EMPTY_POLLS": "often"}) == [
        'pool.max_empty_polls (from RUNNER_JOB_MAX_EMPTY_POLLS): expected an integer between 0 and 1000000000, '
        'got "often"']


def test_a_runner_key_is_required_unless_the_cloud_is_embedded(tmp_path: Path) -> None:
    found = problems(tmp_path, "{}\n", env={"OPENAI_API_KEY": "sk-x"})
    assert found[0].startswith("cloud.token: a runner key is required")
    assert load_config(write(tmp_path, "cloud: {base_url: embedded}\nmodel: {name: builtin}\n"), env={})


def test_token_and_tokens_are_exclusive_and_tokens_are_spread_over_slots(tmp_path: Path) -> None:
    assert any(p.startswith("cloud.tokens: set either") for p in
               problems(tmp_path, "cloud:\n  token: a.bbbb\n  tokens: [c.dddd]\n", env={"OPENAI_API_KEY": "k"}))
    text = 'cloud:\n  tokens:\n    - "${RUNNER_TOKEN_1}"\n    - "${RUNNER_TOKEN_2}"\n'
    config = load_config(write(tmp_path, text), env={**ENV, "RUNNER_TOKEN_1": "k1.aaaa", "RUNNER_TOKEN_2": "k2.bbbb"})
    assert config.cloud.token is None   # RUNNER_TOKEN does not override an explicit key list
    cloud = connect_cloud(config)
    assert [cloud.token_for_slot(slot) for slot in range(3)] == ["k1.aaaa", "k2.bbbb", "k1.aaaa"]
    single = connect_cloud(load_config(None, env=ENV))
    assert [single.token_for_slot(slot) for slot in range(2)] == [KEY, KEY]


def test_the_model_api_key_is_required_for_openai_handles_only(tmp_path: Path) -> None:
    assert any(p.startswith("model.api_key: required for openai-responses")
               for p in problems(tmp_path, "{}\n", env={"RUNNER_TOKEN": KEY}))
    assert load_config(write(tmp_path, "model: {name: builtin}\n"), env={"RUNNER_TOKEN": KEY})


def test_plain_http_is_refused_except_for_loopback(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "cloud:\n  base_url: http://cloud.example.com\n")
    assert problem.startswith("cloud.base_url: plain http is allowed only for loopback hosts")
    config = load_config(write(tmp_path, "cloud:\n  base_url: http://127.0.0.1:8080/\n"), env=ENV)
    assert config.cloud.base_url == "http://127.0.0.1:8080"   # trailing slash dropped


def test_sizes_accept_units() -> None:
    for text, size in (("512MiB", 512 * 2 ** 20), ("2GB", 2 * 10 ** 9), ("1048576", 2 ** 20), ("1.5GiB", 3 * 2 ** 29)):
        assert load_config(None, env=ENV, overrides={"pool.max_worker_memory": text}).pool.max_worker_memory == size


def test_secrets_are_never_echoed_in_errors(tmp_path: Path) -> None:
    found = problems(tmp_path, "cloud:\n  token: 123456789\n", env={"OPENAI_API_KEY": "sk-x"})
    assert found == ["cloud.token: expected a string, got a int (value hidden)"]
    assert "123456789" not in "".join(found)


def test_cross_field_rules(tmp_path: Path) -> None:
    found = problems(tmp_path, "pool:\n  restart_backoff: 10\n  restart_backoff_max: 1\n")
    assert found == ["pool.restart_backoff_max: must be ≥ pool.restart_backoff (10.0)"]
    assert "cloud.tokens: the same runner key is listed twice" in problems(
        tmp_path, "cloud:\n  tokens: [a.bbbb, a.bbbb]\n", env={"OPENAI_API_KEY": "k"})


def test_loading_registers_secrets_for_redaction() -> None:
    from shared.http.redact import redact
    load_config(None, env=ENV)
    assert KEY not in redact(f"Authorization failed for {KEY}")
    assert isinstance(load_config(None, env=ENV), RunnerConfig)


def test_file_references_read_mounted_secrets_on_every_load(tmp_path: Path) -> None:
    secret = tmp_path / "runner_token"
    secret.write_text("cred-1.first-secret\n")
    path = write(tmp_path, f"cloud:\n  token: ${{file:{secret}}}\nmodel: {{name: builtin}}\n")
    assert load_config(path, env={}).cloud.token == "cred-1.first-secret"
    secret.write_text("cred-2.rotated-secret")
    assert load_config(path, env={}).cloud.token == "cred-2.rotated-secret"   # what SIGHUP does


def test_an_unreadable_or_empty_secret_file_names_key_and_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    [problem] = problems(tmp_path, f"model:\n  api_key: ${{file:{missing}}}\n", env={"RUNNER_TOKEN": KEY})
    assert problem.startswith(f"model.api_key: {missing} cannot be read: No such file or directory")
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    assert f"model.api_key: {empty} is empty" in problems(
        tmp_path, f"model:\n  api_key: ${{file:{empty}}}\n", env={"RUNNER_TOKEN": KEY})[0]


def test_model_options_pass_through_to_custom_handles(tmp_path: Path) -> None:
    text = "model:\n  name: mypkg.handles:make\n  options: {gpu: 1, path: /models/x}\n"
    config = load_config(write(tmp_path, text), env={"RUNNER_TOKEN": KEY})
    assert config.model.options == {"gpu": 1, "path": "/models/x"}
    assert "model.options: expected a mapping of options, got list" in problems(
        tmp_path, "model:\n  options: [1]\n", env={"RUNNER_TOKEN": KEY, "OPENAI_API_KEY": "k"})
