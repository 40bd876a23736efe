"""Simulated Microsoft Entra ID token endpoint (login.microsoftonline.com).

Client-credentials grants on the v2 (``scope``) and v1 (``resource``) endpoints
issue the opaque bearer tokens the simulated ARM (Kusto) and Batch services
accept. Errors use Entra's own shape: ``error``, ``error_description`` that
starts with the AADSTS code, ``error_codes``, ``timestamp``, ``trace_id``,
``correlation_id`` and ``error_uri``. The OpenID discovery documents point back
at the simulator so discovery-based clients find the token endpoint.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import AnyMethodRoute, media_type, service_mount, service_root

#: resource (without trailing slashes) -> token audience
RESOURCE_AUDIENCES: dict[str, str] = {
    "https://management.azure.com": "arm",
    "https://management.core.windows.net": "arm",
    "https://batch.core.windows.net": "batch",
}

#: OpenID scopes a client may add; they do not name a resource.
_OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}

_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class EntraError(Exception):
    """An answer in Entra's error shape."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


class EntraService:
    """Validates client-credentials requests against the demo app registration."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        demo = ctx.demo
        self.tenants = {demo.entra_tenant_id.lower()}
        #: client id (lower) -> secret
        self.clients = {demo.entra_client_id.lower(): demo.entra_client_secret}

    # -- the token endpoints -----------------------------------------------
    async def token_v2(self, request: Request) -> JSONResponse:
        return await self._token(request, version=2)

    async def token_v1(self, request: Request) -> JSONResponse:
        return await self._token(request, version=1)

    async def _token(self, request: Request, version: int) -> JSONResponse:
        trace_id = str(uuid.uuid4())
        correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
        try:
            if request.method != "POST":
                raise EntraError(
                    400, "invalid_request", 900561,
                    f"The endpoint only accepts POST, OPTIONS requests. Received a {request.method} request.",
                )
            tenant = request.path_params["tenant"]
            self._check_tenant(tenant)
            form = await self._form(request)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise _missing("grant_type")
            if grant_type != "client_credentials":
                raise EntraError(
                    400, "unsupported_grant_type", 70003,
                    f"The app requested an unsupported grant type '{grant_type}'. "
                    "This endpoint supports 'client_credentials'.",
                )
            client_id, secret = self._client_credentials(request, form)
            self._check_client(tenant, client_id, secret)
            if version == 2:
                resource = self._resource_from_scope(form.get("scope"))
            else:
                resource = form.get("resource")
                if not resource:
                    raise _missing("resource")
            audience = RESOURCE_AUDIENCES.get(resource.rstrip("/").lower())
            if audience is None:
                raise EntraError(
                    400, "invalid_resource", 500011,
                    f"The resource principal named {resource} was not found in the tenant named {tenant}. "
                    "This can happen if the application has not been installed by the administrator of the tenant "
                    "or consented to by any user in the tenant. You might have sent your authentication request "
                    "to the wrong tenant.",
                )
        except EntraError as exc:
            return self._error(request, exc, trace_id, correlation_id)

        ttl = self.ctx.config.token_ttl
        token = self.ctx.tokens.issue(audience, subject=client_id, ttl=ttl)
        if version == 2:
            body: dict = {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token.value}
        else:
            # The v1 endpoint writes its numbers as strings.
            now = int(time.time())
            body = {
                "token_type": "Bearer",
                "expires_in": str(ttl),
                "ext_expires_in": str(ttl),
                "expires_on": str(int(token.expires_at)),
                "not_before": str(now),
                "resource": resource,
                "access_token": token.value,
            }
        return JSONResponse(body, headers=self._headers(request, trace_id, correlation_id))

    async def _form(self, request: Request) -> dict[str, str]:
        # Parsed by hand: Starlette's form parser needs python-multipart, and
        # Entra reads only url-encoded forms anyway (anything else lacks grant_type).
        if media_type(request) != "application/x-www-form-urlencoded":
            return {}
        raw = (await request.body()).decode("utf-8", errors="replace")
        return dict(parse_qsl(raw, keep_blank_values=True))

    def _client_credentials(self, request: Request, form: dict[str, str]) -> tuple[str, str | None]:
        # client_secret_post, or client_secret_basic (HTTP Basic with id:secret)
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        authorization = request.headers.get("authorization", "")
        if authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                raise EntraError(401, "invalid_client", 7000216, "The Authorization header is not valid Basic credentials.")
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = client_id or basic_id, basic_secret
        if not client_id:
            raise _missing("client_id")
        return client_id, secret

    def _check_tenant(self, tenant: str) -> None:
        if tenant.lower() not in self.tenants:
            raise EntraError(
                400, "invalid_request", 90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
                "into the correct cloud. Check with your subscription administrator, this may happen if there "
                "are no active subscriptions for the tenant.",
            )

    def _check_client(self, tenant: str, client_id: str, secret: str | None) -> None:
        expected = self.clients.get(client_id.lower())
        if expected is None:
            raise EntraError(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
                "happen if the application has not been installed by the administrator of the tenant or consented "
                "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
            )
        if not secret:
            raise EntraError(
                401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if secret != expected:
            raise EntraError(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
            )

    def _resource_from_scope(self, scope: str | None) -> str:
        if not scope:
            raise _missing("scope")
        scopes = [s for s in scope.split() if s.lower() not in _OIDC_SCOPES]
        if len(scopes) != 1:
            raise EntraError(
                400, "invalid_scope", 28000,
                f"Provided value for the input parameter scope '{scope}' is not valid because it "
                + ("contains more than one resource." if scopes else "names no resource."),
            )
        only = scopes[0]
        if not only.endswith("/.default"):
            raise EntraError(
                400, "invalid_scope", 1002012,
                f"The provided value for scope {only} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        return only[: -len("/.default")]

    # -- discovery -----------------------------------------------------------
    async def openid_configuration_v2(self, request: Request) -> JSONResponse:
        return self._openid_configuration(request, version=2)

    async def openid_configuration_v1(self, request: Request) -> JSONResponse:
        return self._openid_configuration(request, version=1)

    def _openid_configuration(self, request: Request, version: int) -> JSONResponse:
        tenant = request.path_params["tenant"]
        trace_id, correlation_id = str(uuid.uuid4()), request.headers.get("client-request-id") or str(uuid.uuid4())
        try:
            self._check_tenant(tenant)
        except EntraError as exc:
            # Discovery names an unknown tenant "invalid_tenant".
            exc.error = "invalid_tenant"
            return self._error(request, exc, trace_id, correlation_id)
        authority = f"{service_root(request)}/{tenant}"
        suffix = "/v2.0" if version == 2 else ""
        oauth = f"{authority}/oauth2{suffix}"
        doc = {
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{authority}/discovery{suffix}/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{authority}{suffix}" if version == 2 else f"https://sts.windows.net/{tenant}/",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{oauth}/authorize",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{oauth}/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "azp"],
            "grant_types_supported": ["client_credentials"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }
        return JSONResponse(doc, headers=self._headers(request, trace_id, correlation_id))

    async def keys(self, request: Request) -> JSONResponse:
        # The simulator's tokens are opaque, not signed JWTs: no signing keys.
        return JSONResponse({"keys": []})

    async def routing_error(self, request: Request, exc: Exception) -> JSONResponse:
        """An unknown path or a verb a discovery document does not take, as an OAuth error."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            error = EntraError(405, "invalid_request", 900561,
                               f"The endpoint only accepts GET requests. Received a {request.method} request.")
        else:
            error = EntraError(exc.status_code, "invalid_request", 9002313,
                               "Invalid request. Request is malformed or invalid. "
                               f"The path '{request.url.path}' is not an endpoint of this authority.")
        correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
        return self._error(request, error, str(uuid.uuid4()), correlation_id)

    # -- answers ---------------------------------------------------------------
    def _headers(self, request: Request, trace_id: str, correlation_id: str) -> dict[str, str]:
        headers = {**_NO_STORE, "x-ms-request-id": trace_id, "x-ms-ests-server": "workbench-sim"}
        if request.headers.get("return-client-request-id", "").lower() == "true":
            headers["client-request-id"] = correlation_id
        return headers

    def _error(self, request: Request, exc: EntraError, trace_id: str, correlation_id: str) -> JSONResponse:
        timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{exc.code}: {exc.description}\r\n"
            f"Trace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        )
        body = {
            "error": exc.error,
            "error_description": description,
            "error_codes": [exc.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={exc.code}",
        }
        return JSONResponse(body, status_code=exc.status, headers=self._headers(request, trace_id, correlation_id))


def _missing(parameter: str) -> EntraError:
    return EntraError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{parameter}'."
    )


def mounts(ctx: SimContext) -> list[BaseRoute]:
    service = EntraService(ctx)
    ctx.states["entra"] = service
    app = Starlette(
        routes=[
            # Every verb reaches the token endpoints: non-POST get Entra's own error.
            AnyMethodRoute("/{tenant}/oauth2/v2.0/token", service.token_v2),
            AnyMethodRoute("/{tenant}/oauth2/token", service.token_v1),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", service.openid_configuration_v2, methods=["GET"]),
            Route("/{tenant}/.well-known/openid-configuration", service.openid_configuration_v1, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", service.keys, methods=["GET"]),
            Route("/{tenant}/discovery/keys", service.keys, methods=["GET"]),
        ],
        exception_handlers={HTTPException: service.routing_error},
    )
    return [service_mount(PREFIXES["entra"], app)]
