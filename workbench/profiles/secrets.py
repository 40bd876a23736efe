"""Where secret values live: the OS keyring, an environment override, or this session.

A secret is named by its profile and field (``SECRET_FIELDS`` in ``model`` says which
fields are secrets). It is looked up in this order:

1. the environment variable ``WORKBENCH_SECRET_<PROFILE>_<FIELD>`` (upper-cased, any
   other character as ``_``), for CI and containers; an empty value counts as unset;
2. the session memory: values the user typed at a prompt, or demo credentials; gone
   when the process ends;
3. the OS keyring through ``keyring``, service ``workbench``, key ``<profile>:<field>``.

Only a *secure* keyring is used. keyring's ``fail`` and ``null`` backends, every backend
keyring itself rates as not recommended (priority below 1), and file-based ones
(keyrings.alt's base64 ``PlaintextKeyring``, its ``EncryptedKeyring`` that asks for a
master password with getpass on the terminal, and their kin) are refused with
``NoSecureKeyring``, whose message gives the exact environment variable to use instead.
When keyring's ``ChainerBackend`` is in charge, only its secure members are used.

No secret value is ever written anywhere else, logged, or put into an exception message.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

# keyring is imported where it is used, not here: importing it reads every
# installed distribution's metadata (~25 ms of each start), and a secret set in
# the environment (CI, containers, scripts) never needs it.

__all__ = [
    "ENV_PREFIX",
    "SERVICE",
    "KeyringFailure",
    "MissingSecret",
    "NoSecureKeyring",
    "SecretError",
    "SecretSource",
    "SecretStore",
    "check_backend",
    "env_var_name",
    "keyring_key",
]

log = logging.getLogger(__name__)

SERVICE = "workbench"
ENV_PREFIX = "WORKBENCH_SECRET_"


def env_var_name(profile: str, field: str) -> str:
    """``WORKBENCH_SECRET_<PROFILE>_<FIELD>``: upper-cased, other characters as ``_``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", f"{profile}_{field}".upper())


def keyring_key(profile: str, field: str) -> str:
    """The keyring "username" under service ``workbench``: ``<profile>:<field>``."""
    return f"{profile}:{field}"


# --------------------------------------------------------------------------- errors
class SecretError(WorkbenchError):
    """A secret could not be read, stored or found. Never carries the secret's value."""


_SECURE_BACKENDS_HINT = (
    "or install a secure keyring backend: Secret Service (GNOME Keyring or KWallet, with a "
    "D-Bus session), the macOS Keychain, or the Windows Credential Manager"
)


class NoSecureKeyring(SecretError):
    """No keyring backend that keeps secrets safely is available here."""

    def __init__(self, reason: str, *, profile: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.profile = profile
        self.field = field
        env = env_var_name(profile, field) if profile and field else f"{ENV_PREFIX}<PROFILE>_<FIELD>"
        what = f"secret '{field}' of profile '{profile}'" if profile and field else "a secret"
        super().__init__(
            f"no secure keyring to keep {what}: {reason}. Workbench never falls back to a "
            f"plain-text store and never lets a keyring prompt on the terminal. Instead: set the "
            f"environment variable {env} (it overrides the keyring), or enter it at the prompt "
            f"and it is kept in memory for this session only; {_SECURE_BACKENDS_HINT}."
        )


class MissingSecret(SecretError):
    """The secret is set nowhere: not in the environment, the session or the keyring."""

    def __init__(self, profile: str, field: str) -> None:
        self.profile = profile
        self.field = field
        super().__init__(
            f"profile '{profile}' needs its secret '{field}', which is not set: store it in the "
            f"OS keyring (workbench profile add/edit {profile} --secret {field}), or set the "
            f"environment variable {env_var_name(profile, field)}"
        )


class KeyringFailure(SecretError):
    """The keyring backend raised an error (locked, refused, D-Bus gone...)."""


class SecretSource(StrEnum):
    """Where a secret would come from right now (``status``); never its value."""

    ENV = "env"
    SESSION = "session"
    KEYRING = "keyring"
    MISSING = "missing"
    UNAVAILABLE = "unavailable"  # not in env/session, and no secure keyring to ask


# --------------------------------------------------------------------------- backends
def _describe(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_file_based(backend: KeyringBackend) -> bool:
    for klass in type(backend).__mro__:
        if klass.__name__ == "FileBacked" or "file_path" in vars(klass):
            return True
    return False


def _refusal(backend: KeyringBackend) -> str | None:
    """Why ``backend`` must not hold our secrets, or None if it is fine."""
    from keyring.backends import fail, null

    name = _describe(backend)
    if isinstance(backend, fail.Keyring):
        return "keyring found no usable backend on this machine (it chose its 'fail' backend)"
    if isinstance(backend, null.Keyring):
        return f"{name} discards every secret"
    module = type(backend).__module__
    if module.startswith(("keyrings.alt", "keyrings.cryptfile")) or _is_file_based(backend):
        return (
            f"{name} keeps secrets in a file (in plain text, or behind a master password it asks for on the terminal)"
        )
    try:
        priority = type(backend).priority
    except Exception as exc:  # keyring's way of saying "not viable here"
        return f"{name} is not usable here ({type(exc).__name__}: {exc})"
    if priority < 1:
        return f"{name} is rated 'not recommended' by keyring (priority {priority})"
    return None


def check_backend(backend: KeyringBackend | None = None) -> KeyringBackend:
    """Return the secure backend to use (``keyring.get_keyring()`` by default).

    For keyring's chainer, its highest-priority secure member; raises
    ``NoSecureKeyring`` when there is none.
    """
    import keyring
    from keyring.backends.chainer import ChainerBackend

    backend = backend if backend is not None else keyring.get_keyring()
    if isinstance(backend, ChainerBackend):
        members = list(backend.backends)
        reasons = []
        for member in members:  # already sorted by priority, highest first
            reason = _refusal(member)
            if reason is None:
                return member
            reasons.append(reason)
        raise NoSecureKeyring(
            "keyring's chainer has no secure member" + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    reason = _refusal(backend)
    if reason is not None:
        raise NoSecureKeyring(reason)
    return backend


def _scrub(text: str, value: str | None) -> str:
    return text.replace(value, "***") if value else text


# --------------------------------------------------------------------------- store
class SecretStore:
    """Secrets of profiles: environment override, session memory, secure OS keyring.

    ``backend`` pins a keyring backend; by default ``keyring.get_keyring()`` is asked
    at each use (so ``keyring.set_keyring`` takes effect). ``environ`` defaults to
    ``os.environ``, read at each use. The session memory belongs to this object: give
    the app's one ``SecretStore`` to everything that needs secrets.
    """

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        service: str = SERVICE,
    ) -> None:
        self._backend = backend
        self._environ = environ
        self.service = service
        self._session: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # -- the keyring
    def keyring(self, profile: str | None = None, field: str | None = None) -> KeyringBackend:
        """The secure backend, or ``NoSecureKeyring`` naming the env var for ``profile``/``field``."""
        try:
            return check_backend(self._backend)
        except NoSecureKeyring as exc:
            if profile and field:
                raise NoSecureKeyring(exc.reason, profile=profile, field=field) from None
            raise

    def keyring_problem(self) -> str | None:
        """Why the keyring cannot be used here, or None when it can (for status displays)."""
        try:
            check_backend(self._backend)
        except NoSecureKeyring as exc:
            return exc.reason
        return None

    # -- reading
    def env_value(self, profile: str, field: str) -> str | None:
        environ = self._environ if self._environ is not None else os.environ
        return environ.get(env_var_name(profile, field)) or None

    def get(self, profile: str, field: str) -> str | None:
        """The secret's value, or None when it is set nowhere.

        Raises ``NoSecureKeyring`` when it is neither in the environment nor the
        session and there is no secure keyring to ask (we cannot know it is unset).
        """
        value = self.env_value(profile, field)
        if value is not None:
            return value
        with self._lock:
            value = self._session.get((profile, field))
        if value is not None:
            return value
        backend = self.keyring(profile, field)
        import keyring.errors

        try:
            return backend.get_password(self.service, keyring_key(profile, field))
        except keyring.errors.KeyringError as exc:
            raise KeyringFailure(
                f"could not read secret '{field}' of profile '{profile}' from {_describe(backend)}: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def require(self, profile: str, field: str, prompt: Callable[[str], str | None] | None = None) -> str:
        """The secret's value; asks ``prompt`` (and keeps the answer for the session) if unset.

        Raises ``MissingSecret`` or, when the keyring is unusable and nothing else has
        it, ``NoSecureKeyring`` with the alternatives.
        """
        unusable: NoSecureKeyring | None = None
        try:
            value = self.get(profile, field)
        except NoSecureKeyring as exc:
            value, unusable = None, exc
        if value is None and prompt is not None:
            value = prompt(f"secret '{field}' of profile '{profile}'") or None
            if value is not None:
                self.remember(profile, field, value)
        if value is not None:
            return value
        if unusable is not None:
            raise unusable
        raise MissingSecret(profile, field)

    def status(self, profile: str, field: str) -> SecretSource:
        """Where the secret would come from; never raises, never returns the value."""
        if self.env_value(profile, field) is not None:
            return SecretSource.ENV
        with self._lock:
            if (profile, field) in self._session:
                return SecretSource.SESSION
        try:
            found = self.get(profile, field)
        except NoSecureKeyring:
            return SecretSource.UNAVAILABLE
        except KeyringFailure:
            return SecretSource.UNAVAILABLE
        return SecretSource.KEYRING if found is not None else SecretSource.MISSING

    # -- writing
    def set(self, profile: str, field: str, value: str) -> None:
        """Store the secret in the secure keyring (``NoSecureKeyring`` if there is none)."""
        _check_value(value)
        backend = self.keyring(profile, field)
        import keyring.errors

        try:
            backend.set_password(self.service, keyring_key(profile, field), value)
        except keyring.errors.KeyringError as exc:
            raise KeyringFailure(
                f"could not store secret '{field}' of profile '{profile}' in {_describe(backend)}: "
                f"{type(exc).__name__}: {_scrub(str(exc), value)}"
            ) from None
        log.debug("stored secret %r of profile %r in %s", field, profile, _describe(backend))

    def remember(self, profile: str, field: str, value: str) -> None:
        """Keep the secret in memory for this session only (prompted or demo secrets)."""
        _check_value(value)
        with self._lock:
            self._session[(profile, field)] = value

    def forget_session(self) -> None:
        with self._lock:
            self._session.clear()

    def delete(self, profile: str, field: str) -> None:
        """Remove the secret from the session and the keyring (a no-op where it is absent).

        Environment variables are the user's: they are left alone.
        """
        with self._lock:
            self._session.pop((profile, field), None)
        try:
            backend = self.keyring(profile, field)
        except NoSecureKeyring:
            return  # nothing of ours can be in an unusable keyring
        import keyring.errors

        try:
            if backend.get_password(self.service, keyring_key(profile, field)) is None:
                return
            backend.delete_password(self.service, keyring_key(profile, field))
        except keyring.errors.PasswordDeleteError:
            return
        except keyring.errors.KeyringError as exc:
            raise KeyringFailure(
                f"could not remove secret '{field}' of profile '{profile}' from {_describe(backend)}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        log.debug("removed secret %r of profile %r", field, profile)

    def move(self, old: str, new: str, fields: tuple[str, ...] | list[str]) -> list[str]:
        """Move secrets from profile ``old`` to ``new`` (keyring and session): all or nothing.

        First every keyring secret of ``old`` is copied to ``new``; if any copy
        fails, the copies are undone (what ``new`` held before is put back) and
        the error raised, so ``old`` still has every secret. Only then are the
        entries of ``old`` deleted; if a delete fails, the deleted ones are put
        back and the copies undone the same way. The session memory moves last,
        once the keyring has.

        Returns notices for environment overrides, which only the user can rename.
        """
        backend: KeyringBackend | None
        try:
            backend = self.keyring()
        except NoSecureKeyring:
            backend = None
        if backend is not None:
            self._move_in_keyring(backend, old, new, fields)
        notices = []
        for field in fields:
            with self._lock:
                remembered = self._session.pop((old, field), None)
                if remembered is not None:
                    self._session[(new, field)] = remembered
            if self.env_value(old, field) is not None:
                notices.append(
                    f"{env_var_name(old, field)} is set; profile '{new}' reads {env_var_name(new, field)} instead"
                )
        return notices

    def _move_in_keyring(self, backend: KeyringBackend, old: str, new: str, fields: tuple[str, ...] | list[str]
                         ) -> None:
        """Copy every secret of ``old`` to ``new``, then delete ``old``'s; undo all on a failure."""
        values: dict[str, str] = {}  # field -> the secret of ``old``
        replaced: dict[str, str | None] = {}  # field -> what ``new`` held before the copy
        deleted: list[str] = []
        try:
            for field in fields:
                stored = self._backend_call(backend, "get_password", old, field)
                if stored is not None:
                    values[field] = stored
            for field, value in values.items():
                replaced[field] = self._backend_call(backend, "get_password", new, field)
                self.set(new, field, value)
            for field in values:
                self._backend_call(backend, "delete_password", old, field)
                deleted.append(field)
        except BaseException:
            for field in deleted:
                self._undo(backend, old, field, values[field])
            for field, previous in replaced.items():
                self._undo(backend, new, field, previous)
            raise

    def _undo(self, backend: KeyringBackend, profile: str, field: str, value: str | None) -> None:
        """Put back ``value`` (None: no entry) as secret ``field`` of ``profile``; best effort."""
        import keyring.errors

        key = keyring_key(profile, field)
        try:
            if value is None:
                backend.delete_password(self.service, key)
            else:
                backend.set_password(self.service, key, value)
        except keyring.errors.PasswordDeleteError:
            pass
        except Exception as exc:  # noqa: BLE001 - the first failure is the one raised; this one is logged
            log.error("could not restore secret %r of profile %r in %s while undoing a rename: %s",
                      field, profile, _describe(backend), type(exc).__name__)

    def _backend_call(self, backend: KeyringBackend, method: str, profile: str, field: str) -> str | None:
        import keyring.errors

        try:
            return getattr(backend, method)(self.service, keyring_key(profile, field))
        except keyring.errors.PasswordDeleteError:
            return None
        except keyring.errors.KeyringError as exc:
            raise KeyringFailure(
                f"keyring {method} failed for secret '{field}' of profile '{profile}': {type(exc).__name__}: {exc}"
            ) from None


def _check_value(value: object) -> None:
    if not isinstance(value, str) or not value:
        raise SecretError("a secret must be a non-empty string")
