"""Canary secrets through every auth method, a whole session, and nowhere to be found.

The simulator runs on loopback with an identity whose every secret is a fresh
canary (Entra client secret, Keystone password and application-credential
secret, Batch account key, Yandex OAuth token and service-account private key,
and tokens it issued for the static-token methods). One profile per provider
and auth method (14) is stored; half their secrets go to the keyring (a real
backend: the tests' cross-process one for the command line, an in-memory one
installed with ``keyring.set_keyring`` for the app), half to
``WORKBENCH_SECRET_*`` variables.

Then a session with debug logging on for ``workbench``, ``httpx`` and
``httpcore``: through the command line (subprocesses: test every profile,
list, show, dry-run changes, a real change, failures, a wrong secret) and
through the app (Pilot: open every profile, the inspector, the editor, a
failing profile, screenshots). No canary, nor its base64 or URL-encoded form,
may appear in any file under the session's directories (the keyring's own
file aside), any log, any output, any exception text or any screenshot; TOML
profiles never hold one; every file is 0600. A profile with TLS verification
off shows its warning every time it is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from workbench.profiles import Profile, ProfileStore, SecretStore
from workbench.profiles.secrets import SERVICE, env_var_name, keyring_key
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.sim.demo import DemoIdentity
from workbench.sim.server import SimServer

from .conftest import is_long

REPO = Path(__file__).resolve().parents[2]
TLS_OFF = "TLS certificate verification is OFF"

#: Runs the real entry point with debug logging to the file in argv[1].
DEBUG_CLI = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, filename=sys.argv[1],
                    format="%(asctime)s %(name)s %(levelname)s %(message)s")
for name in ("workbench", "httpx", "httpcore"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from workbench.cli import main
sys.exit(main(sys.argv[2:]))
"""


# ============================================================================ the canary identity
def _rsa_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass(frozen=True)
class CanaryIdentity(DemoIdentity):
    """The demo identity with its generated secrets replaced by canaries."""

    batch_key: str = ""
    sa_private: str = field(default="", repr=False)
    sa_public: str = ""

    @property
    def batch_account_key(self) -> str:  # type: ignore[override]
        return self.batch_key

    @property
    def yandex_sa_private_key_pem(self) -> str:  # type: ignore[override]
        return self.sa_private

    @property
    def yandex_sa_public_key_pem(self) -> str:  # type: ignore[override]
        return self.sa_public


class CanarySim:
    """The simulator on loopback, every secret of its identity a canary."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex
        self.canary = f"CANARY{tag}"
        private, public = _rsa_pair()
        self.batch_key = base64.b64encode(hashlib.sha512(self.canary.encode()).digest()).decode()
        demo = CanaryIdentity(entra_client_secret=f"{self.canary}-entra", keystone_password=f"{self.canary}-password",
                              keystone_app_credential_secret=f"{self.canary}-appcred",
                              yandex_oauth_token=f"y0_{self.canary}-oauth", batch_key=self.batch_key,
                              sa_private=private, sa_public=public)
        self.context = SimContext(SimConfig(operation_polls=1, operation_retry_after=0), demo=demo)
        self.server = SimServer(log_level="error", context=self.context).start()
        self.endpoints = self.server.endpoints
        tokens = self.context.tokens
        lifetime = 24 * 3600
        self.static = {
            "kusto": tokens.issue("arm", demo.entra_client_id, ttl=lifetime).value,
            "glance": tokens.issue("keystone", demo.keystone_user, ttl=lifetime,
                                   project_id=demo.keystone_project_id).value,
            "batch": tokens.issue("batch", demo.entra_client_id, ttl=lifetime).value,
            "yandex": tokens.issue("yandex", demo.yandex_service_account_id, ttl=lifetime).value,
        }
        self.private_key = private

    def close(self) -> None:
        self.server.stop()

    # -- profiles ---------------------------------------------------------------------
    def profiles(self) -> list[tuple[Profile, dict[str, str]]]:
        """One profile per provider and auth method, with the secret values it needs."""
        e = self.endpoints
        demo = self.context.demo
        entra = e["entra_credentials"]
        keystone = {"auth_url": e["keystone"], "project_name": demo.keystone_project,
                    "user_domain_name": "Default", "project_domain_name": "Default", "region": demo.keystone_region}
        azure = {"auth.tenant_id": entra["tenant_id"], "auth.client_id": entra["client_id"],
                 "auth.authority_host": e["entra"]}
        kusto = {"subscription_id": demo.kusto_subscription_id, "resource_group": demo.kusto_resource_group,
                 "cluster": demo.kusto_cluster, "arm_endpoint": e["kusto"]}
        batch = {"account_url": e["batch"], "account_name": demo.batch_account_name}
        yandex = {"folder_id": demo.yandex_folder_id, "compute_endpoint": e["yandex_compute"],
                  "operation_endpoint": e["yandex_operation"], "iam_endpoint": e["yandex_iam"]}
        cases: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("kusto", "client_secret", {**kusto, "auth.method": "client_secret", **azure},
             {"client_secret": demo.entra_client_secret}),
            ("kusto", "static_token", {**kusto, "auth.method": "static_token"}, {"token": self.static["kusto"]}),
            ("batch", "shared_key", {**batch, "auth.method": "shared_key"}, {"account_key": self.batch_key}),
            ("batch", "client_secret", {**batch, "auth.method": "client_secret", **azure},
             {"client_secret": demo.entra_client_secret}),
            ("batch", "static_token", {**batch, "auth.method": "static_token"}, {"token": self.static["batch"]}),
            ("yandex", "oauth", {**yandex, "auth.method": "oauth"}, {"oauth_token": demo.yandex_oauth_token}),
            ("yandex", "service_account_key", {**yandex, "auth.method": "service_account_key",
                                               "auth.service_account_id": demo.yandex_service_account_id,
                                               "auth.key_id": demo.yandex_service_account_key_id},
             {"private_key": self.private_key}),
            ("yandex", "static_token", {**yandex, "auth.method": "static_token"}, {"iam_token": self.static["yandex"]}),
        ]
        for flavour in ("glance", "ims"):
            cases += [
                (flavour, "password", {**keystone, "image_endpoint": e[flavour], "auth.method": "password",
                                       "auth.username": demo.keystone_user},
                 {"password": demo.keystone_password}),
                (flavour, "application_credential", {**keystone, "image_endpoint": e[flavour],
                                                     "auth.method": "application_credential",
                                                     "auth.application_credential_id": demo.keystone_app_credential_id},
                 {"application_credential_secret": demo.keystone_app_credential_secret}),
                (flavour, "static_token", {"image_endpoint": e[flavour], "auth.method": "static_token"},
                 {"token": self.static["glance"]}),
            ]
        found = []
        for provider, method, settings, secrets in cases:
            name = f"{provider}-{method}".replace("_", "-")
            found.append((Profile.build(name, provider, settings), secrets))
        return found

    def watched(self) -> dict[str, str]:
        """Every secret, and its encoded forms, by a label saying what it is."""
        values = {"entra client secret": self.context.demo.entra_client_secret,
                  "keystone password": self.context.demo.keystone_password,
                  "application credential secret": self.context.demo.keystone_app_credential_secret,
                  "yandex oauth token": self.context.demo.yandex_oauth_token,
                  "batch account key": self.batch_key,
                  **{f"static token ({p})": t for p, t in self.static.items()}}
        # The private key: every line of its base64 body is 64 characters of key material.
        for number, line in enumerate(self.private_key.splitlines()[1:-1]):
            if len(line) >= 40:
                values[f"private key line {number}"] = line
        forms = {}
        for label, value in values.items():
            forms[label] = value
            if not label.startswith("private key"):
                raw = value.encode()
                forms[f"{label} (base64)"] = base64.b64encode(raw).decode().rstrip("=")
                forms[f"{label} (urlsafe base64)"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
                forms[f"{label} (url-encoded)"] = quote(value, safe="")
                forms[f"{label} (form-encoded)"] = quote_plus(value)
        return {label: form for label, form in forms.items() if len(form) >= 12}


@pytest.fixture(scope="module")
def canary_sim():
    sim = CanarySim()
    yield sim
    sim.close()


def find_leaks(texts: dict[str, str], watched: dict[str, str]) -> list[str]:
    return [f"{label} in {where}" for where, text in texts.items() for label, value in watched.items()
            if value in text]


def files_under(root: Path, skip: set[Path]) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and path not in skip:
            found[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return found


def private_files(root: Path, skip: set[Path]) -> list[str]:
    """Files the session wrote that others could read (everything it writes must be 0600)."""
    return [f"{path}: {oct(stat.S_IMODE(path.stat().st_mode))}" for path in root.rglob("*")
            if path.is_file() and path not in skip and stat.S_IMODE(path.stat().st_mode) & 0o077]


# ============================================================================ the command line
class Cli:
    def __init__(self, root: Path, keyring_file: Path) -> None:
        self.home = root / "wbhome"
        self.user = root / "user"
        self.user.mkdir(parents=True)
        self.log = root / "logs" / "cli-debug.log"
        self.log.parent.mkdir()
        self.keyring_file = keyring_file
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WORKBENCH_", "OS_", "PYTHON_KEYRING", "XDG_"))}
        self.env.update(WORKBENCH_HOME=str(self.home), HOME=str(self.user), PYTHONPATH=str(REPO),
                        PYTHON_KEYRING_BACKEND="tests.cli.keyring_backend.ProcessSharedKeyring",
                        WORKBENCH_TEST_KEYRING=str(keyring_file), COLUMNS="200")
        self.results: list[tuple[list[str], int, str, str]] = []

    def run(self, *args: str, input: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
        completed = subprocess.run([sys.executable, "-c", DEBUG_CLI, str(self.log), *args], input=input,
                                   capture_output=True, text=True, env={**self.env, **(env or {})}, timeout=120,
                                   cwd=self.user)
        self.results.append((list(args), completed.returncode, completed.stdout, completed.stderr))
        return completed.returncode, completed.stdout, completed.stderr


def test_a_cli_session_never_shows_a_secret(canary_sim, tmp_path, report):
    from tests.cli.keyring_backend import ENV as KEYRING_ENV, ProcessSharedKeyring

    keyring_file = tmp_path / "keyring.json"
    cli = Cli(tmp_path / "session", keyring_file)
    store = ProfileStore(cli.home, secrets=SecretStore(environ={}))
    os.environ[KEYRING_ENV] = str(keyring_file)  # for the backend object used below, as the CLI uses it
    shared = ProcessSharedKeyring()
    try:
        names = []
        for index, (profile, secrets) in enumerate(canary_sim.profiles()):
            store.save(profile)
            names.append(profile.name)
            for field, value in secrets.items():
                if index % 2:  # half in the environment, half in the keyring
                    cli.env[env_var_name(profile.name, field)] = value
                else:
                    shared.set_password(SERVICE, keyring_key(profile.name, field), value)
    finally:
        os.environ.pop(KEYRING_ENV, None)
    # One secret typed in at the prompt (stdin), as a user would.
    cli.env.pop(env_var_name("yandex-oauth", "oauth_token"), None)
    code, out, err = cli.run("profile", "edit", "yandex-oauth", "--secret", "oauth_token",
                             input=canary_sim.context.demo.yandex_oauth_token + "\n")
    assert code == 0, err
    # A profile with TLS verification off (on plain http here: the warning is what matters).
    insecure = store.load("yandex-oauth").model_dump()
    store.save(Profile.model_validate({**insecure, "name": "insecure", "tls": {"verify": False}}))
    shared_env = {env_var_name("insecure", "oauth_token"): canary_sim.context.demo.yandex_oauth_token}

    ids = canary_sim.endpoints["yandex_ids"]
    glance_image = next(iter(canary_sim.context.states["glance"].images))
    commands: list[tuple[tuple[str, ...], int, dict[str, str]]] = [
        (("profile", "test", name, "--json"), 0, {}) for name in names
    ] + [
        (("profile", "list", "--json"), 0, {}),
        (("profile", "show", "kusto-client-secret", "--json"), 0, {}),
        (("images", "put", "-p", "kusto-client-secret", "canaryImage", "--language-version", "3.10.8", "--dry-run"),
         0, {}),
        (("images", "patch", "-p", "glance-password", glance_image, "--replace", "/name", "renamed", "--dry-run",
          "--json"), 0, {}),
        (("images", "create", "-p", "yandex-service-account-key", "--name", "canary-dry", "--source-disk",
          ids["disk_ids"][0], "--dry-run"), 0, {}),
        (("images", "create", "-p", "yandex-service-account-key", "--name", "canary-real", "--source-disk",
          ids["disk_ids"][0], "--wait"), 0, {}),
        (("images", "show", "-p", "glance-password", "no-such-image"), 1, {}),
        # Wrong secrets (the canary with a suffix): failures whose messages must not echo them.
        (("profile", "test", "kusto-client-secret"), 1,
         {env_var_name("kusto-client-secret", "client_secret"): canary_sim.canary + "-wrong"}),
        (("profile", "test", "yandex-static-token"), 1,
         {env_var_name("yandex-static-token", "iam_token"): canary_sim.canary + "-wrong"}),
        (("images", "list", "-p", "insecure", "--limit", "1"), 0, shared_env),
        (("images", "list", "-p", "insecure", "--limit", "1", "--json"), 0, shared_env),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda c: (c, cli.run(*c[0], env=c[2])), commands))
    for (args, expected, _), (code, out, err) in outcomes:
        if expected is not None:
            assert code == expected, f"workbench {' '.join(args)} -> {code}\n{out}\n{err}"
    # The TLS warning, every time the insecure profile was used.
    insecure_runs = [err for (args, _, _), (code, out, err) in outcomes if "insecure" in args]
    assert len(insecure_runs) == 2 and all(TLS_OFF in err for err in insecure_runs)

    watched = {**canary_sim.watched(), "wrong canary": canary_sim.canary + "-wrong"}
    texts = {f"workbench {' '.join(args)} ({stream})": text for args, _, out, err in cli.results
             for stream, text in (("stdout", out), ("stderr", err))}
    root = tmp_path / "session"
    texts.update(files_under(root, skip=set()))
    assert cli.log.stat().st_size > 10_000  # debug logging was on: httpx/httpcore/workbench lines
    assert "httpcore" in cli.log.read_text() and "workbench" in cli.log.read_text()
    leaks = find_leaks(texts, watched)
    assert not leaks, leaks
    tomls = list((cli.home / "profiles").glob("*.toml"))
    assert len(tomls) == len(names) + 1
    loose = private_files(cli.home, skip=set())
    assert not loose, f"readable by others: {loose}"
    report.add("secrets canary", f"command line: {len(cli.results)} runs with debug logging over "
                                 f"{len(names)} auth methods; {len(watched)} secret forms watched in "
                                 f"{len(texts)} outputs and files ({cli.log.stat().st_size // 1024} KiB of debug "
                                 f"log): 0 leaks; every profile file 0600; TLS-off warning {len(insecure_runs)} of "
                                 f"{len(insecure_runs)} runs")


# ============================================================================ the app
async def test_an_app_session_never_shows_a_secret(canary_sim, tmp_path, memory_keyring, report, monkeypatch):
    from workbench.connect import Workspace
    from workbench.tui.app import WorkbenchApp

    root = tmp_path / "app-session"
    shots = root / "screenshots"
    shots.mkdir(parents=True)
    environ: dict[str, str] = {}
    for name in list(os.environ):
        if name.startswith("WORKBENCH_SECRET_"):
            monkeypatch.delenv(name)
    secrets = SecretStore()
    said: list[str] = []
    workspace = Workspace(root / "home", secrets=secrets, on_warning=said.append)
    names = []
    for index, (profile, values) in enumerate(canary_sim.profiles()):
        workspace.profiles.save(profile)
        names.append(profile.name)
        for secret_field, value in values.items():
            if index % 2:
                monkeypatch.setenv(env_var_name(profile.name, secret_field), value)
                environ[env_var_name(profile.name, secret_field)] = value
            else:
                secrets.set(profile.name, secret_field, value)  # into the in-memory keyring
    wrong = Profile.model_validate({**workspace.profiles.load("kusto-client-secret").model_dump(),
                                    "name": "kusto-wrong"})
    workspace.profiles.save(wrong)
    secrets.set("kusto-wrong", "client_secret", canary_sim.canary + "-wrong")
    insecure = Profile.model_validate({**workspace.profiles.load("yandex-oauth").model_dump(), "name": "insecure",
                                       "tls": {"verify": False}})
    workspace.profiles.save(insecure)
    secrets.set("insecure", "oauth_token", canary_sim.context.demo.yandex_oauth_token)

    log_file = root / "logs" / "app-debug.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("workbench", "httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)

    app = WorkbenchApp(workspace, close_workspace=False)
    # Screenshots and the inspector for one profile per provider in CI (each SVG takes a while), all nightly.
    pictured = set(names) if is_long() else {"kusto-client-secret", "batch-shared-key", "glance-password",
                                               "ims-application-credential", "yandex-service-account-key",
                                               "kusto-wrong", "yandex-oauth"}
    shown = app.notify

    def notify(message, *, title="", **kwargs):  # everything the app tells the user, kept as text
        said.append(f"{title}: {message}")
        return shown(message, title=title, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, app.ready.is_set, "the workspace")
            for name in [*names, "kusto-wrong", "insecure"]:
                await _open(pilot, app, name)
                if name not in pictured:
                    continue
                app.save_screenshot(f"{name}.svg", str(shots))
                await pilot.press("i")  # the inspector: the request log, masked
                await pilot.pause()
                app.save_screenshot(f"{name}-inspector.svg", str(shots))
                await pilot.press("escape")
                await pilot.pause()
                if name in ("yandex-oauth", "glance-password") and app.images.image_list.images:
                    await pilot.press("l", "e")  # the editor on the highlighted image: a live dry-run preview
                    await pilot.pause(0.2)
                    app.save_screenshot(f"{name}-editor.svg", str(shots))
                    await pilot.press("escape")
                    await pilot.pause()
            assert app.profiles.status("kusto-wrong").value == "auth failed"
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()
        await workspace.aclose()

    watched = {**canary_sim.watched(), "wrong canary": canary_sim.canary + "-wrong"}
    texts = files_under(root, skip=set())
    texts["notifications"] = "\n".join(said)
    texts["request log"] = json.dumps([e.as_dict() for e in workspace.request_log.entries()])
    assert len(list(shots.glob("*.svg"))) >= 2 * len(pictured)
    assert any(TLS_OFF in line for line in said)
    assert log_file.stat().st_size > 10_000
    leaks = find_leaks(texts, watched)
    assert not leaks, leaks
    loose = private_files(root / "home", skip=set())
    assert not loose, f"readable by others: {loose}"
    report.add("secrets canary", f"app: {len(names) + 2} profiles opened with debug logging, "
                                 f"{len(list(shots.glob('*.svg')))} screenshots, {len(said)} notifications, "
                                 f"{len(workspace.request_log.entries())} logged exchanges: 0 leaks")


async def test_the_app_warns_every_time_a_tls_off_profile_is_opened(canary_sim, tmp_path, memory_keyring):
    from workbench.connect import Workspace
    from workbench.tui.app import WorkbenchApp

    said: list[str] = []
    workspace = Workspace(tmp_path / "home", secrets=SecretStore(environ={}), on_warning=said.append)
    for profile, values in canary_sim.profiles():
        if profile.name in ("yandex-oauth", "glance-password"):
            workspace.profiles.save(profile)
            for field, value in values.items():
                workspace.secrets.remember(profile.name, field, value)
    insecure = Profile.model_validate({**workspace.profiles.load("yandex-oauth").model_dump(), "name": "insecure",
                                       "tls": {"verify": False}})
    workspace.profiles.save(insecure)
    workspace.secrets.remember("insecure", "oauth_token", canary_sim.context.demo.yandex_oauth_token)
    app = WorkbenchApp(workspace, close_workspace=False)
    shown = app.notify

    def notify(message, *, title="", **kwargs):
        said.append(f"{title}: {message}")
        return shown(message, title=title, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    warned = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, app.ready.is_set, "the workspace")
            for name in ("insecure", "glance-password", "insecure"):
                before = sum(TLS_OFF in line for line in said)
                await _open(pilot, app, name)
                if name == "insecure":
                    warned.append(sum(TLS_OFF in line for line in said) - before)
    finally:
        await workspace.aclose()
    assert warned == [1, 1], f"TLS-off warnings per opening of 'insecure': {warned}"


async def _open(pilot, app, name: str) -> None:
    """Open ``name`` as Enter on it does, and wait for its images (or its failure)."""
    app.open_profile(name)
    # Until the app has handled the outcome (the status mark follows the images' Loaded message).
    await _until(pilot, lambda: (app.images.profile == name and app.images.stream.done
                                 and app.profiles.status(name).value == "ok")
                 or app.profiles.status(name).value in ("auth failed", "error"), f"{name} to open")


async def _until(pilot, condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
