"""Fixtures for the profile tests: a private WORKBENCH_HOME, no secrets from the environment, keyring's
fail backend (``memory_keyring`` is in ``tests/conftest.py``)."""

from __future__ import annotations

import os

import keyring
import pytest

from workbench.profiles import ProfileStore, SecretStore


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own WORKBENCH_SECRET_* / OS_* variables must not leak into tests."""
    for name in list(os.environ):
        if name.startswith(("WORKBENCH_SECRET_", "OS_")):
            monkeypatch.delenv(name)


@pytest.fixture
def fail_keyring():
    """keyring's own 'fail' backend: what a headless Linux box without D-Bus gets."""
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def workbench_home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "wbhome"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture
def secrets() -> SecretStore:
    return SecretStore()


@pytest.fixture
def store(workbench_home, secrets) -> ProfileStore:
    return ProfileStore(secrets=secrets)
