"""SecretStore: keyring, env override, session memory, and refusing unsafe backends."""

from __future__ import annotations

import getpass
import logging

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from tests.memory_keyring import MemoryKeyring
from workbench.profiles import (
    MissingSecret,
    NoSecureKeyring,
    SecretError,
    SecretSource,
    SecretStore,
    check_backend,
    env_var_name,
    keyring_key,
)


class FileKeyring(KeyringBackend):
    """A real backend that writes passwords to a file, as keyrings.alt's do.

    It claims priority 5, like an OS keyring: refusing it must not depend on priority.
    """

    priority = 5

    def __init__(self, path) -> None:
        super().__init__()
        self.file_path = path

    def get_password(self, service, username):
        if not self.file_path.exists():
            return None
        for line in self.file_path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == f"{service}/{username}":
                return value
        return None

    def set_password(self, service, username, password):
        with self.file_path.open("a") as handle:
            handle.write(f"{service}/{username}={password}\n")

    def delete_password(self, service, username):
        raise NotImplementedError


# The attribute, as keyrings.alt declares it, marks the class as file-based.
FileKeyring.file_path = None  # type: ignore[attr-defined]


class LowPriorityKeyring(MemoryKeyring):
    priority = 0.5  # what keyring rates "not recommended"


def test_names():
    assert env_var_name("prod", "client_secret") == "WORKBENCH_SECRET_PROD_CLIENT_SECRET"
    assert env_var_name("eu-west_2", "application_credential_secret") == (
        "WORKBENCH_SECRET_EU_WEST_2_APPLICATION_CREDENTIAL_SECRET"
    )
    assert keyring_key("prod", "password") == "prod:password"


def test_set_get_delete_through_the_installed_keyring(memory_keyring, secrets):
    secrets.set("prod", "client_secret", "value-1")
    assert memory_keyring.entries == {("workbench", "prod:client_secret"): "value-1"}
    assert secrets.get("prod", "client_secret") == "value-1"
    assert secrets.status("prod", "client_secret") is SecretSource.KEYRING
    secrets.delete("prod", "client_secret")
    assert memory_keyring.entries == {}
    assert secrets.get("prod", "client_secret") is None
    assert secrets.status("prod", "client_secret") is SecretSource.MISSING
    secrets.delete("prod", "client_secret")  # absent: a no-op


def test_environment_overrides_the_keyring(memory_keyring, monkeypatch, secrets):
    secrets.set("prod", "password", "from-keyring")
    monkeypatch.setenv("WORKBENCH_SECRET_PROD_PASSWORD", "from-env")
    assert secrets.get("prod", "password") == "from-env"
    assert secrets.status("prod", "password") is SecretSource.ENV
    monkeypatch.setenv("WORKBENCH_SECRET_PROD_PASSWORD", "")  # empty counts as unset
    assert secrets.get("prod", "password") == "from-keyring"
    assert memory_keyring.entries[("workbench", "prod:password")] == "from-keyring"


def test_explicit_environ_mapping(memory_keyring):
    store = SecretStore(environ={"WORKBENCH_SECRET_CI_TOKEN": "t"})
    assert store.get("ci", "token") == "t"
    assert store.require("ci", "token") == "t"


def test_session_memory_comes_before_the_keyring_and_is_per_store(memory_keyring, secrets):
    secrets.set("p", "token", "stored")
    secrets.remember("p", "token", "typed")
    assert secrets.get("p", "token") == "typed"
    assert secrets.status("p", "token") is SecretSource.SESSION
    assert SecretStore().get("p", "token") == "stored"
    secrets.forget_session()
    assert secrets.get("p", "token") == "stored"


def test_require_prompts_once_and_keeps_the_answer_in_memory_only(memory_keyring, secrets):
    asked = []

    def prompt(label):
        asked.append(label)
        return "typed-secret"

    assert secrets.require("p", "password", prompt=prompt) == "typed-secret"
    assert secrets.require("p", "password", prompt=prompt) == "typed-secret"
    assert asked == ["secret 'password' of profile 'p'"]
    assert memory_keyring.entries == {}  # a prompted secret is not persisted


def test_missing_secret_says_how_to_provide_it(memory_keyring, secrets):
    with pytest.raises(MissingSecret) as info:
        secrets.require("prod", "account_key")
    message = str(info.value)
    assert "WORKBENCH_SECRET_PROD_ACCOUNT_KEY" in message and "--secret account_key" in message


# ---------------------------------------------------------------- unusable backends
def test_fail_backend_is_detected_with_the_alternatives(fail_keyring, secrets):
    with pytest.raises(NoSecureKeyring) as info:
        secrets.set("prod", "client_secret", "never-stored-canary")
    message = str(info.value)
    assert "'fail' backend" in message
    assert "WORKBENCH_SECRET_PROD_CLIENT_SECRET" in message
    assert "kept in memory for this session" in message
    assert "never-stored-canary" not in message
    assert secrets.status("prod", "client_secret") is SecretSource.UNAVAILABLE
    with pytest.raises(NoSecureKeyring):
        secrets.get("prod", "client_secret")
    with pytest.raises(NoSecureKeyring, match="WORKBENCH_SECRET_PROD_CLIENT_SECRET"):
        secrets.require("prod", "client_secret")
    assert secrets.keyring_problem() is not None


def test_fail_backend_still_allows_env_and_session(fail_keyring, monkeypatch, secrets):
    monkeypatch.setenv("WORKBENCH_SECRET_PROD_TOKEN", "env-token")
    assert secrets.get("prod", "token") == "env-token"
    secrets.remember("prod", "password", "typed")
    assert secrets.require("prod", "password") == "typed"
    assert secrets.require("prod", "oauth_token", prompt=lambda label: "asked") == "asked"
    secrets.delete("prod", "password")  # nothing to delete in an unusable keyring: no error
    assert secrets.status("prod", "password") is SecretSource.UNAVAILABLE


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (fail.Keyring(), "'fail' backend"),
        (null.Keyring(), "discards every secret"),
        (LowPriorityKeyring(), "not recommended"),
    ],
)
def test_unsafe_backends_are_refused(backend, reason):
    with pytest.raises(NoSecureKeyring, match=reason):
        check_backend(backend)


def test_file_based_backend_is_refused_and_never_written(tmp_path):
    path = tmp_path / "keyring.txt"
    backend = FileKeyring(path)
    keyring.set_keyring(backend)
    try:
        with pytest.raises(NoSecureKeyring, match="keeps secrets in a file"):
            SecretStore().set("p", "password", "plain-text-canary")
    finally:
        keyring.set_keyring(fail.Keyring())
    assert not path.exists()


def test_chainer_uses_only_its_secure_members(tmp_path):
    secure = MemoryKeyring()
    plaintext = FileKeyring(tmp_path / "plain.txt")

    class Chain(chainer.ChainerBackend):
        backends = [plaintext, secure]  # the plaintext one first, as if it had won on priority

    previous = keyring.get_keyring()
    keyring.set_keyring(Chain())
    try:
        assert check_backend() is secure
        SecretStore().set("p", "token", "chained")
        assert secure.entries == {("workbench", "p:token"): "chained"}
        assert not (tmp_path / "plain.txt").exists()

        class InsecureChain(chainer.ChainerBackend):
            backends = [plaintext, fail.Keyring()]

        keyring.set_keyring(InsecureChain())
        with pytest.raises(NoSecureKeyring, match="chainer has no secure member"):
            SecretStore().set("p", "token", "chained")
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_terminal_prompt(monkeypatch):
    def no_prompt(*args, **kwargs):
        raise AssertionError("a keyring backend prompted on the terminal")

    monkeypatch.setattr(getpass, "getpass", no_prompt)


def test_keyrings_alt_plaintext_is_refused(tmp_path, no_terminal_prompt):
    # keyrings.alt is not a dependency: installing it is the hazard this guards against.
    file_module = pytest.importorskip("keyrings.alt.file")
    plaintext = file_module.PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "keyring_pass.cfg")
    with pytest.raises(NoSecureKeyring, match="PlaintextKeyring keeps secrets in a file"):
        SecretStore(plaintext).set("p", "password", "alt-canary")
    assert not (tmp_path / "keyring_pass.cfg").exists()


def test_keyrings_alt_encrypted_is_refused_without_prompting(tmp_path, no_terminal_prompt):
    file_module = pytest.importorskip("keyrings.alt.file")
    try:
        encrypted = file_module.EncryptedKeyring()
    except ImportError:
        pytest.skip("keyrings.alt's EncryptedKeyring needs pycryptodome(x)")
    encrypted.file_path = str(tmp_path / "crypted_pass.cfg")
    with pytest.raises(NoSecureKeyring, match="master password"):
        SecretStore(encrypted).set("p", "password", "alt-canary")
    assert not (tmp_path / "crypted_pass.cfg").exists()


def test_errors_and_logs_never_carry_values(memory_keyring, caplog, secrets):
    caplog.set_level(logging.DEBUG)
    secrets.set("p", "password", "log-canary-value")
    secrets.move("p", "q", ["password"])
    secrets.delete("q", "password")
    assert "log-canary-value" not in caplog.text
    with pytest.raises(SecretError) as info:
        secrets.set("p", "password", "")
    assert "non-empty" in str(info.value)


def test_move_carries_keyring_and_session_secrets(memory_keyring, monkeypatch, secrets):
    secrets.set("old", "password", "kept")
    secrets.remember("old", "token", "typed")
    monkeypatch.setenv("WORKBENCH_SECRET_OLD_PASSWORD", "env")
    notices = secrets.move("old", "new", ["password", "token", "application_credential_secret"])
    assert memory_keyring.entries == {("workbench", "new:password"): "kept"}
    assert secrets.get("new", "token") == "typed"
    assert notices == [
        "WORKBENCH_SECRET_OLD_PASSWORD is set; profile 'new' reads WORKBENCH_SECRET_NEW_PASSWORD instead"
    ]


class FailingKeyring(MemoryKeyring):
    """A MemoryKeyring whose ``fail_set``-th set (or ``fail_delete``-th delete) fails, as a
    locked or disconnected OS keyring does in the middle of a series of calls."""

    def __init__(self, *, fail_set: int | None = None, fail_delete: int | None = None) -> None:
        super().__init__()
        self.fail_set, self.fail_delete = fail_set, fail_delete
        self.sets = self.deletes = 0

    def set_password(self, service, username, password):
        self.sets += 1
        if self.sets == self.fail_set:
            raise keyring.errors.PasswordSetError("the keyring is locked")
        super().set_password(service, username, password)

    def delete_password(self, service, username):
        self.deletes += 1
        if self.deletes == self.fail_delete:
            raise keyring.errors.KeyringError("the keyring went away")
        super().delete_password(service, username)


OLD_SECRETS = {
    ("workbench", "old:password"): "p1",
    ("workbench", "old:application_credential_secret"): "p2",
    ("workbench", "old:token"): "p3",
}
FIELDS = ["password", "application_credential_secret", "token"]


@pytest.mark.parametrize("failing", [{"fail_set": 2}, {"fail_set": 3}, {"fail_delete": 1}, {"fail_delete": 3}])
def test_a_move_that_fails_part_way_leaves_every_secret_where_it_was(failing):
    backend = FailingKeyring(**failing)
    backend.entries.update(OLD_SECRETS)
    backend.entries[("workbench", "new:token")] = "an earlier secret of 'new'"
    before = dict(backend.entries)
    store = SecretStore(backend, environ={})
    store.remember("old", "password", "typed")
    with pytest.raises(SecretError, match="locked|went away") as info:
        store.move("old", "new", FIELDS)
    assert "p1" not in str(info.value)
    # All or nothing: the old profile keeps every secret, nothing is left half-moved under the new
    # name, and what the new name held before is back.
    assert backend.entries == before
    assert store.get("old", "password") == "typed" and store.status("new", "password") != "session"


def test_a_move_copies_everything_before_it_deletes_anything():
    calls = []

    class Recording(MemoryKeyring):
        def set_password(self, service, username, password):
            calls.append(("set", username))
            super().set_password(service, username, password)

        def delete_password(self, service, username):
            calls.append(("delete", username))
            super().delete_password(service, username)

    backend = Recording()
    backend.entries.update(OLD_SECRETS)
    SecretStore(backend, environ={}).move("old", "new", FIELDS)
    assert calls == [("set", f"new:{f}") for f in FIELDS] + [("delete", f"old:{f}") for f in FIELDS]
    assert backend.entries == {("workbench", f"new:{f}"): v for (_, k), v in OLD_SECRETS.items()
                               for f in [k.split(":")[1]]}


def test_installing_keyrings_alt_does_not_make_workbench_write_plain_text(tmp_path):
    """keyrings.alt alone makes PlaintextKeyring keyring's default: we must still refuse it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    alt = pytest.importorskip("keyrings.alt")
    site = Path(alt.__path__[0]).parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_KEYRING", "DBUS", "WORKBENCH_SECRET"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]),
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    script = (
        "import keyring\n"
        "from workbench.profiles import SecretStore, NoSecureKeyring\n"
        "print(type(keyring.get_keyring()).__name__)\n"
        "try:\n"
        "    SecretStore().set('p', 'password', 'subprocess-canary')\n"
        "except NoSecureKeyring as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    chosen, refusal = result.stdout.splitlines()[:2]
    assert "Plaintext" in chosen or "Chainer" in chosen
    assert refusal.startswith("refused:") and "WORKBENCH_SECRET_P_PASSWORD" in refusal
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written
