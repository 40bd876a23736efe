"""OpenStack authentication for Glance and Huawei IMS: Keystone v3 tokens.

Every Image API call carries ``X-Auth-Token: <token>``. The token comes from:

- Keystone v3 ``POST {auth_url}/auth/tokens`` with the ``password`` method
  (a user by name and domain, or by id) scoped to one project (by id, or by
  name and domain), or with the ``application_credential`` method (by id, or
  by name and user; an application credential is bound to its project, so it
  carries no scope). Keystone answers 201 with the token in ``X-Subject-Token``
  and, in the body, ``expires_at`` and the service catalog, where the image
  endpoint is looked up by service type, interface and region
  (``KeystoneAuth``);
- a token the user already has (``static_token``), used with an explicit
  image endpoint since there is no catalog to read.

Keystone tokens are cached until shortly before ``expires_at``, refreshed once
when the Image API answers 401, and fetched once for any number of requests
waiting at the same time (``TokenCache``). Passwords, application-credential
secrets and tokens are secrets: the HTTP core masks them everywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from workbench.core.auth import AccessToken, NoAuth, StaticToken, TokenAuth
from workbench.core.errors import InvalidResponse, WorkbenchError
from workbench.core.http import HttpCore, check_http_url, decode_json
from workbench.core.masking import MASK

PROVIDER = "keystone"
TOKEN_HEADER = "X-Auth-Token"
SUBJECT_TOKEN_HEADER = "X-Subject-Token"
#: Refresh a token this many seconds before its ``expires_at`` (Keystone's
#: tokens live an hour by default; the cache never refreshes earlier than
#: half a token's lifetime).
REFRESH_MARGIN = 120.0
INTERFACES: tuple[str, ...] = ("public", "internal", "admin")
#: Catalog service types searched for the image endpoint, in order. Huawei
#: Cloud lists IMS as "ims" (and Glance-compatible clouds as "image").
GLANCE_SERVICE_TYPES: tuple[str, ...] = ("image",)
IMS_SERVICE_TYPES: tuple[str, ...] = ("ims", "image")

_VERSION_SEGMENT = re.compile(r"^v3(\.\d+)?$")
#: Catalog URLs may carry the project as a template (old Keystone catalogs).
_PROJECT_TEMPLATES = ("$(project_id)s", "$(tenant_id)s", "%(project_id)s", "%(tenant_id)s")


class CatalogError(WorkbenchError):
    """The token's service catalog has no (single) endpoint for the image service."""


def _required(field: str, value: str | None, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: required ({hint})")
    return value.strip()


def _domain(field: str, name: str | None, domain_id: str | None) -> dict[str, str] | None:
    if name and domain_id:
        raise ValueError(f"{field}: give the domain's name or its id, not both")
    if domain_id:
        return {"id": domain_id}
    if name:
        return {"name": name}
    return None


# -- identities and scope ------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class PasswordMethod:
    """The ``password`` method: a user by id, or by name within a domain."""

    password: str
    username: str | None = None
    user_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None

    def __post_init__(self) -> None:
        _required("password", self.password, "the Keystone user's password")
        if not (self.username or self.user_id):
            raise ValueError("username: required for password auth (or give user_id)")
        if self.username and not self.user_id and not (self.user_domain_name or self.user_domain_id):
            raise ValueError("user_domain_name: a user given by name needs its domain: set user_domain_name "
                             "(often 'Default') or user_domain_id, or give user_id")
        _domain("user_domain_name", self.user_domain_name, self.user_domain_id)

    scoped = True

    def identity(self) -> dict[str, Any]:
        user: dict[str, Any] = {"password": self.password}
        if self.user_id:
            user["id"] = self.user_id
        else:
            user["name"] = self.username
            user["domain"] = _domain("user_domain_name", self.user_domain_name, self.user_domain_id)
        return {"methods": ["password"], "password": {"user": user}}

    @property
    def secret(self) -> str:
        return self.password

    def __repr__(self) -> str:
        who = self.user_id or f"{self.username}@{self.user_domain_id or self.user_domain_name}"
        return f"PasswordMethod(user={who!r}, password={MASK!r})"


@dataclass(frozen=True, repr=False)
class ApplicationCredentialMethod:
    """The ``application_credential`` method: by id, or by name and its user."""

    secret: str
    id: str | None = None
    name: str | None = None
    username: str | None = None
    user_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None

    def __post_init__(self) -> None:
        _required("application_credential_secret", self.secret, "the application credential's secret")
        if not (self.id or self.name):
            raise ValueError("application_credential_id: required (or give application_credential_name "
                             "with its user)")
        if self.name and not self.id:
            if not (self.username or self.user_id):
                raise ValueError("username: an application credential given by name needs its user "
                                 "(username with user_domain_name, or user_id)")
            if self.username and not self.user_id and not (self.user_domain_name or self.user_domain_id):
                raise ValueError("user_domain_name: the application credential's user needs its domain")

    scoped = False  # bound to the project it was made in

    def identity(self) -> dict[str, Any]:
        credential: dict[str, Any] = {"secret": self.secret}
        if self.id:
            credential["id"] = self.id
        else:
            user: dict[str, Any] = {"id": self.user_id} if self.user_id else {
                "name": self.username, "domain": _domain("user_domain_name", self.user_domain_name,
                                                         self.user_domain_id)}
            credential.update(name=self.name, user=user)
        return {"methods": ["application_credential"], "application_credential": credential}

    def __repr__(self) -> str:
        return f"ApplicationCredentialMethod(id={self.id or self.name!r}, secret={MASK!r})"


@dataclass(frozen=True)
class ProjectScope:
    """The project a token is scoped to: by id, or by name within a domain."""

    id: str | None = None
    name: str | None = None
    domain_name: str | None = None
    domain_id: str | None = None

    def __post_init__(self) -> None:
        if not (self.id or self.name):
            raise ValueError("project_name: password auth needs a project: set project_name or project_id")
        if self.name and not self.id and not (self.domain_name or self.domain_id):
            raise ValueError("project_domain_name: a project given by name needs its domain: set "
                             "project_domain_name (often 'Default') or project_domain_id, or give project_id")
        _domain("project_domain_name", self.domain_name, self.domain_id)

    def scope(self) -> dict[str, Any]:
        if self.id:
            return {"project": {"id": self.id}}
        return {"project": {"name": self.name,
                            "domain": _domain("project_domain_name", self.domain_name, self.domain_id)}}


# -- URLs and the catalog ---------------------------------------------------------------------
def tokens_url(auth_url: str) -> str:
    """``{auth_url}/auth/tokens``, where ``auth_url`` is the Keystone v3 root
    (``https://keystone:5000/v3``); a root without the version gets ``/v3``."""
    url = check_http_url("auth_url", auth_url, what="the Keystone v3 URL")
    if url.query:
        raise ValueError("auth_url: must not carry a query string")
    base = str(url.copy_with(fragment=None)).rstrip("/")
    last = url.path.rstrip("/").rsplit("/", 1)[-1]
    if not _VERSION_SEGMENT.match(last):
        base += "/v3"
    return base + "/auth/tokens"


def service_root(url: str) -> str:
    """An image endpoint as the service root: no trailing ``/``, no ``/v2``
    (catalogs and users write both ``https://glance:9292`` and ``.../v2``)."""
    root = url.rstrip("/")
    if re.search(r"/v2(\.\d+)?$", root):
        root = root.rsplit("/", 1)[0]
    return root


def find_endpoint(
    catalog: Any,
    *,
    service_types: Sequence[str] = GLANCE_SERVICE_TYPES,
    interface: str = "public",
    region: str | None = None,
    project_id: str | None = None,
) -> str:
    """The image endpoint (service root) in a Keystone v3 catalog.

    The first of ``service_types`` the catalog lists wins; within it, the
    endpoint of ``interface`` in ``region`` (any region when None, as long as
    they all agree). Raises ``CatalogError`` saying what the catalog offers.
    """
    if not isinstance(catalog, list):
        raise CatalogError("the token carries no service catalog: set image_endpoint explicitly")
    offered: list[str] = []
    for service_type in service_types:
        services = [s for s in catalog if isinstance(s, Mapping) and s.get("type") == service_type]
        if not services:
            continue
        urls: dict[str, str] = {}  # url -> region
        for service in services:
            for endpoint in service.get("endpoints") or []:
                if not isinstance(endpoint, Mapping) or not isinstance(endpoint.get("url"), str):
                    continue
                where = str(endpoint.get("region_id") or endpoint.get("region") or "")
                offered.append(f"{service_type} {endpoint.get('interface')} {where or '(no region)'}")
                if endpoint.get("interface") != interface:
                    continue
                if region is not None and region not in (endpoint.get("region_id"), endpoint.get("region")):
                    continue
                urls.setdefault(_fill_project(endpoint["url"], project_id), where)
        if len(urls) == 1:
            return service_root(next(iter(urls)))
        if len(urls) > 1:
            regions = ", ".join(sorted(set(urls.values())))
            raise CatalogError(f"region: the catalog has {service_type!r} endpoints ({interface}) in several "
                               f"regions ({regions}); set region to choose one")
    wanted = f"{' or '.join(repr(t) for t in service_types)} endpoint with interface {interface!r}"
    if region is not None:
        wanted += f" in region {region!r}"
    has = "; it has: " + ", ".join(offered) if offered else "; it lists no image service"
    raise CatalogError(f"the service catalog has no {wanted}{has}. Check interface and region, or set "
                       "image_endpoint")


def _fill_project(url: str, project_id: str | None) -> str:
    if project_id:
        for template in _PROJECT_TEMPLATES:
            url = url.replace(template, project_id)
    return url


def parse_expires_at(value: Any) -> float | None:
    """Keystone's ``expires_at`` (``2025-11-23T10:00:00.000000Z``) as epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Keystone speaks UTC
    return moment.timestamp()


# -- the token flow ------------------------------------------------------------------------------
class KeystoneAuth(TokenAuth):
    """``X-Auth-Token`` with project-scoped tokens from Keystone v3.

    ``image_endpoint()`` is the image service root: ``endpoint_override`` when
    given, else read from the token's catalog (by ``service_types``,
    ``interface`` and ``region``).
    """

    def __init__(
        self,
        http: HttpCore,
        *,
        auth_url: str,
        method: PasswordMethod | ApplicationCredentialMethod,
        project: ProjectScope | None = None,
        service_types: Sequence[str] = GLANCE_SERVICE_TYPES,
        interface: str = "public",
        region: str | None = None,
        endpoint_override: str | None = None,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interface not in INTERFACES:
            raise ValueError(f"interface: must be one of {', '.join(INTERFACES)}, got {interface!r}")
        if method.scoped and project is None:
            raise ValueError("project_name: password auth needs a project: set project_name or project_id")
        if not method.scoped and project is not None:
            raise ValueError("project_id: an application credential is bound to its project; leave the "
                             "project out")
        if not service_types:
            raise ValueError("service_types: give at least one catalog service type, such as 'image'")
        super().__init__(header=TOKEN_HEADER, scheme=None, refresh_margin=refresh_margin, clock=clock,
                         extra_secrets=[method.secret])
        self.http = http
        self.token_url = tokens_url(auth_url)
        self.method = method
        self.project = project
        self.service_types = tuple(service_types)
        self.interface = interface
        self.region = region or None
        self.endpoint_override = service_root(endpoint_override) if endpoint_override else None
        http.add_secret(method.secret)

    def request_body(self) -> dict[str, Any]:
        """The ``POST /v3/auth/tokens`` body (with the secret: never log it)."""
        auth: dict[str, Any] = {"identity": self.method.identity()}
        if self.project is not None:
            auth["scope"] = self.project.scope()
        return {"auth": auth}

    async def fetch_token(self) -> AccessToken:
        # Asking for a token twice is harmless, so a throttled or dropped
        # request may be retried; any refusal is an AuthError.
        params = {"nocatalog": ""} if self.endpoint_override else None
        response = await self.http.request("POST", self.token_url, provider=PROVIDER, auth=NoAuth(),
                                           json=self.request_body(), params=params, expect=(201,),
                                           idempotent=True, auth_error=True)
        value = response.headers.get(SUBJECT_TOKEN_HEADER, "").strip()
        if not value:
            raise InvalidResponse(PROVIDER, f"Keystone answered {response.status_code} without an "
                                            f"{SUBJECT_TOKEN_HEADER} header", status=response.status_code)
        body = decode_json(response, PROVIDER)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, dict):
            raise InvalidResponse(PROVIDER, "the token answer has no 'token' object", status=response.status_code)
        project = token.get("project") if isinstance(token.get("project"), dict) else {}
        project_id = project.get("id") if isinstance(project.get("id"), str) else None
        if project_id is None:
            raise InvalidResponse(PROVIDER, "Keystone issued a token that is not scoped to a project; the Image "
                                            "API needs a project-scoped token", status=response.status_code)
        extra = {"project_id": project_id, "catalog": token.get("catalog"), "expires_at": token.get("expires_at")}
        return AccessToken(value, parse_expires_at(token.get("expires_at")), extra)

    @property
    def project_id(self) -> str | None:
        """The project of the current token (None before the first fetch)."""
        token = self.cache.token
        return token.extra.get("project_id") if token is not None else None

    async def image_endpoint(self) -> str:
        """The image service root (fetching a token first if the catalog is needed)."""
        if self.endpoint_override:
            return self.endpoint_override
        token = await self.cache.get()
        return find_endpoint(token.extra.get("catalog"), service_types=self.service_types,
                             interface=self.interface, region=self.region,
                             project_id=token.extra.get("project_id"))

    def __repr__(self) -> str:
        return (f"KeystoneAuth(auth_url={self.token_url.removesuffix('/auth/tokens')!r}, method={self.method!r}, "
                f"project={self.project!r}, interface={self.interface!r}, region={self.region!r})")


def static_token(token: str) -> StaticToken:
    """A token the user already holds (``openstack token issue``): no refresh,
    and the image endpoint must be given explicitly."""
    return StaticToken(TOKEN_HEADER, _required("token", token, "an OpenStack token"))


def keystone_auth(
    http: HttpCore,
    *,
    auth_url: str,
    password: str | None = None,
    username: str | None = None,
    user_id: str | None = None,
    user_domain_name: str | None = None,
    user_domain_id: str | None = None,
    project_id: str | None = None,
    project_name: str | None = None,
    project_domain_name: str | None = None,
    project_domain_id: str | None = None,
    application_credential_id: str | None = None,
    application_credential_name: str | None = None,
    application_credential_secret: str | None = None,
    service_types: Iterable[str] = GLANCE_SERVICE_TYPES,
    interface: str = "public",
    region: str | None = None,
    endpoint_override: str | None = None,
    refresh_margin: float = REFRESH_MARGIN,
    clock: Callable[[], float] = time.time,
) -> KeystoneAuth:
    """Keystone auth from plain settings: exactly one of a password or an
    application-credential secret."""
    given = [name for name, value in (("password", password),
                                      ("application_credential_secret", application_credential_secret)) if value]
    if len(given) != 1:
        raise ValueError("keystone auth: exactly one of password, application_credential_secret must be given"
                         + (f", got {', '.join(given)}" if given else ""))
    method: PasswordMethod | ApplicationCredentialMethod
    project: ProjectScope | None = None
    if password:
        method = PasswordMethod(password, username=username, user_id=user_id, user_domain_name=user_domain_name,
                                user_domain_id=user_domain_id)
        project = ProjectScope(id=project_id, name=project_name, domain_name=project_domain_name,
                               domain_id=project_domain_id)
    else:
        assert application_credential_secret is not None
        method = ApplicationCredentialMethod(application_credential_secret, id=application_credential_id,
                                             name=application_credential_name, username=username,
                                             user_id=user_id, user_domain_name=user_domain_name,
                                             user_domain_id=user_domain_id)
    return KeystoneAuth(http, auth_url=auth_url, method=method, project=project, service_types=tuple(service_types),
                        interface=interface, region=region, endpoint_override=endpoint_override,
                        refresh_margin=refresh_margin, clock=clock)


__all__ = [
    "ApplicationCredentialMethod",
    "CatalogError",
    "GLANCE_SERVICE_TYPES",
    "IMS_SERVICE_TYPES",
    "KeystoneAuth",
    "PasswordMethod",
    "ProjectScope",
    "find_endpoint",
    "keystone_auth",
    "parse_expires_at",
    "service_root",
    "static_token",
    "tokens_url",
]
