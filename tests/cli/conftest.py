"""Fixtures for the command-line tests: run the real ``workbench`` script in a subprocess.

Every run gets a private ``WORKBENCH_HOME`` (profiles, and the state file of
unfinished operations), a private ``HOME``, and a keyring that lasts across
processes (``keyring_backend.ProcessSharedKeyring``, a JSON file in tmp_path).
Secrets reach the CLI through ``WORKBENCH_SECRET_<PROFILE>_<FIELD>`` variables
unless a test stores them in that keyring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workbench.profiles import ProfileStore, SecretStore
from workbench.profiles.importers import from_simulator
from workbench.profiles.secrets import env_var_name
from workbench.sim.config import SimConfig

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("workbench")
#: Profile names of the simulator's accounts in these tests, by provider.
PROVIDERS = ("kusto", "glance", "ims", "batch", "yandex")


def command() -> list[str]:
    """The installed console script, else ``python -m workbench`` (same entry point)."""
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "workbench"]


@dataclass
class Result:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def __str__(self) -> str:
        return f"workbench {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Cli:
    """Runs ``workbench`` with a controlled environment; remembers every output."""

    env: dict[str, str]
    home: Path
    keyring_file: Path
    history: list[Result] = field(default_factory=list)

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Result:
        environment = dict(self.env)
        environment.update(env or {})
        completed = subprocess.run(
            [*command(), *args], input=input if input is not None else "", capture_output=True, text=True,
            env=environment, timeout=timeout, cwd=self.home.parent,
        )
        result = Result(list(args), completed.returncode, completed.stdout, completed.stderr)
        self.history.append(result)
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.code == 0, str(result)
        return result

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> Result:
        result = self.run(*args, **kwargs)
        assert result.code == code, str(result)
        return result

    def set_secret(self, profile: str, field: str, value: str) -> None:
        self.env[env_var_name(profile, field)] = value

    def keyring_entries(self) -> dict[str, str]:
        try:
            return json.loads(self.keyring_file.read_text())
        except FileNotFoundError:
            return {}


@pytest.fixture
def sim_config() -> SimConfig:
    # Operations end after two polls, and the simulator asks for no wait between polls.
    return SimConfig(operation_polls=2, operation_retry_after=0)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "wbhome"
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("WORKBENCH_", "OS_", "PYTHON_KEYRING", "XDG_"))
    }
    keyring_file = tmp_path / "keyring.json"
    env.update(
        WORKBENCH_HOME=str(home),
        HOME=str(user_home),
        PYTHONPATH=str(REPO),
        PYTHON_KEYRING_BACKEND="tests.cli.keyring_backend.ProcessSharedKeyring",
        WORKBENCH_TEST_KEYRING=str(keyring_file),
        COLUMNS="200",
    )
    return Cli(env=env, home=home, keyring_file=keyring_file)


@pytest.fixture
def accounts(sim_server, cli: Cli) -> dict[str, Any]:
    """A profile per provider on the loopback simulator, named after the provider,
    secrets in ``WORKBENCH_SECRET_*`` variables. Returns the simulator's endpoints."""
    store = ProfileStore(cli.home, secrets=SecretStore(environ={}))
    for candidate in from_simulator(sim_server.endpoints, prefix=""):
        store.save(candidate.profile)
        for secret, value in candidate.secrets.items():
            cli.set_secret(candidate.profile.name, secret, value)
    return sim_server.endpoints
