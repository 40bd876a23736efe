"""ProfileStore: files, modes, atomic replace, crashes, concurrent writers, rename/remove, import."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from workbench.profiles import (
    Profile,
    ProfileConflict,
    ProfileError,
    ProfileNotFound,
    ProfileStore,
    SecretStore,
    default_home,
)
from workbench.profiles.model import display_path

from . import workers
from .samples import CASES

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "profiles"


def sample(name: str = "prod", case=("kusto", "client_secret"), **extra) -> Profile:
    return Profile.build(name, case[0], {**CASES[case], **extra})


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def litter(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- where and how
def test_home_comes_from_workbench_home_or_platformdirs(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "h"))
    assert ProfileStore().directory == tmp_path / "h" / "profiles"
    monkeypatch.delenv("WORKBENCH_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "workbench"
    assert ProfileStore(home=tmp_path / "explicit").directory == tmp_path / "explicit" / "profiles"


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_save_load_round_trip_for_every_provider_and_auth_method(store, case):
    profile = sample("rt", case, description="round trip")
    saved = store.save(profile)
    loaded = store.load("rt")
    assert loaded == profile
    assert loaded.revision == saved.revision is not None
    assert store.names() == ["rt"]
    text = (store.directory / "rt.toml").read_text()
    assert tomllib.loads(text)["provider"] == case[0]
    for secret in profile.secret_fields:  # the header says where each secret is read from
        assert f"WORKBENCH_SECRET_RT_{secret.upper()}" in text


def test_files_and_directory_are_private_whatever_the_umask(store, monkeypatch):
    seen_modes = []
    real_fsync = os.fsync

    def spy(fd):  # the temp file, just before it is renamed into place
        seen_modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fsync(fd)

    old_umask = os.umask(0)  # a careless umask must not matter
    try:
        monkeypatch.setattr(os, "fsync", spy)
        store.save(sample())
    finally:
        os.umask(old_umask)
    assert seen_modes and seen_modes[0] == 0o600
    assert mode_of(store.directory / "prod.toml") == 0o600
    assert mode_of(store.directory) == 0o700


def test_missing_profile(store):
    with pytest.raises(ProfileNotFound, match=r"profiles/ghost.toml: profile 'ghost': no such profile"):
        store.load("ghost")
    with pytest.raises(ProfileError, match="name: '../etc/passwd' must be 1-63 characters"):
        store.load("../etc/passwd")


def test_validation_error_of_a_stored_file_names_it(store):
    store.save(sample())
    path = store.directory / "prod.toml"
    path.write_text(path.read_text().replace('resource_group = "kustorptest"', 'resource_group = ""'))
    with pytest.raises(ProfileError) as info:
        store.load("prod")
    assert str(info.value) == f"{display_path(path)}: profile 'prod': kusto.resource_group: must be 1-90 characters"
    assert info.value.path == path


def test_list_reports_broken_files_and_keeps_good_ones(store):
    store.save(sample("good"))
    store.save(sample("other", ("yandex", "oauth")))
    (store.directory / "broken.toml").write_text("provider = \n")
    (store.directory / "invalid.toml").write_text('provider = "batch"\n[batch]\naccount_name = "X"\n')
    (store.directory / "Bad Name.toml").write_text('provider = "kusto"\n')
    (store.directory / "notes.txt").write_text("ignored")
    listing = store.list()
    assert listing.names() == ["good", "other"]
    messages = sorted(str(e) for e in listing.errors)
    assert len(messages) == 3
    assert any("Bad Name.toml: the file name is not a profile name" in m for m in messages)
    assert any("broken.toml: profile 'broken': not valid TOML" in m for m in messages)
    assert any("invalid.toml: profile 'invalid': batch.account_name" in m for m in messages)


# ---------------------------------------------------------------- optimistic concurrency
def test_create_refuses_to_overwrite(store):
    store.save(sample(description="first"))
    with pytest.raises(ProfileConflict, match="already exists"):
        store.save(sample(description="second"))
    assert store.load("prod").description == "first"


def test_a_stale_save_is_refused_not_lost(store):
    store.save(sample())
    mine = store.load("prod")
    theirs = store.load("prod")
    store.save(theirs.with_settings({"cluster": "theirs"}))
    with pytest.raises(ProfileConflict, match="was changed by someone else since it was loaded"):
        store.save(mine.with_settings({"cluster": "mine"}))
    assert store.load("prod").settings.cluster == "theirs"
    # Reloading and redoing the change works.
    store.save(store.load("prod").with_settings({"cluster": "mine"}))
    assert store.load("prod").settings.cluster == "mine"


def test_saving_a_profile_removed_meanwhile_is_refused(store):
    store.save(sample())
    loaded = store.load("prod")
    (store.directory / "prod.toml").unlink()
    with pytest.raises(ProfileConflict, match="was removed since it was loaded"):
        store.save(loaded)


def test_explicit_expected_revision(store):
    first = store.save(sample())
    second = store.save(sample(description="v2"), expected_revision=first.revision)
    with pytest.raises(ProfileConflict):
        store.save(sample(description="v3"), expected_revision=first.revision)
    assert store.current_revision("prod") == second.revision


# ---------------------------------------------------------------- crashes
def test_failed_replace_keeps_the_old_file_and_leaves_no_temp(store, monkeypatch):
    store.save(sample(description="old"))
    before = (store.directory / "prod.toml").read_bytes()

    def crash(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save(store.load("prod").with_settings({"description": "new"}))
    assert (store.directory / "prod.toml").read_bytes() == before
    assert litter(store.directory) == []


def test_failed_write_keeps_the_old_file(store, monkeypatch):
    store.save(sample(description="old"))
    before = (store.directory / "prod.toml").read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.save(store.load("prod").with_settings({"description": "new"}))
    assert (store.directory / "prod.toml").read_bytes() == before
    assert litter(store.directory) == []


def test_a_writer_killed_mid_save_leaves_the_old_file_intact(store, workbench_home):
    store.save(sample(description="old"))
    before = (store.directory / "prod.toml").read_bytes()
    script = textwrap.dedent(
        """
        import os, signal
        from workbench.profiles import ProfileStore
        store = ProfileStore()
        edited = store.load("prod").with_settings({"description": "never lands"})
        def killed(src, dst):  # the new bytes are written and fsynced; die before the rename
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace = killed
        store.save(edited)
        """
    )
    env = {**os.environ, "WORKBENCH_HOME": str(workbench_home)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()

    assert (store.directory / "prod.toml").read_bytes() == before
    left = litter(store.directory)
    assert len(left) == 1 and left[0].startswith(".prod.toml.")  # what a crash leaves...
    assert mode_of(store.directory / left[0]) == 0o600
    assert store.list().names() == ["prod"] and not store.list().errors  # ...is ignored by readers
    assert store.load("prod").description == "old"

    store.save(store.load("prod").with_settings({"description": "next"}))  # ...and swept by the next writer
    assert litter(store.directory) == []
    assert store.load("prod").description == "next"


# ---------------------------------------------------------------- concurrent processes
def _run(target, args_list, timeout=120):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_list))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_list]
    for proc in procs:
        proc.start()
    collected = [results.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(timeout=timeout)
        assert proc.exitcode == 0
    return collected


def test_two_processes_saving_different_profiles_lose_nothing(store, workbench_home):
    count = 8
    results = _run(workers.create_many, [(str(workbench_home), "a", count), (str(workbench_home), "b", count)])
    assert sorted(results) == [("a", "done"), ("b", "done")]
    listing = store.list()
    assert not listing.errors
    assert len(listing.profiles) == 2 * count
    assert {p.description for p in listing.profiles} == {f"{t} {i} edited" for t in "ab" for i in range(count)}
    assert litter(store.directory) == []


def test_two_processes_creating_the_same_profile_one_wins_one_is_told(store, workbench_home):
    results = _run(workers.create_same, [(str(workbench_home), "a"), (str(workbench_home), "b")])
    outcomes = sorted(r[1] for r in results)
    assert outcomes == ["conflict", "saved"]
    winner = next(r[0] for r in results if r[1] == "saved")
    loser_message = next(r[2] for r in results if r[1] == "conflict")
    assert "already exists" in loser_message
    assert store.load("shared").description == f"created by {winner}"


def test_two_processes_editing_the_same_profile_never_lose_an_edit(store, workbench_home):
    store.save(sample("shared", ("kusto", "azure_cli"), description=""))
    count = 12
    results = _run(workers.append_tokens, [(str(workbench_home), "a", count), (str(workbench_home), "b", count)])
    tokens = store.load("shared").description.split()
    # Every save either landed or was refused and redone: all 24 edits are there, once each.
    assert sorted(tokens) == sorted(f"{t}{i}" for t in "ab" for i in range(count))
    for tag in "ab":  # each process's own edits stay in order
        mine = [t for t in tokens if t.startswith(tag)]
        assert mine == [f"{tag}{i}" for i in range(count)]
    assert all(isinstance(conflicts, int) for _, conflicts in results)
    assert litter(store.directory) == []


# ---------------------------------------------------------------- rename, remove, import
def test_rename_moves_the_file_and_the_secrets(store, memory_keyring):
    store.save(sample())
    store.secrets.set("prod", "client_secret", "s1")
    store.secrets.set("prod", "token", "leftover-of-an-earlier-auth-method")
    renamed = store.rename("prod", "production")
    assert renamed.name == "production" and renamed.revision == store.current_revision("production")
    assert store.names() == ["production"]
    assert store.load("production") == sample("production")
    assert memory_keyring.entries == {
        ("workbench", "production:client_secret"): "s1",
        ("workbench", "production:token"): "leftover-of-an-earlier-auth-method",
    }
    store.save(sample("taken"))
    with pytest.raises(ProfileConflict, match="already exists"):
        store.rename("production", "taken")
    assert store.names() == ["production", "taken"]


def test_rename_with_a_failing_keyring_keeps_the_old_profile(store, memory_keyring, monkeypatch):
    import keyring.errors

    store.save(sample())
    store.secrets.set("prod", "client_secret", "s1")

    def refuse(*args):
        raise keyring.errors.PasswordSetError("locked")

    monkeypatch.setattr(memory_keyring, "set_password", refuse)
    with pytest.raises(Exception, match="locked"):
        store.rename("prod", "production")
    assert store.names() == ["prod"]
    assert memory_keyring.entries == {("workbench", "prod:client_secret"): "s1"}


def test_rename_failing_on_a_later_secret_keeps_every_secret_of_the_old_profile(store, memory_keyring,
                                                                                monkeypatch):
    import keyring.errors

    store.save(sample())
    store.secrets.set("prod", "client_secret", "s1")
    store.secrets.set("prod", "token", "s2")
    real_set = memory_keyring.set_password
    sets = []

    def second_set_fails(service, username, password):  # the keyring locks after the first copy
        sets.append(username)
        if len(sets) == 2:
            raise keyring.errors.PasswordSetError("locked")
        real_set(service, username, password)

    monkeypatch.setattr(memory_keyring, "set_password", second_set_fails)
    with pytest.raises(Exception, match="locked"):
        store.rename("prod", "production")
    assert store.names() == ["prod"]
    assert memory_keyring.entries == {("workbench", "prod:client_secret"): "s1", ("workbench", "prod:token"): "s2"}


def test_remove_deletes_the_file_and_every_secret(store, memory_keyring):
    store.save(sample())
    store.secrets.set("prod", "client_secret", "s1")
    store.secrets.set("prod", "token", "s2")
    store.secrets.set("keep", "client_secret", "s3")
    store.secrets.remember("prod", "client_secret", "typed")
    store.remove("prod")
    assert store.names() == []
    assert memory_keyring.entries == {("workbench", "keep:client_secret"): "s3"}
    assert store.secrets.get("prod", "client_secret") is None
    with pytest.raises(ProfileNotFound):
        store.remove("prod")


def test_remove_works_on_an_invalid_file(store, memory_keyring):
    (store.directory).mkdir(parents=True)
    (store.directory / "junk.toml").write_text("not toml at all [")
    store.secrets.set("junk", "password", "p")
    store.remove("junk")
    assert store.names() == [] and memory_keyring.entries == {}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_every_example_profile_imports(store, example):
    profile = store.import_file(EXAMPLES / example)
    assert profile.name == Path(example).stem
    assert profile.provider == Path(example).stem
    assert store.load(profile.name) == profile
    assert profile.warnings == []
    text = (EXAMPLES / example).read_text()
    for secret in profile.secret_fields:  # each example says how its secrets are provided
        assert f"--secret {secret}" in text
        assert f"WORKBENCH_SECRET_{profile.name.upper()}_{secret.upper()}" in text


def test_there_is_one_example_per_provider():
    assert sorted(p.stem for p in EXAMPLES.glob("*.toml")) == ["batch", "glance", "ims", "kusto", "yandex"]


def test_import_names_conflicts_and_errors(store, tmp_path):
    store.import_file(EXAMPLES / "kusto.toml", name="mine")
    with pytest.raises(ProfileConflict):
        store.import_file(EXAMPLES / "kusto.toml", name="mine")
    replaced = store.import_file(EXAMPLES / "glance.toml", name="mine", replace=True)
    assert store.load("mine").provider == "glance" == replaced.provider

    named = tmp_path / "whatever.toml"
    named.write_text(
        'name = "from-file"\nprovider = "yandex"\n[yandex]\nfolder_id = "f"\n[yandex.auth]\nmethod = "oauth"\n'
    )
    assert store.import_file(named).name == "from-file"

    bad = tmp_path / "Bad Name.toml"
    bad.write_text('provider = "yandex"\n[yandex]\nfolder_id = "f"\n[yandex.auth]\nmethod = "oauth"\n')
    with pytest.raises(ProfileError, match=r"Bad Name.toml: profile 'Bad Name': name: must be 1-63"):
        store.import_file(bad)
    assert store.import_file(bad, name="good-name").name == "good-name"

    secret = tmp_path / "leaky.toml"
    secret.write_text(
        'provider = "batch"\n[batch]\naccount_url = "https://a.b"\naccount_name = "acct"\n'
        '[batch.auth]\nmethod = "shared_key"\naccount_key = "s3cr3t-account-key"\n'
    )
    with pytest.raises(ProfileError) as info:
        store.import_file(secret)
    assert "batch.auth.account_key: secrets are never stored in profile files" in str(info.value)
    assert "s3cr3t-account-key" not in str(info.value)
    assert not (store.directory / "leaky.toml").exists()


def test_lock_timeout_is_reported(store, tmp_path):
    import filelock

    store.save(sample())
    quick = ProfileStore(store.home, secrets=SecretStore(environ={}), lock_timeout=0.2)
    holder = filelock.FileLock(store.directory / ".locks" / "prod.lock")
    with holder:
        with pytest.raises(ProfileError, match="another process has held the lock"):
            quick.save(quick.load("prod").with_settings({"description": "x"}))
