"""Microsoft Entra tokens for the Azure drivers (Kusto over ARM, and Batch).

Three ways to get a bearer token, each an ``Auth`` the HTTP core can use:

- ``EntraClientCredentials``: an app registration's client id and secret,
  exchanged at ``POST {authority}/{tenant}/oauth2/v2.0/token`` (the OAuth 2.0
  client-credentials grant, ``scope={resource}/.default``);
- ``AzureCliToken``: whatever account the user signed in to with ``az login``,
  read with ``az account get-access-token --resource ... -o json``;
- ``static_bearer``: a token the user pasted (never refreshed).

Tokens are cached until shortly before they expire, one fetch serves any
number of concurrent requests, and a 401 triggers exactly one refresh (all of
that is ``workbench.core.auth.TokenAuth``). ``AzureCredential`` is the plain
settings record a profile turns into one of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from workbench.core.auth import AccessToken, Auth, StaticToken, TokenAuth
from workbench.core.errors import WorkbenchError, clean_text
from workbench.core.http import HttpCore, decode_json
from workbench.core.masking import mask_json_text, mask_text
from workbench.providers.base import path_segment

#: The public cloud's authority host (sovereign clouds have their own).
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
#: Scope of Azure Resource Manager (the Kusto management API).
ARM_SCOPE = "https://management.azure.com/.default"
#: Scope of the Azure Batch data plane.
BATCH_SCOPE = "https://batch.core.windows.net/.default"

#: Refresh this long before a token expires (capped at half its lifetime).
REFRESH_MARGIN = 300.0
#: The Azure CLI is slow to start; a wedged one must not hang the app.
AZ_TIMEOUT = 60.0


class AzureAuthError(WorkbenchError):
    """A token answer that cannot be used."""


class AzureCliError(AzureAuthError):
    """The Azure CLI could not give a token (missing, not logged in, failed)."""


def resource_of(scope: str) -> str:
    """The resource a ``.default`` scope names, as ``az --resource`` wants it:
    ``https://management.azure.com/.default`` -> ``https://management.azure.com/``."""
    resource = scope.strip()
    if resource.endswith("/.default"):
        resource = resource[: -len("/.default")]
    return resource.rstrip("/") + "/"


def _check_scope(scope: str) -> str:
    scope = scope.strip()
    if not scope.endswith("/.default") or not scope[: -len("/.default")].strip("/"):
        raise ValueError(f"scope: must be a resource URI followed by /.default (the client-credentials rule), "
                         f"such as {ARM_SCOPE!r}, got {scope!r}")
    return scope


def _expires_in(body: dict, now: float) -> float | None:
    """Expiry (epoch seconds) from a token answer; v1 writes numbers as strings."""
    for key in ("expires_in", "expiresIn"):
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return now + float(value)
        if isinstance(value, str) and value.isdigit():
            return now + float(value)
    return None


class EntraClientCredentials(TokenAuth):
    """The OAuth 2.0 client-credentials grant against Microsoft Entra ID.

    ``authority`` is the host (``https://login.microsoftonline.com``, a
    sovereign cloud's, or the simulator's ``entra`` endpoint); the token
    request goes to ``{authority}/{tenant_id}/oauth2/v2.0/token`` through
    ``http`` (so it is logged, masked, and retried on 429/5xx like any other
    request). ``provider`` labels those requests and their errors.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        http: HttpCore,
        authority: str = PUBLIC_AUTHORITY,
        provider: str = "entra",
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (("tenant_id", tenant_id), ("client_id", client_id), ("client_secret", client_secret)):
            if not value or not value.strip():
                raise ValueError(f"{name}: required for client-credentials authentication")
        if not authority.startswith(("https://", "http://")):
            raise ValueError(f"authority: must be an http(s) URL such as {PUBLIC_AUTHORITY!r}, got {authority!r}")
        self.tenant_id = tenant_id.strip()
        self.client_id = client_id.strip()
        self.scope = _check_scope(scope)
        self.authority = authority.rstrip("/")
        self.http = http
        self.provider = provider
        self._client_secret = client_secret
        self._clock = clock
        super().__init__(refresh_margin=refresh_margin, clock=clock, extra_secrets=[client_secret])

    @property
    def token_url(self) -> str:
        return f"{self.authority}/{path_segment(self.tenant_id, field='tenant_id')}/oauth2/v2.0/token"

    async def fetch_token(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }
        # A client-credentials grant changes nothing on the server: safe to retry.
        response = await self.http.request("POST", self.token_url, provider=self.provider, data=form,
                                           auth_error=True, idempotent=True)
        body = decode_json(response, self.provider)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AzureAuthError(f"{self.provider}: the token endpoint {self.token_url} answered without an "
                                 "access_token")
        return AccessToken(token, _expires_in(body, self._clock()))

    def __repr__(self) -> str:
        return (f"EntraClientCredentials(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, "
                f"scope={self.scope!r}, authority={self.authority!r})")


class AzureCliToken(TokenAuth):
    """A token from the Azure CLI's signed-in account.

    Runs ``az account get-access-token --resource <resource> -o json`` (plus
    ``--tenant`` when given) whenever a new token is needed, with no shell.
    The CLI answers ``accessToken`` and the expiry as ``expires_on`` (epoch
    seconds, az 2.54+) or ``expiresOn`` (local time, older releases).
    """

    def __init__(
        self,
        *,
        scope: str,
        tenant_id: str | None = None,
        command: str = "az",
        timeout: float = AZ_TIMEOUT,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scope = _check_scope(scope)
        self.resource = resource_of(scope)
        self.tenant_id = tenant_id.strip() if tenant_id and tenant_id.strip() else None
        self.command = command
        self.timeout = timeout
        super().__init__(refresh_margin=refresh_margin, clock=clock)

    def arguments(self) -> list[str]:
        args = ["account", "get-access-token", "--resource", self.resource, "-o", "json"]
        if self.tenant_id:
            args += ["--tenant", self.tenant_id]
        return args

    async def fetch_token(self) -> AccessToken:
        executable = shutil.which(self.command)
        if executable is None:
            raise AzureCliError(
                f"the Azure CLI ({self.command!r}) was not found on PATH: install it and run 'az login', "
                "or authenticate with a client id and secret or a static token instead"
            )
        try:
            process = await asyncio.create_subprocess_exec(
                executable, *self.arguments(),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise AzureCliError(f"could not run the Azure CLI ({executable}): {exc}") from None
        try:
            async with asyncio.timeout(self.timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            await _stop(process)
            raise AzureCliError(f"'az account get-access-token' did not answer within {self.timeout:g} s") from None
        except BaseException:  # cancelled (the request, the app closing): az must not outlive us
            await _stop(process)
            raise
        error_text = clean_text(stderr.decode("utf-8", "replace"), 1000)
        if process.returncode != 0:
            if "az login" in error_text or "not logged in" in error_text.lower():
                raise AzureCliError(f"the Azure CLI is not signed in: run 'az login' (az said: {error_text})")
            raise AzureCliError(f"'az account get-access-token' failed with exit status {process.returncode}: "
                                f"{error_text or 'no error output'}")
        return self._parse(stdout)

    def _parse(self, stdout: bytes) -> AccessToken:
        try:
            body = json.loads(stdout)
        except ValueError:
            excerpt = mask_text(mask_json_text(clean_text(stdout.decode("utf-8", "replace"), 200)))
            raise AzureCliError(f"'az account get-access-token' printed something that is not JSON: {excerpt!r}") \
                from None
        token = body.get("accessToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AzureCliError("'az account get-access-token' answered without an accessToken")
        return AccessToken(token, _cli_expiry(body))

    def __repr__(self) -> str:
        return f"AzureCliToken(resource={self.resource!r}, tenant_id={self.tenant_id!r}, command={self.command!r})"


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill ``process`` if it still runs, and reap it, even if the caller is being cancelled."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    # Shielded: a second cancellation must not leave a zombie behind.
    await asyncio.shield(process.wait())


def _cli_expiry(body: dict) -> float | None:
    epoch = body.get("expires_on")
    if isinstance(epoch, (int, float)) and not isinstance(epoch, bool):
        return float(epoch)
    if isinstance(epoch, str) and epoch.isdigit():
        return float(epoch)
    local = body.get("expiresOn")
    if isinstance(local, str):
        for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                # Naive local time: timestamp() reads it in the local zone, as az wrote it.
                return datetime.strptime(local, pattern).timestamp()
            except ValueError:
                continue
    return None  # unknown: use it until a 401 says otherwise


def static_bearer(token: str) -> StaticToken:
    """``Authorization: Bearer <token>`` for a token the user supplies (never
    refreshed: a 401 is final). A pasted ``Bearer `` prefix is tolerated."""
    value = (token or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise ValueError("token: required for static-token authentication")
    if any(c.isspace() for c in value):
        raise ValueError("token: a bearer token has no spaces or line breaks (was more than the token pasted?)")
    return StaticToken.bearer(value)


AzureAuthMethod = Literal["client_secret", "azure_cli", "static"]


@dataclass(frozen=True)
class AzureCredential:
    """How a profile authenticates to Azure; ``build`` makes the ``Auth``.

    - ``client_secret``: ``tenant_id``, ``client_id``, ``client_secret``
      (``authority`` for another cloud or the simulator);
    - ``azure_cli``: optional ``tenant_id``, ``az_command``;
    - ``static``: ``token``.
    """

    method: AzureAuthMethod
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    authority: str = PUBLIC_AUTHORITY
    token: str = field(default="", repr=False)
    az_command: str = "az"

    def __post_init__(self) -> None:
        required = {"client_secret": ("tenant_id", "client_id", "client_secret"), "azure_cli": (),
                    "static": ("token",)}
        if self.method not in required:
            raise ValueError(f"method: must be one of {', '.join(required)}, got {self.method!r}")
        missing = [name for name in required[self.method] if not getattr(self, name).strip()]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required when method is {self.method!r}")

    def build(self, *, scope: str, http: HttpCore, provider: str = "entra",
              clock: Callable[[], float] = time.time) -> Auth:
        if self.method == "client_secret":
            return EntraClientCredentials(tenant_id=self.tenant_id, client_id=self.client_id,
                                          client_secret=self.client_secret, scope=scope, http=http,
                                          authority=self.authority, provider=provider, clock=clock)
        if self.method == "azure_cli":
            return AzureCliToken(scope=scope, tenant_id=self.tenant_id or None, command=self.az_command, clock=clock)
        return static_bearer(self.token)


__all__ = [
    "ARM_SCOPE",
    "BATCH_SCOPE",
    "PUBLIC_AUTHORITY",
    "AzureAuthError",
    "AzureCliError",
    "AzureCliToken",
    "AzureCredential",
    "EntraClientCredentials",
    "resource_of",
    "static_bearer",
]
