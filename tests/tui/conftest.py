"""Fixtures of the app's tests (helpers to import are in ``tests.tui.helpers``)."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest

from tests.tui.helpers import MemoryKeyring


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The OS keyring replaced by one in memory for the test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
