"""Profiles on disk: one ``<name>.toml`` per profile, written atomically and privately.

The directory is ``<home>/profiles``, where home is ``WORKBENCH_HOME`` if set, else
platformdirs' user config directory for "workbench" (``~/.config/workbench`` on
Linux).

Every write goes to a temporary file in the same directory, created mode 0600 (it is
never readable by others, not even for a moment), is fsynced, then renamed over the
profile with ``os.replace`` and the directory fsynced: a crash leaves the old file or
the new one, never a mix. Writers of one profile take its ``filelock.FileLock``, and a
save is checked against the revision (a hash of the file's bytes) the caller loaded,
so two processes saving the same profile never lose a save silently: the second gets
``ProfileConflict``. A temporary file left by a crashed writer is removed by the next
writer of that profile (it holds the lock, so no one else can be writing one).

Typical use::

    store = ProfileStore()
    profile = store.load("prod")                 # profile.revision is the file's
    edited = profile.with_settings({"cluster": "other"})
    store.save(edited)                           # ProfileConflict if prod.toml changed meanwhile
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.files import TEMP_SUFFIX, fsync_directory, write_atomic
from workbench.profiles.model import (
    PROVIDERS,
    FieldProblem,
    Profile,
    ProfileError,
    check_profile_name,
    display_path,
    provider_secret_fields,
)
from workbench.profiles.secrets import SERVICE, SecretStore, env_var_name, keyring_key

if TYPE_CHECKING:
    import filelock

# filelock, platformdirs and tomli_w are imported where they are used: a
# command that only reads a profile of WORKBENCH_HOME needs none of them.

__all__ = [
    "HOME_ENV",
    "ProfileConflict",
    "ProfileListing",
    "ProfileNotFound",
    "ProfileStore",
    "default_home",
]

log = logging.getLogger(__name__)

HOME_ENV = "WORKBENCH_HOME"
_SUFFIX = ".toml"


class ProfileNotFound(ProfileError):
    """No profile of that name is stored."""


class ProfileConflict(ProfileError):
    """The save would overwrite a change it has not seen (or a profile that already exists)."""


def default_home() -> Path:
    """``WORKBENCH_HOME``, else the platform's user config directory for "workbench"."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("workbench", appauthor=False))


def revision_of(data: bytes) -> str:
    """A stored file's revision: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class ProfileListing:
    """What ``ProfileStore.list`` found: the good profiles, and one error per bad file."""

    profiles: list[Profile] = field(default_factory=list)
    errors: list[ProfileError] = field(default_factory=list)

    def names(self) -> list[str]:
        return [p.name for p in self.profiles]

    def __iter__(self) -> Iterator[Profile]:
        return iter(self.profiles)


class ProfileStore:
    """The saved profiles of one user (or of ``home``, for tests and CI).

    ``secrets`` is the ``SecretStore`` whose secrets ``rename`` moves and ``remove``
    deletes; pass the app's one instance so session secrets move too.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        secrets: SecretStore | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.directory = self.home / "profiles"
        self.secrets = secrets if secrets is not None else SecretStore()
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------------ paths
    def path_for(self, name: str) -> Path:
        """The file of profile ``name`` (the name is checked, so no path tricks)."""
        try:
            check_profile_name(name)
        except ValueError as exc:
            raise ProfileError(problems=[FieldProblem("name", f"'{name}' {exc}")]) from None
        return self.directory / f"{name}{_SUFFIX}"

    def _lock(self, name: str) -> filelock.BaseFileLock:
        import filelock

        locks = self.directory / ".locks"
        locks.mkdir(mode=0o700, parents=True, exist_ok=True)
        return filelock.FileLock(locks / f"{name}.lock", timeout=self.lock_timeout, mode=0o600)

    @contextmanager
    def _locked(self, *names: str) -> Iterator[None]:
        import filelock

        self._ensure_directory()
        with ExitStack() as stack:
            for name in sorted(set(names)):  # one order everywhere: no deadlock
                lock = self._lock(name)
                try:
                    stack.enter_context(lock)
                except filelock.Timeout:
                    raise ProfileError(
                        f"another process has held the lock of this profile for over {self.lock_timeout:g} s "
                        f"(lock file {display_path(lock.lock_file)})",
                        path=self.path_for(name),
                        profile=name,
                    ) from None
            yield

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Names of the stored profile files (valid names only), sorted."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            try:
                found.append(check_profile_name(path.stem))
            except ValueError:
                continue
        return sorted(found)

    def exists(self, name: str) -> bool:
        return self.path_for(name).is_file()

    def list(self) -> ProfileListing:
        """Every stored profile; a file that cannot be read is reported, not fatal."""
        listing = ProfileListing()
        if not self.directory.is_dir():
            return listing
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            if path.name.startswith("."):
                continue
            try:
                check_profile_name(path.stem)
            except ValueError as exc:
                listing.errors.append(
                    ProfileError(path=path, problems=[FieldProblem("", f"the file name is not a profile name: {exc}")])
                )
                continue
            try:
                listing.profiles.append(self._read(path.stem, path))
            except ProfileError as exc:
                listing.errors.append(exc)
        return listing

    def load(self, name: str) -> Profile:
        """The stored profile ``name``, with ``revision`` set to its file's."""
        path = self.path_for(name)
        return self._read(name, path)

    def _read(self, name: str, path: Path) -> Profile:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProfileNotFound("no such profile", path=path, profile=name) from None
        except OSError as exc:
            raise ProfileError(f"cannot read the file: {exc.strerror}", path=path, profile=name) from None
        return _parse(data, path=path, name=name).with_revision(revision_of(data))

    def current_revision(self, name: str) -> str | None:
        """The revision of the stored file now, or None if there is none."""
        try:
            return revision_of(self.path_for(name).read_bytes())
        except FileNotFoundError:
            return None

    # ------------------------------------------------------------------ writing
    def save(self, profile: Profile, expected_revision: str | None = None) -> Profile:
        """Store ``profile``; return it with its new revision.

        The file must still be at ``expected_revision`` (default: ``profile.revision``,
        set when it was loaded). With neither, the profile must not exist yet. Anything
        else raises ``ProfileConflict`` and leaves the file as it was.
        """
        expected = expected_revision if expected_revision is not None else profile.revision
        path = self.path_for(profile.name)
        data = self.render(profile)
        with self._locked(profile.name):
            self._sweep_temporaries(profile.name)
            current = self.current_revision(profile.name)
            if expected is None and current is not None:
                raise ProfileConflict(
                    "a profile of this name already exists; load it to edit it, or remove it first",
                    path=path,
                    profile=profile.name,
                )
            if expected is not None and current != expected:
                what = "was removed" if current is None else "was changed by someone else"
                raise ProfileConflict(
                    f"the profile {what} since it was loaded; load it again and redo the change",
                    path=path,
                    profile=profile.name,
                )
            self._write_atomic(path, data)
        log.debug("saved profile %r", profile.name)
        return profile.with_revision(revision_of(data))

    def rename(self, old: str, new: str) -> Profile:
        """Rename a profile, moving its secrets (keyring and session) along."""
        new_path = self.path_for(new)
        old_path = self.path_for(old)
        with self._locked(old, new):
            self._sweep_temporaries(new)
            if new_path.exists():
                raise ProfileConflict("a profile of this name already exists", path=new_path, profile=new)
            profile = self.load(old)
            renamed = Profile.model_validate({**profile.model_dump(), "name": new})
            data = self.render(renamed)
            self._write_atomic(new_path, data)
            try:
                notices = self.secrets.move(old, new, provider_secret_fields(profile.provider))
            except BaseException:
                new_path.unlink(missing_ok=True)  # keep the old profile whole; no half-renamed pair
                raise
            for notice in notices:
                log.warning("%s", notice)
            old_path.unlink()
            fsync_directory(self.directory)
        return renamed.with_revision(revision_of(data))

    def remove(self, name: str) -> None:
        """Remove a profile and every secret of it in the keyring and the session."""
        path = self.path_for(name)
        with self._locked(name):
            self._sweep_temporaries(name)
            try:
                profile = self.load(name)
                fields = provider_secret_fields(profile.provider)
            except ProfileNotFound:
                raise
            except ProfileError:
                # An invalid file can still be removed; clear every secret it may have had.
                fields = tuple(dict.fromkeys(f for p in PROVIDERS for f in provider_secret_fields(p)))
            for secret in fields:
                self.secrets.delete(name, secret)
            path.unlink()
            fsync_directory(self.directory)

    def import_file(self, source: str | Path, *, name: str | None = None, replace: bool = False) -> Profile:
        """Store the profile in the TOML file ``source`` (such as ``profiles/kusto.toml``).

        Its name is ``name``, else the file's ``name`` key, else the file's stem.
        With ``replace``, an existing profile of that name is overwritten.
        """
        source = Path(source).expanduser()
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ProfileError(f"cannot read the file: {exc.strerror}", path=source) from None
        document = _load_toml(data, path=source, name=name)
        if name is None and "name" not in document:
            name = source.stem
        profile = Profile.from_toml_dict(document, name=name, source=source)
        if replace:
            return self.save(profile, expected_revision=self.current_revision(profile.name))
        return self.save(profile)

    # ------------------------------------------------------------------ file format
    def render(self, profile: Profile) -> bytes:
        """The file's bytes: a header saying where the secrets are, then the TOML."""
        lines = [
            f"# Workbench profile '{profile.name}' ({profile.provider}), written by workbench.",
            "# Hand edits are fine; comments are not kept when workbench saves it again.",
        ]
        if profile.secret_fields:
            lines.append("# Secrets are never stored here. This profile reads:")
            for secret in profile.secret_fields:
                lines.append(
                    f"#   {secret}: env {env_var_name(profile.name, secret)}, else the OS keyring "
                    f"(service '{SERVICE}', key '{keyring_key(profile.name, secret)}')"
                )
        header = "\n".join(lines) + "\n\n"
        import tomli_w

        return (header + tomli_w.dumps(profile.to_toml_dict())).encode("utf-8")

    # ------------------------------------------------------------------ atomic writes
    def _write_atomic(self, path: Path, data: bytes) -> None:
        write_atomic(path, data, mode=0o600)

    def _sweep_temporaries(self, name: str) -> None:
        """Remove temp files of ``name`` left by a crashed writer (call with its lock held)."""
        for stale in self.directory.glob(f".{name}{_SUFFIX}.*{TEMP_SUFFIX}"):
            try:
                stale.unlink()
                log.info("removed %s, left by an interrupted save", display_path(stale))
            except FileNotFoundError:
                pass


# ---------------------------------------------------------------------- helpers
def _load_toml(data: bytes, *, path: Path, name: str | None) -> dict:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError("the file is not UTF-8 text", path=path, profile=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"not valid TOML: {exc}", path=path, profile=name) from None


def _parse(data: bytes, *, path: Path, name: str) -> Profile:
    return Profile.from_toml_dict(_load_toml(data, path=path, name=name), name=name, source=path)
