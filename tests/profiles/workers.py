"""Process bodies for the concurrency tests (importable, so ``spawn`` can run them)."""

from __future__ import annotations

import os


def _store(home: str):
    from workbench.profiles import ProfileStore, SecretStore

    os.environ["WORKBENCH_HOME"] = home
    return ProfileStore(secrets=SecretStore(environ={}))


def _profile(name: str, description: str):
    from workbench.profiles import Profile

    from tests.profiles.samples import CASES

    return Profile.build(name, "kusto", {**CASES[("kusto", "azure_cli")], "description": description})


def create_many(home: str, tag: str, count: int, barrier, results) -> None:
    """Create ``count`` profiles of our own, then edit each once."""
    store = _store(home)
    barrier.wait(timeout=60)
    for i in range(count):
        store.save(_profile(f"{tag}-{i}", f"{tag} {i}"))
    for i in range(count):
        loaded = store.load(f"{tag}-{i}")
        store.save(loaded.with_settings({"description": f"{tag} {i} edited"}))
    results.put((tag, "done"))


def create_same(home: str, tag: str, barrier, results) -> None:
    """Try to create the one profile 'shared': exactly one creator may win."""
    from workbench.profiles import ProfileConflict

    store = _store(home)
    profile = _profile("shared", f"created by {tag}")
    barrier.wait(timeout=60)
    try:
        store.save(profile)
    except ProfileConflict as exc:
        results.put((tag, "conflict", str(exc)))
    else:
        results.put((tag, "saved", ""))


def append_tokens(home: str, tag: str, count: int, barrier, results) -> None:
    """Append ``count`` tokens to 'shared''s description, reloading after each conflict."""
    from workbench.profiles import ProfileConflict

    store = _store(home)
    barrier.wait(timeout=60)
    conflicts = 0
    for i in range(count):
        while True:
            loaded = store.load("shared")
            edited = loaded.with_settings({"description": f"{loaded.description} {tag}{i}".strip()})
            try:
                store.save(edited)
                break
            except ProfileConflict:
                conflicts += 1
    results.put((tag, conflicts))
