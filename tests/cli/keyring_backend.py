"""A keyring backend for the end-to-end tests: the OS keyring's stand-in across processes.

Each ``workbench`` subprocess loads it through keyring's own ``PYTHON_KEYRING_BACKEND``
setting, and it keeps its entries in the JSON file ``$WORKBENCH_TEST_KEYRING``, so a
secret stored by one command is found by the next, as with a real OS keyring. Only
tests use it (it lives under ``tests/``); the tests then check that a secret appears
in this file and nowhere else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.errors
from keyring.backend import KeyringBackend

ENV = "WORKBENCH_TEST_KEYRING"


class ProcessSharedKeyring(KeyringBackend):
    """Entries in a JSON object ``{"service\\u0000username": password}``."""

    priority = 1  # keyring's "recommended" level, like the OS backends

    def _location(self) -> Path:
        return Path(os.environ[ENV])

    def _entries(self) -> dict[str, str]:
        try:
            return json.loads(self._location().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write(self, entries: dict[str, str]) -> None:
        location = self._location()
        temp = location.with_name(location.name + ".tmp")
        temp.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(temp, location)

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}\0{username}"] = password
        self._write(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("no such password")
        self._write(entries)
