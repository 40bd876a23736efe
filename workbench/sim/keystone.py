"""Simulated Keystone v3: version discovery and ``/auth/tokens``.

Enough of Identity v3 for keystoneauth and openstacksdk to log in and find the
image service: ``GET /v3`` (the version document keystoneauth discovers),
``POST /v3/auth/tokens`` with the ``password``, ``application_credential`` and
``token`` methods and project scope (201, the token in ``X-Subject-Token``, a
service catalog listing Glance as type ``image`` and IMS as type ``ims``), and
``GET``/``HEAD``/``DELETE /v3/auth/tokens`` to validate and revoke.

Errors use Keystone's shape ``{"error": {"code", "message", "title"}}``.
This module is the token endpoint itself, so faults are not injected here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router

from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import AnyMethodRoute, ServiceRootWithoutSlash, service_mount, simulator_root

API_VERSION = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z"}
MEDIA_TYPE = {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
UNAUTHORIZED = "The request you have made requires authentication."
DEFAULT_DOMAIN = {"id": "default", "name": "Default"}


def _stable_id(*parts: str) -> str:
    """A Keystone-style 32-hex id, the same on every run."""
    return hashlib.md5("/".join(parts).encode()).hexdigest()


class KeystoneError(Exception):
    TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              405: "Method Not Allowed"}

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad_request(field_name: str, problem: str) -> KeystoneError:
    return KeystoneError(400, f"Invalid input for field '{field_name}': {problem}")


@dataclass
class TokenRecord:
    """What Keystone remembers about a token beyond the shared TokenIssuer entry."""

    methods: list[str]
    issued_at: float
    expires_at: float
    audit_id: str = field(default_factory=lambda: secrets.token_urlsafe(16)[:22])
    app_credential: dict | None = None


class KeystoneState:
    """The demo identity (one domain, user, project) and the tokens issued here."""

    def __init__(self, ctx: SimContext) -> None:
        demo = ctx.demo
        self.ctx = ctx
        self.lock = threading.Lock()
        self.user = {"id": _stable_id("user", demo.keystone_user), "name": demo.keystone_user,
                     "domain": dict(DEFAULT_DOMAIN), "password_expires_at": None}
        self.password = demo.keystone_password
        self.project = {"id": demo.keystone_project_id, "name": demo.keystone_project,
                        "domain": dict(DEFAULT_DOMAIN)}
        self.roles = [{"id": _stable_id("role", "member"), "name": "member"},
                      {"id": _stable_id("role", "reader"), "name": "reader"}]
        self.app_credential = {"id": demo.keystone_app_credential_id, "name": "workbench-demo",
                               "secret": demo.keystone_app_credential_secret, "restricted": True}
        self.tokens: dict[str, TokenRecord] = {}

    # -- identity checks ----------------------------------------------------------
    def domain_matches(self, domain: Any) -> bool:
        if not isinstance(domain, dict) or not domain:
            return False
        if "id" in domain:
            return domain["id"] == DEFAULT_DOMAIN["id"]
        return domain.get("name") == DEFAULT_DOMAIN["name"]

    def user_matches(self, user: Any) -> bool:
        if not isinstance(user, dict):
            return False
        if "id" in user:
            return user["id"] == self.user["id"]
        return user.get("name") == self.user["name"] and self.domain_matches(user.get("domain"))

    def project_matches(self, project: Any) -> bool:
        if not isinstance(project, dict):
            return False
        if "id" in project:
            return project["id"] == self.project["id"]
        return project.get("name") == self.project["name"] and self.domain_matches(project.get("domain"))

    # -- tokens ---------------------------------------------------------------------
    def issue(self, methods: list[str], app_credential: dict | None) -> tuple[str, TokenRecord]:
        """A project-scoped token (the demo user's only project)."""
        issued = self.ctx.tokens.issue("keystone", self.user["name"], project_id=self.project["id"])
        record = TokenRecord(methods=methods, issued_at=time.time(), expires_at=issued.expires_at,
                             app_credential=app_credential)
        with self.lock:
            self.tokens[issued.value] = record
        return issued.value, record

    def lookup(self, value: str | None) -> TokenRecord | None:
        """A live token issued here (not expired, not revoked)."""
        if self.ctx.tokens.check("keystone", value) is None:
            return None
        with self.lock:
            return self.tokens.get(value or "")

    def revoke(self, value: str) -> None:
        issued = self.ctx.tokens.check("keystone", value)
        if issued is not None:
            issued.expires_at = 0.0  # the shared issuer stops accepting it everywhere
        with self.lock:
            self.tokens.pop(value, None)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1_000_000):06d}Z"


def _root(request: Request) -> str:
    """Scheme, host and port (and any outer prefix) the client reached the simulator on."""
    return simulator_root(request, PREFIXES["keystone"])


class KeystoneService:
    def __init__(self, state: KeystoneState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            # Every method (OPTIONS, PROPFIND) reaches the endpoints, which answer 405 in Keystone's shape.
            AnyMethodRoute("/", self.version),
            AnyMethodRoute("/auth/tokens", self.tokens),
            AnyMethodRoute("/{path:path}", self.not_found),
        ]

    # -- responses --------------------------------------------------------------------
    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status, media_type="application/json",
                        headers={"Vary": "X-Auth-Token", "x-openstack-request-id": f"req-{uuid.uuid4()}",
                                 **(headers or {})})

    def _error(self, request: Request, error: KeystoneError) -> Response:
        body = {"error": {"code": error.status, "message": error.message,
                          "title": KeystoneError.TITLES.get(error.status, "Error")}}
        headers = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Keystone uri="{_root(request)}{PREFIXES["keystone"]}"'
        return self._json(body, error.status, headers)

    # -- endpoints ----------------------------------------------------------------------
    async def version(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._error(request, KeystoneError(405, f"The method {request.method} is not allowed."))
        root = _root(request)
        return self._json({"version": {**API_VERSION, "links": [
            {"rel": "self", "href": f"{root}{PREFIXES['keystone']}/"}], "media-types": [MEDIA_TYPE]}})

    async def not_found(self, request: Request) -> Response:
        return self._error(request, KeystoneError(404, "Could not find resource."))

    async def tokens(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                return await self._authenticate(request)
            if request.method in ("GET", "HEAD", "DELETE"):
                return self._validate(request)
            raise KeystoneError(405, f"The method {request.method} is not allowed for /v3/auth/tokens.")
        except KeystoneError as error:
            return self._error(request, error)

    async def _authenticate(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, RecursionError):  # RecursionError: nesting too deep for json
            raise KeystoneError(400, "Malformed JSON in request body.") from None
        if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
            raise _bad_request("", "'auth' is a required property")
        auth = body["auth"]
        identity = auth.get("identity")
        if not isinstance(identity, dict):
            raise _bad_request("auth", "'identity' is a required property")
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise _bad_request("identity", "'methods' is a required property (a non-empty list)")
        method = methods[0]
        if not isinstance(method, str):
            raise _bad_request("identity.methods", f"{method!r} is not of type 'string'")
        data = identity.get(method)
        if not isinstance(data, dict):
            raise _bad_request("identity", f"{method!r} is a required property")
        state = self.state
        scope = auth.get("scope")
        app_credential = None
        if method == "password":
            user = data.get("user")
            if not isinstance(user, dict) or "password" not in user:
                raise _bad_request("identity.password.user", "'password' is a required property")
            if not state.user_matches(user) or user["password"] != state.password:
                raise KeystoneError(401, UNAUTHORIZED)
        elif method == "application_credential":
            credential = state.app_credential
            by_id = data.get("id") == credential["id"]
            by_name = data.get("name") == credential["name"] and state.user_matches(data.get("user"))
            if not (by_id or by_name) or data.get("secret") != credential["secret"]:
                raise KeystoneError(401, UNAUTHORIZED)
            if scope is not None:
                # An application credential is bound to its project.
                raise KeystoneError(401, UNAUTHORIZED)
            app_credential = {"id": credential["id"], "name": credential["name"], "restricted": True}
        elif method == "token":
            previous = state.lookup(data.get("id"))
            if previous is None:
                raise KeystoneError(404, f"Could not find token: {data.get('id')}.")
        else:
            raise KeystoneError(401, f"Attempted to authenticate with an unsupported method: {method}")
        # No scope: Keystone scopes the token to the user's default project,
        # which is the demo project; it holds no domain or system roles.
        if scope is not None:
            if not isinstance(scope, dict) or not state.project_matches(scope.get("project")):
                raise KeystoneError(401, UNAUTHORIZED)
        value, record = state.issue(methods, app_credential)
        with_catalog = "nocatalog" not in request.query_params
        return self._json(self._token_body(request, record, with_catalog), 201, {"X-Subject-Token": value})

    def _validate(self, request: Request) -> Response:
        state = self.state
        if state.lookup(request.headers.get("x-auth-token")) is None:
            raise KeystoneError(401, UNAUTHORIZED)
        subject = request.headers.get("x-subject-token")
        record = state.lookup(subject)
        if record is None:
            raise KeystoneError(404, f"Could not find token: {subject}.")
        if request.method == "DELETE":
            state.revoke(subject or "")
            return Response(status_code=204, headers={"Vary": "X-Auth-Token"})
        body = self._token_body(request, record, "nocatalog" not in request.query_params)
        if request.method == "HEAD":
            return Response(status_code=200, headers={"X-Subject-Token": subject or "", "Vary": "X-Auth-Token"})
        return self._json(body, 200, {"X-Subject-Token": subject or ""})

    def _token_body(self, request: Request, record: TokenRecord, with_catalog: bool) -> dict:
        state = self.state
        token: dict[str, Any] = {
            "methods": record.methods,
            "user": state.user,
            "audit_ids": [record.audit_id],
            "expires_at": _iso(record.expires_at),
            "issued_at": _iso(record.issued_at),
        }
        token["project"] = state.project
        token["is_domain"] = False
        token["roles"] = state.roles
        if with_catalog:
            token["catalog"] = self._catalog(_root(request))
        if record.app_credential is not None:
            token["application_credential"] = record.app_credential
        return {"token": token}

    def _catalog(self, root: str) -> list[dict]:
        region = self.state.ctx.demo.keystone_region

        def service(kind: str, name: str, url: str) -> dict:
            return {
                "id": _stable_id("service", name), "type": kind, "name": name,
                "endpoints": [{"id": _stable_id("endpoint", name, interface), "interface": interface,
                               "region_id": region, "region": region, "url": url}
                              for interface in ("public", "internal", "admin")],
            }

        return [
            service("identity", "keystone", root + PREFIXES["keystone"]),
            service("image", "glance", root + PREFIXES["glance"]),
            service("ims", "ims", root + PREFIXES["ims"]),
        ]


def mounts(ctx: SimContext) -> list[BaseRoute]:
    state = KeystoneState(ctx)
    ctx.states["keystone"] = state
    prefix = PREFIXES["keystone"]
    app = Router(routes=KeystoneService(state).routes())
    # keystoneauth's auth_url has no trailing slash: /keystone/v3 is the root too.
    return [Route(prefix, ServiceRootWithoutSlash(app, prefix)), service_mount(prefix, app)]


__all__ = ["KeystoneService", "KeystoneState", "mounts"]
