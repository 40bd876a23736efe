"""Fixtures of the app's tests (helpers to import are in ``tests.tui.helpers``;
``memory_keyring`` is in ``tests/conftest.py``)."""
