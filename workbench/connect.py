"""From a saved profile to a connected driver, and what one process holds.

``open_driver(profile, secrets)`` is the one place that maps a ``Profile`` (its
provider, endpoints, ids, auth method, TLS options and timeouts) onto a
provider's driver and auth. Secrets are read with ``secrets.require`` when the
driver is opened, never earlier, and never kept anywhere but in the auth object.

A ``Workspace`` is what a command-line run, the app or a notebook holds::

    async with Workspace() as ws:                 # ~/.config/workbench, or $WORKBENCH_HOME
        driver = ws.driver("prod")                # opened once, cached
        async for image in driver.list_images(limit=10):
            ...
        op = await driver.send(request)           # an Operation ...
        ws.track(op)                              # ... polled, and saved until it ends

    async with Workspace.demo() as ws:            # the embedded simulator, demo profiles
        ws.profiles.names()                       # ['demo-batch', 'demo-glance', ...]

Provider modules are imported only when a profile of that provider is opened:
starting the app or the command line costs none of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.profiles.store import HOME_ENV, ProfileStore

if TYPE_CHECKING:
    import httpx

    from workbench.core.operations import Operation
    from workbench.core.opstate import SharedStateTracker
    from workbench.core.requestlog import RequestLog
    from workbench.profiles.model import Profile
    from workbench.profiles.secrets import SecretStore
    from workbench.providers.base import Driver
    from workbench.sim.server import SimServer

__all__ = ["OPERATIONS_FILE", "Workspace", "default_state_dir", "open_driver"]

log = logging.getLogger(__name__)

#: The file (in the state directory) that remembers unfinished operations.
OPERATIONS_FILE = "operations.json"

Prompt = Callable[[str], "str | None"]
Warn = Callable[[str], None]


def default_state_dir() -> Path:
    """``$WORKBENCH_HOME/state``, else the platform's user state directory for "workbench"."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser() / "state"
    import platformdirs

    return Path(platformdirs.user_state_dir("workbench", appauthor=False))


# =========================================================================== profile -> driver
def open_driver(
    profile: Profile,
    secrets: SecretStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    request_log: RequestLog | None = None,
    prompt: Prompt | None = None,
    warn: Warn | None = None,
) -> Driver:
    """A driver for ``profile``, authenticated with its secrets (read now).

    ``transport`` replaces the network (``httpx.ASGITransport`` for an in-process
    simulator); ``request_log`` collects every exchange, masked; ``prompt`` is
    asked for a secret that is set nowhere (its answer is kept for the session);
    ``warn`` receives the profile's warnings (TLS verification off, plain http),
    which are shown every time a profile is used (default: logged).

    Raises ``SecretError`` (``MissingSecret``, ``NoSecureKeyring``) when a secret
    is not available, and ``ProfileError`` when the profile cannot work as set.
    """
    for warning in profile.warnings:
        if warn is not None:
            warn(warning)
        else:
            log.warning("%s", warning)
    opener = _OPENERS.get(profile.provider)
    if opener is None:  # pragma: no cover - the profile model allows only known providers
        raise ValueError(f"provider: no driver for {profile.provider!r}")
    context = _Context(profile, secrets, transport, request_log, prompt)
    return opener(context)


class _Context:
    """What every provider's opener needs: the profile, its secrets on demand, HTTP settings."""

    def __init__(self, profile: Profile, secrets: SecretStore, transport: Any, request_log: Any,
                 prompt: Prompt | None) -> None:
        self.profile = profile
        self.settings: Any = profile.settings
        self.auth: Any = profile.settings.auth
        self._secrets = secrets
        self.transport = transport
        self.log = request_log
        self._prompt = prompt

    def secret(self, field: str) -> str:
        return self._secrets.require(self.profile.name, field, prompt=self._prompt)

    def connect_options(self) -> dict[str, Any]:
        """The keywords every driver's ``connect()`` takes alike: network, TLS,
        timeouts (every phase, as the profile sets them), request log, profile name."""
        ca_bundle = self.profile.tls.ca_bundle_path
        return {
            "transport": self.transport,
            "verify": self.profile.tls.verify,
            "ca_bundle": str(ca_bundle) if ca_bundle is not None else None,
            "timeout": self.profile.timeouts.httpx_timeout(),
            "log": self.log,
            "profile": self.profile.name,
        }


# --------------------------------------------------------------------------- Azure
def _azure_auth(ctx: _Context, provider: str, default_scope: str) -> Callable[[Any], Any]:
    """The profile's Azure auth method as a function of the driver's HTTP core."""
    from workbench.providers.azure_auth import AzureCredential

    auth = ctx.auth
    if auth.method == "client_secret":
        credential = AzureCredential("client_secret", tenant_id=auth.tenant_id, client_id=auth.client_id,
                                     client_secret=ctx.secret("client_secret"), authority=auth.authority_host)
        scope = auth.scope
    elif auth.method == "azure_cli":
        credential = AzureCredential("azure_cli", tenant_id=auth.tenant_id or "")
        scope = default_scope
    else:  # static_token
        credential = AzureCredential("static", token=ctx.secret("token"))
        scope = default_scope
    return lambda http: credential.build(scope=scope, http=http, provider=provider)


def _open_kusto(ctx: _Context) -> Driver:
    from workbench.providers.azure_auth import ARM_SCOPE
    from workbench.providers.kusto.driver import KustoDriver

    s = ctx.settings
    return KustoDriver.connect(
        subscription_id=s.subscription_id,
        resource_group=s.resource_group,
        cluster=s.cluster,
        base_url=s.arm_endpoint,
        api_version=s.api_version,
        auth=_azure_auth(ctx, "kusto", ARM_SCOPE),
        **ctx.connect_options(),
    )


def _open_batch(ctx: _Context) -> Driver:
    from workbench.providers.azure_auth import BATCH_SCOPE
    from workbench.providers.batch.driver import BatchDriver

    s = ctx.settings
    options: dict[str, Any] = {}
    if ctx.auth.method == "shared_key":
        options["account_key"] = ctx.secret("account_key")
    else:
        options["auth"] = _azure_auth(ctx, "batch", BATCH_SCOPE)
    return BatchDriver.connect(
        account_url=s.account_url,
        account_name=s.account_name,
        api_version=s.api_version,
        **ctx.connect_options(),
        **options,
    )


# --------------------------------------------------------------------------- Yandex
def _open_yandex(ctx: _Context) -> Driver:
    from workbench.providers.yandex.auth import ServiceAccountKey
    from workbench.providers.yandex.driver import YandexDriver

    s, auth = ctx.settings, ctx.auth
    credentials: dict[str, Any] = {}
    if auth.method == "oauth":
        credentials["oauth_token"] = ctx.secret("oauth_token")
    elif auth.method == "service_account_key":
        private_key = ctx.secret("private_key")
        credentials["service_account_key"] = ServiceAccountKey(
            id=auth.key_id, service_account_id=auth.service_account_id, private_key=private_key)
    else:  # static_token
        credentials["iam_token"] = ctx.secret("iam_token")
    return YandexDriver.connect(
        folder_id=s.folder_id,
        compute_endpoint=s.compute_endpoint,
        operation_endpoint=s.operation_endpoint,
        iam_endpoint=s.iam_endpoint,
        **ctx.connect_options(),
        **credentials,
    )


# --------------------------------------------------------------------------- OpenStack
def _open_glance(ctx: _Context) -> Driver:
    """Glance, and Huawei IMS through its Glance-compatible API (``flavour="ims"``)."""
    from workbench.providers.glance.driver import GlanceDriver

    s, auth = ctx.settings, ctx.auth
    credentials: dict[str, Any] = {}
    if auth.method == "password":
        credentials = {
            "password": ctx.secret("password"),
            "username": auth.username,
            "user_domain_name": s.user_domain_name,
            "user_domain_id": s.user_domain_id,
            "project_id": s.project_id,
            "project_name": s.project_name,
            "project_domain_name": s.project_domain_name,
            "project_domain_id": s.project_domain_id,
        }
    elif auth.method == "application_credential":
        # Bound to the project it was made in: no scope is sent.
        credentials = {
            "application_credential_secret": ctx.secret("application_credential_secret"),
            "application_credential_id": auth.application_credential_id,
        }
    else:  # static_token (the model requires image_endpoint with it)
        credentials = {"token": ctx.secret("token")}
    return GlanceDriver.connect(
        flavour=ctx.profile.provider,
        image_endpoint=s.image_endpoint,
        auth_url=s.auth_url,
        interface=s.interface,
        region=s.region,
        patch_dialect=s.patch_dialect,
        **ctx.connect_options(),
        **credentials,
    )


#: provider -> opener(_Context) -> Driver; each imports its provider's modules when called.
_OPENERS: dict[str, Callable[[_Context], Driver]] = {
    "kusto": _open_kusto,
    "glance": _open_glance,
    "ims": _open_glance,
    "batch": _open_batch,
    "yandex": _open_yandex,
}


# =========================================================================== the workspace
class Workspace:
    """What one process holds: profiles, secrets, the request log, the operation
    tracker (with its state file) and one open driver per profile.

    ``home`` defaults to ``$WORKBENCH_HOME`` or the user's config directory;
    ``state_dir`` (unfinished operations) to ``$WORKBENCH_HOME/state`` or the
    user's state directory. ``prompt`` is asked for secrets that are set nowhere;
    ``on_warning`` receives every profile warning when its driver opens.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        secrets: SecretStore | None = None,
        state_dir: str | Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        request_log: RequestLog | None = None,
        prompt: Prompt | None = None,
        on_warning: Warn | None = None,
    ) -> None:
        from workbench.core.requestlog import RequestLog
        from workbench.profiles.secrets import SecretStore

        self.secrets = secrets if secrets is not None else SecretStore()
        self.profiles = ProfileStore(home, secrets=self.secrets)
        if state_dir is None:
            state_dir = Path(home).expanduser() / "state" if home is not None else default_state_dir()
        self.state_dir = Path(state_dir)
        self.request_log = request_log if request_log is not None else RequestLog()
        self.transport = transport
        self.prompt = prompt
        self.on_warning = on_warning
        self.warnings: list[str] = []
        self._tracker: SharedStateTracker | None = None
        self._drivers: dict[str, Driver] = {}
        self._profiles: dict[str, Profile] = {}
        #: Drivers replaced after their profile changed, closed by ``aclose``.
        self._closing: list[Driver] = []
        self._sim: SimServer | None = None
        self._temporary_home: Path | None = None
        self.demo_endpoints: dict[str, Any] | None = None

    # ------------------------------------------------------------------ demo
    @classmethod
    def demo(cls, *, config: Any = None, prompt: Prompt | None = None, on_warning: Warn | None = None) -> Workspace:
        """A workspace on the embedded simulator (started now on a free loopback port).

        Its profiles (``demo-kusto``, ``demo-glance``, ``demo-ims``, ``demo-batch``,
        ``demo-yandex``) live in a temporary directory and their secrets in this
        session's memory, so no keyring is needed and the user's own profiles are
        never touched. ``aclose()`` stops the simulator and removes the directory.
        """
        from workbench.profiles.importers import from_simulator
        from workbench.sim.config import SimConfig
        from workbench.sim.server import SimServer

        server = SimServer(config or SimConfig()).start()
        home = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
        try:
            workspace = cls(home, prompt=prompt, on_warning=on_warning)
            workspace._sim = server
            workspace._temporary_home = home
            workspace.demo_endpoints = server.endpoints
            for candidate in from_simulator(server.endpoints):
                workspace.profiles.save(candidate.profile)
                candidate.use_for_session(workspace.secrets)
        except BaseException:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
            raise
        return workspace

    @property
    def is_demo(self) -> bool:
        return self._sim is not None

    # ------------------------------------------------------------------ profiles and drivers
    def profile(self, name: str) -> Profile:
        """The stored profile ``name`` (as loaded when its driver was opened, if it was)."""
        if name in self._profiles:
            return self._profiles[name]
        return self.profiles.load(name)

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        if self.on_warning is not None:
            self.on_warning(text)
        else:
            log.warning("%s", text)

    def driver(self, profile: str | Profile) -> Driver:
        """The open driver of ``profile`` (a name or a ``Profile``), opening it on first use.

        Its operation poller is registered with the tracker for that profile.
        The profile's warnings (TLS verification off, ...) are given every
        time, cached driver or not: a risk is worth repeating.
        """
        loaded = self.profiles.load(profile) if isinstance(profile, str) else profile
        cached = self._drivers.get(loaded.name)
        if cached is not None and self._profiles.get(loaded.name) == loaded:
            for warning in loaded.warnings:
                self._warn(warning)
            return cached
        driver = open_driver(loaded, self.secrets, transport=self.transport, request_log=self.request_log,
                             prompt=self.prompt, warn=self._warn)
        if cached is not None:
            self._closing.append(cached)  # the profile changed: close the old one with the rest
        self._drivers[loaded.name] = driver
        self._profiles[loaded.name] = loaded
        if self._tracker is not None:  # else registered when the tracker is made
            self._tracker.register(loaded.provider, driver.poller(), profile=loaded.name)
        return driver

    def forget_driver(self, name: str) -> None:
        """Drop the cached driver of ``name`` (after its profile changed); closed by ``aclose``."""
        driver = self._drivers.pop(name, None)
        self._profiles.pop(name, None)
        if driver is not None:
            self._closing.append(driver)

    # ------------------------------------------------------------------ operations
    @property
    def operations_path(self) -> Path:
        return self.state_dir / OPERATIONS_FILE

    @property
    def tracker(self) -> SharedStateTracker:
        """The operation tracker; its unfinished operations are saved in ``operations_path``."""
        if self._tracker is None:
            # Imported here: starting the app or the command line costs none of the core.
            from workbench.core.opstate import SharedStateTracker

            self._tracker = SharedStateTracker(self.operations_path, warn=self._warn)
            # Made on first use: a command that only reads (images list) never
            # makes it, nor saves its state file on the way out.
            for name, driver in self._drivers.items():
                self._tracker.register(self._profiles[name].provider, driver.poller(), profile=name)
        return self._tracker

    def track(self, op: Operation, *, profile: str | None = None) -> Operation:
        """Poll ``op`` from now on (it must come from a driver of this workspace) and save it.

        Its deadline is the profile's ``timeouts.operation``. Needs a running event loop.
        """
        name = profile or op.profile
        if name and not op.profile:
            op.profile = name
        deadline = None
        if name and op.deadline is None:
            with contextlib.suppress(Exception):
                deadline = self.profile(name).timeouts.operation
        tracked = self.tracker.track(op, deadline=deadline)
        self.tracker.save()
        return tracked

    def saved_operations(self) -> list[Operation]:
        """Unfinished operations remembered from earlier runs (not polled yet: see ``resume``).

        A damaged state file is moved aside with a warning (see ``SharedStateTracker``).
        """
        tracker = self.tracker
        tracker.load()
        return [op for op in tracker.operations if not op.done]

    def resume(self, ids: list[str] | None = None) -> tuple[list[Operation], dict[str, str]]:
        """Start polling saved operations again (``ids``, else all); needs a running loop.

        Opens the driver of each operation's profile. Returns the operations
        resumed and, by id, why the others could not be (profile gone, secret
        missing, ...).
        """
        from workbench.core.errors import WorkbenchError

        saved = {op.id: op for op in self.saved_operations()}
        wanted = ids if ids is not None else list(saved)
        problems: dict[str, str] = {}
        for op_id in wanted:
            op = saved.get(op_id)
            if op is None:
                continue
            if not op.profile:
                problems[op_id] = "the operation does not say which profile started it"
                continue
            try:
                self.driver(op.profile)
            except (WorkbenchError, ValueError) as exc:
                problems[op_id] = f"cannot open profile '{op.profile}': {exc}"
        # Only the wanted ones: any other saved operation stays as it is, unpolled
        # and saved for whoever watches it, as does one we could not resume.
        started = self.tracker.resume([op_id for op_id in wanted if op_id in saved and op_id not in problems])
        return started, problems

    # ------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Close every driver, save unfinished operations, stop the demo simulator."""
        if self._tracker is not None:
            await self._tracker.aclose()
            with contextlib.suppress(OSError):
                self._tracker.save()
        drivers = list(self._drivers.values()) + self._closing
        self._drivers.clear()
        self._profiles.clear()
        self._closing.clear()
        for driver in drivers:
            with contextlib.suppress(Exception):
                await driver.aclose()
        if self._sim is not None:
            self._sim.stop()
            self._sim = None
        if self._temporary_home is not None:
            shutil.rmtree(self._temporary_home, ignore_errors=True)
            self._temporary_home = None

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
