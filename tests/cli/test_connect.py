"""``workbench.connect``: profile -> driver for every provider and auth method, and the Workspace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import keyring
import pytest
from keyring.backends import fail

from workbench.connect import Workspace, open_driver
from workbench.core.operations import Operation, OperationStatus, Poller, PollOutcome
from workbench.core.requestlog import RequestLog
from workbench.profiles import MissingSecret, NoSecureKeyring, Profile, SecretStore
from workbench.profiles.importers import from_simulator


def _profiles(endpoints: dict) -> dict[str, tuple[Profile, dict[str, str]]]:
    return {c.profile.provider: (c.profile, c.secrets) for c in from_simulator(endpoints, prefix="t-")}


def _variants(endpoints: dict) -> list[tuple[Profile, dict[str, str]]]:
    """Every provider with every auth method the simulator can check."""
    base = _profiles(endpoints)
    tokens = endpoints["tokens"]
    sa_key = endpoints["yandex_credentials"]["service_account_key"]
    entra = endpoints["entra_credentials"]
    cases = [base[p] for p in ("kusto", "glance", "ims", "batch", "yandex")]
    glance, glance_secrets = base["glance"]
    cases.append((glance.with_settings({"image_endpoint": None}), glance_secrets))  # from Keystone's catalog
    cases.append((glance.with_settings({"auth.method": "static_token"}), {"token": tokens["glance"]}))
    kusto, _ = base["kusto"]
    cases.append((kusto.with_settings({"auth.method": "static_token"}), {"token": tokens["kusto"]}))
    batch, _ = base["batch"]
    cases.append((batch.with_settings({"auth.method": "static_token"}), {"token": tokens["batch"]}))
    cases.append((batch.with_settings({"auth.method": "client_secret", "auth.tenant_id": entra["tenant_id"],
                                       "auth.client_id": entra["client_id"],
                                       "auth.authority_host": endpoints["entra"]}),
                  {"client_secret": entra["client_secret"]}))
    yandex, _ = base["yandex"]
    cases.append((yandex.with_settings({"auth.method": "service_account_key",
                                        "auth.service_account_id": sa_key["service_account_id"],
                                        "auth.key_id": sa_key["id"]}), {"private_key": sa_key["private_key"]}))
    cases.append((yandex.with_settings({"auth.method": "static_token"}), {"iam_token": tokens["yandex"]}))
    return cases


async def test_every_provider_and_auth_method_opens_and_lists(sim_app, sim_endpoints):
    log = RequestLog()
    for profile, secret_values in _variants(sim_endpoints):
        secrets = SecretStore(environ={})
        for field, value in secret_values.items():
            secrets.remember(profile.name, field, value)
        driver = open_driver(profile, secrets, transport=httpx.ASGITransport(app=sim_app), request_log=log)
        try:
            assert driver.provider == profile.provider and driver.profile == profile.name
            images = [image async for image in driver.list_images(limit=2)]
            assert len(images) == 2, (profile.provider, profile.auth_method)
        finally:
            await driver.aclose()
    assert log.entries(), "the shared request log saw the requests"
    for entry in log.entries():
        for _profile, secret_values in _variants(sim_endpoints):
            for value in secret_values.values():
                assert value not in json.dumps(entry.as_dict())


async def test_secrets_are_read_when_the_driver_opens(sim_endpoints):
    from tests.memory_keyring import MemoryKeyring

    profile, secret_values = _profiles(sim_endpoints)["kusto"]
    previous = keyring.get_keyring()
    try:
        keyring.set_keyring(MemoryKeyring())  # a usable keyring, without the secret
        with pytest.raises(MissingSecret, match="needs its secret 'client_secret'"):
            open_driver(profile, SecretStore(environ={}))
        keyring.set_keyring(fail.Keyring())  # no usable keyring: say what to do instead
        with pytest.raises(NoSecureKeyring, match="WORKBENCH_SECRET_T_KUSTO_CLIENT_SECRET"):
            open_driver(profile, SecretStore(environ={}))

        asked = []

        def prompt(label: str) -> str:
            asked.append(label)
            return secret_values["client_secret"]

        secrets = SecretStore(environ={})
        driver = open_driver(profile, secrets, prompt=prompt)
        await driver.aclose()
        assert asked == ["secret 'client_secret' of profile 't-kusto'"]
        assert secrets.status("t-kusto", "client_secret").value == "session"  # kept for the session
        env = SecretStore(environ={"WORKBENCH_SECRET_T_KUSTO_CLIENT_SECRET": secret_values["client_secret"]})
        await open_driver(profile, env).aclose()
    finally:
        keyring.set_keyring(previous)


async def test_profile_tls_timeouts_and_warnings_reach_the_driver(sim_endpoints, tmp_path: Path):
    profile, secret_values = _profiles(sim_endpoints)["batch"]
    secrets = SecretStore(environ={})
    secrets.remember(profile.name, "account_key", secret_values["account_key"])
    slow = profile.with_settings({"timeouts.connect": "3", "timeouts.read": "42", "tls.verify": "false"})
    warnings: list[str] = []
    driver = open_driver(slow, secrets, warn=warnings.append)
    try:
        timeout = driver.http.client.timeout
        assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 42.0, 60.0, 10.0)
        assert driver.http.client._transport._pool._ssl_context.verify_mode.name == "CERT_NONE"
    finally:
        await driver.aclose()
    assert any("TLS certificate verification is OFF" in w for w in warnings)

    # Every phase, for every provider: values unlike every default and each other,
    # so a phase a driver's connect() set itself would show.
    phases = {"timeouts.connect": "3", "timeouts.read": "42", "timeouts.write": "7", "timeouts.pool": "4"}
    opened = []
    for provider, (each, each_secrets) in _profiles(sim_endpoints).items():
        store = SecretStore(environ={})
        for field, value in each_secrets.items():
            store.remember(each.name, field, value)
        driver = open_driver(each.with_settings(phases), store)
        try:
            timeout = driver.http.client.timeout
            assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 42.0, 7.0, 4.0), provider
            opened.append(provider)
        finally:
            await driver.aclose()
    assert sorted(opened) == ["batch", "glance", "ims", "kusto", "yandex"]

    bundle = tmp_path / "missing-ca.pem"
    with pytest.raises(OSError):
        open_driver(profile.with_settings({"tls.ca_bundle": str(bundle)}), secrets, warn=warnings.append)
    assert any("tls.ca_bundle: file not found" in w for w in warnings)


async def test_workspace_caches_drivers_and_registers_pollers(tmp_path: Path, sim_endpoints):
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    profile, secret_values = _profiles(sim_endpoints)["kusto"]
    workspace.profiles.save(profile)
    workspace.secrets.remember(profile.name, "client_secret", secret_values["client_secret"])
    try:
        driver = workspace.driver("t-kusto")
        assert workspace.driver("t-kusto") is driver
        op = Operation(id="x", provider="kusto", kind="create", target="t", profile="t-kusto")
        assert workspace.tracker.poller_for(op) is driver.poller()
        # A changed profile opens a new driver.
        workspace.profiles.save(workspace.profiles.load("t-kusto").with_settings({"cluster": "other"}))
        assert workspace.driver("t-kusto") is not driver
    finally:
        await workspace.aclose()
    assert workspace.operations_path == tmp_path / "home" / "state" / "operations.json"


async def test_the_demo_workspace_needs_no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        workspace = Workspace.demo()
        home = workspace.profiles.home
        try:
            assert workspace.is_demo
            assert workspace.profiles.names() == ["demo-batch", "demo-glance", "demo-ims", "demo-kusto", "demo-yandex"]
            for name in workspace.profiles.names():
                images = [i async for i in workspace.driver(name).list_images(limit=1)]
                assert len(images) == 1
        finally:
            await workspace.aclose()
        assert not home.exists()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                await client.get(workspace.demo_endpoints["admin"] + "/health")
    finally:
        keyring.set_keyring(previous)


class _Never(Poller):
    """An operation that keeps running (for the state-file tests)."""

    provider = "fake"

    async def poll(self, op: Operation) -> PollOutcome:
        return PollOutcome(OperationStatus.RUNNING, retry_after=3600)


async def test_two_workspaces_share_the_operations_file(tmp_path: Path):
    first = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    second = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    for workspace in (first, second):
        workspace.tracker.register("fake", _Never())
    try:
        first.track(Operation(id="a", provider="fake", kind="create", target="x"))
        second.track(Operation(id="b", provider="fake", kind="create", target="y"))
        saved = json.loads(first.operations_path.read_text())
        assert sorted(op["id"] for op in saved["operations"]) == ["a", "b"]

        # The first process sees its operation finish; the other's record stays.
        op = first.tracker.get("a")
        op.status = OperationStatus.SUCCEEDED
        first.tracker.save()
        assert [op["id"] for op in json.loads(first.operations_path.read_text())["operations"]] == ["b"]

        # A process that only loaded the file does not write back its (older) copy.
        reader = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
        assert [op.id for op in reader.saved_operations()] == ["b"]
        op_b = second.tracker.get("b")
        op_b.progress = 0.5
        second.tracker.save()
        reader.tracker.save()
        assert json.loads(first.operations_path.read_text())["operations"][0]["progress"] == 0.5
        await reader.aclose()

        third = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
        assert [op.id for op in third.saved_operations()] == ["b"]
        third.tracker.forget("b")
        third.tracker.save()
        assert json.loads(first.operations_path.read_text())["operations"] == []
        await third.aclose()
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_damaged_operations_file_is_moved_aside(tmp_path: Path):
    warnings: list[str] = []
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}), on_warning=warnings.append)
    workspace.operations_path.parent.mkdir(parents=True)
    workspace.operations_path.write_text("{not json")
    assert workspace.saved_operations() == []
    assert warnings and "not a saved operations file" in warnings[0]
    assert workspace.operations_path.with_suffix(".damaged.json").read_text() == "{not json"
    await workspace.aclose()


def test_workbench_home_sets_the_state_directory(monkeypatch, tmp_path: Path):
    from workbench.connect import default_state_dir

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "state"
    assert Workspace().operations_path == tmp_path / "state" / "operations.json"
    asyncio.run(Workspace().aclose())


class _Finishes(Poller):
    """Succeeds on the first poll, and remembers which operations it polled."""

    provider = "kusto"

    def __init__(self) -> None:
        self.polled: list[str] = []

    async def poll(self, op: Operation) -> PollOutcome:
        self.polled.append(op.id)
        return PollOutcome(OperationStatus.SUCCEEDED, raw={"id": op.id})


def _write_saved(path: Path, ops: list[Operation]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "saved_at": 0, "operations": [op.to_dict() for op in ops]}))


async def test_resuming_one_operation_leaves_the_others_saved_and_unpolled(tmp_path: Path, sim_endpoints):
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    profile, secret_values = _profiles(sim_endpoints)["kusto"]
    workspace.profiles.save(profile)
    workspace.secrets.remember(profile.name, "client_secret", secret_values["client_secret"])
    ops = [Operation(id=op_id, provider="kusto", kind="create", target=op_id, profile="t-kusto",
                     next_poll_at=0.0) for op_id in ("a", "b", "c")]
    _write_saved(workspace.operations_path, ops)
    before = {r["id"]: r for r in json.loads(workspace.operations_path.read_text())["operations"]}
    poller = _Finishes()
    try:
        workspace.driver("t-kusto")  # opened (and cached) first, so this poller stays the one registered
        workspace.tracker.register("kusto", poller, profile="t-kusto")
        started, problems = workspace.resume(["a"])  # what `workbench ops watch a` does
        assert [op.id for op in started] == ["a"] and problems == {}
        finished = await workspace.tracker.wait_all(timeout=10)  # everything being polled
        assert [op.id for op in finished] == ["a"]
        assert poller.polled == ["a"]
    finally:
        await workspace.aclose()
    # "a" finished and left the file; "b" and "c" are still there for whoever watches them, as they were.
    after = {r["id"]: r for r in json.loads(workspace.operations_path.read_text())["operations"]}
    assert after == {"b": before["b"], "c": before["c"]}


async def test_saving_over_a_damaged_operations_file_moves_it_aside_first(tmp_path: Path):
    warnings: list[str] = []
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}), on_warning=warnings.append)
    workspace.operations_path.parent.mkdir(parents=True)
    cut_short = '{"version": 1, "operations": [{"id": "x"'
    workspace.operations_path.write_text(cut_short)
    workspace.tracker.register("fake", _Never())
    try:
        workspace.track(Operation(id="new", provider="fake", kind="create", target="t"))
    finally:
        await workspace.aclose()
    # The damaged file was kept (for a human to look at), with a warning, never silently overwritten ...
    assert workspace.operations_path.with_suffix(".damaged.json").read_text() == cut_short
    assert len(warnings) == 1 and "not a saved operations file" in warnings[0] and "moved it aside" in warnings[0]
    # ... and the file now holds this process's operation.
    assert [r["id"] for r in json.loads(workspace.operations_path.read_text())["operations"]] == ["new"]


async def test_a_record_that_is_not_an_operation_damages_the_file_and_an_earlier_copy_is_kept(tmp_path: Path):
    warnings: list[str] = []
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}), on_warning=warnings.append)
    state = workspace.operations_path
    state.parent.mkdir(parents=True)
    state.with_suffix(".damaged.json").write_text("an earlier damaged copy")
    state.write_text(json.dumps({"version": 1, "operations": [{"id": "x", "provider": "fake", "kind": "create",
                                                               "target": "t", "status": "exploded"}]}))
    assert workspace.saved_operations() == []
    assert "damaged operation record #1" in warnings[0]
    assert state.with_suffix(".damaged.json").read_text() == "an earlier damaged copy"
    assert "exploded" in state.with_suffix(".damaged-2.json").read_text()
    assert not state.exists()
    await workspace.aclose()


def test_the_shared_state_tracker_is_an_importable_class(tmp_path: Path):
    from workbench.core.operations import OperationTracker
    from workbench.core.opstate import SharedStateTracker

    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    assert type(workspace.tracker) is SharedStateTracker and issubclass(SharedStateTracker, OperationTracker)
    asyncio.run(workspace.aclose())


async def test_the_shared_operations_file_is_written_privately_and_durably(tmp_path: Path, monkeypatch):
    import os
    import stat

    synced: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def spy(fd):
        mode = os.fstat(fd).st_mode
        synced.append(("dir" if stat.S_ISDIR(mode) else "file", stat.S_IMODE(mode)))
        return real_fsync(fd)

    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}))
    workspace.tracker.register("fake", _Never())
    monkeypatch.setattr(os, "fsync", spy)
    try:
        workspace.track(Operation(id="a", provider="fake", kind="create", target="x"))
    finally:
        monkeypatch.undo()
        await workspace.aclose()
    # The new bytes reach the disk before the rename, and the rename itself after it.
    assert synced[:2] == [("file", 0o600), ("dir", 0o700)]
    assert stat.S_IMODE(workspace.operations_path.stat().st_mode) == 0o600
