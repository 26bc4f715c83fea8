"""Files derived from the config code stay in sync: the JSON Schema and the README reference;
and ``check-config`` reports as operators expect (exit codes, key paths, no traceback)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import jsonschema
import pytest
import yaml

from shared.config.sections import RunnerConfig
from supervisor.config.jsonschema import config_schema
from supervisor.config.reference import embed
from tests.harness import REPO, runner_env


def every_key() -> list[str]:
    return [f"{name}.{field.name}" for name, section in get_type_hints(RunnerConfig).items()
            for field in dataclasses.fields(section)]


def test_the_checked_in_schema_matches_the_code() -> None:
    checked_in = json.loads((REPO / "config" / "schema.json").read_text())
    assert checked_in == config_schema(), "run: python -m supervisor.config.jsonschema > config/schema.json"


def test_the_readme_reference_matches_the_code_and_names_every_key() -> None:
    readme = (REPO / "README.md").read_text()
    assert embed(readme) == readme, "run: python -m supervisor.config.reference --update README.md"
    for key in every_key():
        assert f"`{key}`" in readme


@pytest.mark.parametrize("name", ["local.yaml", "production.example.yaml"])
def test_example_configs_validate_against_the_schema(name: str) -> None:
    document = yaml.safe_load((REPO / "config" / name).read_text())
    jsonschema.validate(document, config_schema())


def test_the_schema_refuses_unknown_keys_and_bad_types() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"pool": {"wokers": 2}}, config_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"pool": {"workers": "many"}}, config_schema())
    jsonschema.validate({"pool": {"workers": "${WORKERS}"}}, config_schema())


def check_config(path: Path | str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", "check-config", "--config", str(path)],
                          cwd=REPO, env=runner_env(**env), capture_output=True, text=True, timeout=60)


def test_check_config_accepts_a_valid_file() -> None:
    done = check_config("config/production.example.yaml", RUNNER_TOKEN="cred.secret-value-xyz",
                        OPENAI_API_KEY="sk-abcdef")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "8 workers" in done.stdout
    assert "secret-value-xyz" not in done.stdout + done.stderr


def test_check_config_names_every_bad_key_and_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cloud:\n  token: 'cred.hunter2-secret'\npool:\n  workers: many\n  poll_intervall: 1\n")
    done = check_config(path, OPENAI_API_KEY="sk-abcdef")
    assert done.returncode == 2
    assert 'pool.workers: expected an integer between 1 and 512, got "many"' in done.stderr
    assert 'pool.poll_intervall: unknown key; did you mean "poll_interval"?' in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


def test_check_config_without_the_file_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "supervisor", "check-config"], cwd=REPO, env=runner_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--config" in done.stderr and "Traceback" not in done.stderr
