"""A real keyring backend that keeps passwords in a dict: the OS keyring's stand-in in tests.

The ``memory_keyring`` fixture (``tests/conftest.py``) installs one with
``keyring.set_keyring`` for a test and restores the previous backend after it.
"""

from __future__ import annotations

import keyring.errors
from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    """Passwords by ``(service, username)`` in ``entries``."""

    priority = 1  # type: ignore[assignment]  # keyring's "recommended" threshold, like the OS backends

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
