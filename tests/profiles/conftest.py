"""Fixtures for the profile tests: a private WORKBENCH_HOME and a real in-memory keyring."""

from __future__ import annotations

import os

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from workbench.profiles import ProfileStore, SecretStore


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps passwords in a dict (a stand-in OS keyring)."""

    priority = 1  # keyring's "recommended" threshold, like the OS backends

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("no such password") from None


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own WORKBENCH_SECRET_* / OS_* variables must not leak into tests."""
    for name in list(os.environ):
        if name.startswith(("WORKBENCH_SECRET_", "OS_")):
            monkeypatch.delenv(name)


@pytest.fixture
def memory_keyring():
    """Install a MemoryKeyring as *the* keyring (keyring.set_keyring), restore afterwards."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


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
