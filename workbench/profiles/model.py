"""The profile model: one saved cloud account, validated by pydantic.

A profile is a name, a provider, that provider's settings (endpoints, ids and an
auth method), TLS options and timeouts. Secret values are never part of it: the
model only knows *which* secrets an auth method needs (``SECRET_FIELDS``, the one
place that says so), and ``workbench.profiles.secrets`` keeps their values.

On disk a profile is a TOML document shaped like this (see ``profiles/*.toml``)::

    provider = "kusto"
    description = "production cluster"

    [kusto]
    subscription_id = "12345678-1234-1234-1234-123456789098"
    resource_group = "kustorptest"
    cluster = "kustoCluster"

    [kusto.auth]
    method = "client_secret"
    tenant_id = "..."
    client_id = "..."

    [tls]
    verify = true

``Profile.from_toml_dict`` validates such a document and turns every problem into
a ``ProfileError`` whose message names the file, the profile and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from workbench.core.errors import WorkbenchError
from workbench.core.hosts import is_loopback

__all__ = [
    "PROVIDERS",
    "NAME_RULE",
    "SECRET_FIELDS",
    "AzureCliAuth",
    "AzureClientSecretAuth",
    "BatchClientSecretAuth",
    "BatchSettings",
    "BatchSharedKeyAuth",
    "FieldProblem",
    "GlanceSettings",
    "ImsSettings",
    "KeystoneApplicationCredentialAuth",
    "KeystonePasswordAuth",
    "KustoSettings",
    "Profile",
    "ProfileError",
    "StaticTokenAuth",
    "Timeouts",
    "TlsOptions",
    "YandexOAuthAuth",
    "YandexServiceAccountKeyAuth",
    "YandexSettings",
    "check_profile_name",
    "display_path",
    "provider_secret_fields",
]

Provider = Literal["kusto", "glance", "ims", "batch", "yandex"]
PROVIDERS: tuple[str, ...] = ("kusto", "glance", "ims", "batch", "yandex")

# --------------------------------------------------------------------------- secrets
#: The one declaration of which fields are secrets: (provider, auth method) -> names.
#: Their values live in the keyring (or an env var, or session memory), never in a
#: profile file, and the profile model has no field that could hold one.
SECRET_FIELDS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("kusto", "client_secret"): ("client_secret",),
    ("kusto", "azure_cli"): (),
    ("kusto", "static_token"): ("token",),
    ("glance", "password"): ("password",),
    ("glance", "application_credential"): ("application_credential_secret",),
    ("glance", "static_token"): ("token",),
    ("ims", "password"): ("password",),
    ("ims", "application_credential"): ("application_credential_secret",),
    ("ims", "static_token"): ("token",),
    ("batch", "shared_key"): ("account_key",),
    ("batch", "client_secret"): ("client_secret",),
    ("batch", "static_token"): ("token",),
    ("yandex", "oauth"): ("oauth_token",),
    ("yandex", "service_account_key"): ("private_key",),
    ("yandex", "static_token"): ("iam_token",),
}


def provider_secret_fields(provider: str) -> tuple[str, ...]:
    """Every secret any auth method of ``provider`` can have (to move or remove them all)."""
    names: list[str] = []
    for (prov, _method), fields in SECRET_FIELDS.items():
        if prov == provider:
            names.extend(f for f in fields if f not in names)
    return tuple(names)


# --------------------------------------------------------------------------- errors
class FieldProblem(NamedTuple):
    """One validation problem; ``field`` is a dotted path in the TOML document, or ''."""

    field: str
    message: str


def display_path(path: str | Path) -> str:
    """``path`` with the home directory shown as ``~`` (shorter, and the same on every machine)."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home) :]
    return text


class ProfileError(WorkbenchError):
    """A profile that cannot be read, validated or stored.

    The message names the file, the profile and the field, one problem per line::

        ~/.config/workbench/profiles/prod.toml: profile 'prod': kusto.resource_group: must be 1-90 characters

    It never contains a field's value: a secret pasted under a wrong key must not
    end up in an error message.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | Path | None = None,
        profile: str | None = None,
        problems: tuple[FieldProblem, ...] | list[FieldProblem] = (),
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.profile = profile
        self.problems: tuple[FieldProblem, ...] = tuple(problems) or ((FieldProblem("", message),) if message else ())
        super().__init__(self._render())

    def _prefix(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(display_path(self.path))
        if self.profile:
            parts.append(f"profile '{self.profile}'")
        return ": ".join(parts)

    def _render(self) -> str:
        prefix = self._prefix()
        lines = []
        for field, message in self.problems:
            pieces = [p for p in (prefix, field, message) if p]
            lines.append(": ".join(pieces))
        return "\n".join(lines) or prefix


# --------------------------------------------------------------------------- field types
def _field_rule(field: str, rule: str) -> PydanticCustomError:
    """A cross-field rule, raised from a model validator, that still names its field."""
    return PydanticCustomError("field_rule", "{field}: {rule}", {"field": field, "rule": rule})


def _no_padding(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


def _text(min_length: int, max_length: int) -> Any:
    def check(value: str) -> str:
        _no_padding(value)
        if not min_length <= len(value) <= max_length:
            if min_length == 0:
                raise ValueError(f"must be at most {max_length} characters")
            raise ValueError(f"must be {min_length}-{max_length} characters")
        return value

    return Annotated[str, AfterValidator(check)]


def _pattern(regex: str, rule: str, max_length: int = 256) -> Any:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not value:
            raise ValueError(f"must not be empty ({rule})")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {rule}")
        return value

    return Annotated[str, AfterValidator(check)]


def _check_url(value: str) -> str:
    _no_padding(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL, such as https://example.com/v3")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query (?...) or fragment (#...)")
    # One spelling per endpoint, so drivers can append paths without doubling '/'.
    return value.rstrip("/")


def _check_seconds(value: float) -> float:
    if not 0 < value <= 86400:
        raise ValueError("must be more than 0 and at most 86400 seconds")
    return float(value)


def _check_path(value: str) -> str:
    _no_padding(value)
    if not value:
        raise ValueError("must not be empty")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Seconds = Annotated[float, AfterValidator(_check_seconds)]
Guid = _pattern(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "a GUID such as 00000000-0000-0000-0000-000000000000",
    36,
)
TenantId = _pattern(
    r"[A-Za-z0-9][A-Za-z0-9.-]*",
    "a directory (tenant) GUID or domain name such as contoso.onmicrosoft.com",
)
PathSegment = _pattern(r"[^/?#\s][^/?#]*", "non-empty, without '/', '?' or '#'", 260)
Text50 = _text(1, 50)
Text256 = _text(1, 256)


def _check_resource_group(value: str) -> str:
    # ARM's rule: 1-90 characters; letters, digits, '_', '-', '.', '(', ')'; not ending in '.'
    if not 1 <= len(value) <= 90:
        raise ValueError("must be 1-90 characters")
    if not re.fullmatch(r"[-\w.()]+", value):
        raise ValueError("may contain only letters, digits, '_', '-', '.', '(' and ')'")
    if value.endswith("."):
        raise ValueError("must not end with '.'")
    return value


ResourceGroup = Annotated[str, AfterValidator(_check_resource_group)]

# --------------------------------------------------------------------------- profile name
NAME_RULE = "must be 1-63 characters: lower-case letters a-z, digits 0-9, '-' and '_', starting with a letter or digit"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Names Windows refuses as file names, whatever the extension.
_RESERVED_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(1, 10)] + [f"lpt{i}" for i in range(1, 10)]
)


def check_profile_name(name: object) -> str:
    """Return ``name`` if it is a safe profile (and file) name, else raise ``ValueError``."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(NAME_RULE)
    if name in _RESERVED_NAMES:
        raise ValueError(f"'{name}' is a reserved device name on Windows; choose another")
    return name


ProfileName = Annotated[str, AfterValidator(check_profile_name)]


# --------------------------------------------------------------------------- base
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsOptions(_Model):
    """TLS settings. Verification stays on unless a profile turns it off on purpose."""

    verify: bool = True
    #: A PEM file of CA certificates to trust instead of the system's ('~' is expanded).
    ca_bundle: Annotated[str, AfterValidator(_check_path)] | None = None

    @model_validator(mode="after")
    def _bundle_needs_verification(self) -> TlsOptions:
        if not self.verify and self.ca_bundle is not None:
            raise _field_rule("ca_bundle", "has no effect when verify = false; remove one of them")
        return self

    @property
    def ca_bundle_path(self) -> Path | None:
        return Path(self.ca_bundle).expanduser() if self.ca_bundle else None

    def httpx_verify(self) -> bool | str:
        """The ``verify=`` argument for httpx: False, True, or the CA bundle's path."""
        if not self.verify:
            return False
        return str(self.ca_bundle_path) if self.ca_bundle else True


class Timeouts(_Model):
    """Timeouts in seconds: per HTTP phase, and for following a long-running operation."""

    connect: Seconds = 10.0
    read: Seconds = 60.0
    write: Seconds = 60.0
    pool: Seconds = 10.0
    #: How long to follow a long-running operation before giving up on it.
    operation: Seconds = 3600.0

    def httpx_timeout(self) -> Any:
        """The matching ``httpx.Timeout``."""
        import httpx

        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


# --------------------------------------------------------------------------- auth methods
_AZURE_AUTHORITY = "https://login.microsoftonline.com"


class AzureClientSecretAuth(_Model):
    """Entra ID client credentials; the secret ``client_secret`` is kept apart."""

    method: Literal["client_secret"] = "client_secret"
    tenant_id: TenantId
    client_id: Guid
    authority_host: Url = _AZURE_AUTHORITY
    scope: Url = "https://management.azure.com/.default"


class BatchClientSecretAuth(AzureClientSecretAuth):
    scope: Url = "https://batch.core.windows.net/.default"


class AzureCliAuth(_Model):
    """A token from ``az account get-access-token`` (the user's Azure CLI login)."""

    method: Literal["azure_cli"] = "azure_cli"
    tenant_id: TenantId | None = None


class StaticTokenAuth(_Model):
    """A bearer token the user already has; the secret is ``token`` (``iam_token`` on Yandex)."""

    method: Literal["static_token"] = "static_token"


class KeystonePasswordAuth(_Model):
    """Keystone v3 password auth; the secret ``password`` is kept apart."""

    method: Literal["password"] = "password"
    username: Text256


class KeystoneApplicationCredentialAuth(_Model):
    """Keystone v3 application credential; the secret ``application_credential_secret`` is kept apart."""

    method: Literal["application_credential"] = "application_credential"
    application_credential_id: Text256


class BatchSharedKeyAuth(_Model):
    """Azure Batch Shared Key signing; the secret ``account_key`` is kept apart."""

    method: Literal["shared_key"] = "shared_key"


class YandexOAuthAuth(_Model):
    """A Yandex OAuth token exchanged for IAM tokens; the secret is ``oauth_token``."""

    method: Literal["oauth"] = "oauth"


class YandexServiceAccountKeyAuth(_Model):
    """A service-account authorized key (PS256 JWT); the secret is ``private_key`` (PEM)."""

    method: Literal["service_account_key"] = "service_account_key"
    service_account_id: Text50
    key_id: Text50


KustoAuth = Annotated[AzureClientSecretAuth | AzureCliAuth | StaticTokenAuth, Field(discriminator="method")]
OpenStackAuth = Annotated[
    KeystonePasswordAuth | KeystoneApplicationCredentialAuth | StaticTokenAuth,
    Field(discriminator="method"),
]
BatchAuth = Annotated[BatchSharedKeyAuth | BatchClientSecretAuth | StaticTokenAuth, Field(discriminator="method")]
YandexAuth = Annotated[YandexOAuthAuth | YandexServiceAccountKeyAuth | StaticTokenAuth, Field(discriminator="method")]


# --------------------------------------------------------------------------- providers
class KustoSettings(_Model):
    """Azure Data Explorer sandbox custom images, through Azure Resource Manager."""

    provider: Literal["kusto"] = "kusto"
    subscription_id: Guid
    resource_group: ResourceGroup
    cluster: PathSegment
    arm_endpoint: Url = "https://management.azure.com"
    api_version: _pattern(r"\d{4}-\d{2}-\d{2}(-preview)?", "a date such as 2024-04-13") = "2024-04-13"
    auth: KustoAuth


class GlanceSettings(_Model):
    """OpenStack Image API v2, found through Keystone v3 (or at an explicit endpoint)."""

    provider: Literal["glance"] = "glance"
    auth_url: Url | None = None
    project_name: Text256 | None = None
    project_id: Text256 | None = None
    user_domain_name: Text256 | None = None
    user_domain_id: Text256 | None = None
    project_domain_name: Text256 | None = None
    project_domain_id: Text256 | None = None
    region: Text256 | None = None
    interface: Literal["public", "internal", "admin"] = "public"
    #: Use this image endpoint instead of the one in Keystone's service catalog.
    image_endpoint: Url | None = None
    patch_dialect: Literal["v2.1", "v2.0"] = "v2.1"
    auth: OpenStackAuth

    @model_validator(mode="after")
    def _auth_needs(self) -> GlanceSettings:
        method = self.auth.method
        if method == "static_token":
            if self.image_endpoint is None:
                raise _field_rule(
                    "image_endpoint", "required with auth.method = 'static_token' (there is no catalog to find it in)"
                )
            return self
        if self.auth_url is None:
            raise _field_rule("auth_url", f"required with auth.method = '{method}' (the Keystone v3 URL)")
        if method == "password":
            if self.project_name is None and self.project_id is None:
                raise _field_rule("project_name", "password auth needs a project: set project_name or project_id")
            if self.user_domain_name is None and self.user_domain_id is None:
                raise _field_rule(
                    "user_domain_name",
                    "password auth needs the user's domain: set user_domain_name (often 'Default') or user_domain_id",
                )
            if self.project_id is None and self.project_domain_name is None and self.project_domain_id is None:
                raise _field_rule(
                    "project_domain_name",
                    "a project given by name needs its domain: set project_domain_name "
                    "(often 'Default') or project_domain_id, or give project_id",
                )
        return self


class ImsSettings(GlanceSettings):
    """Huawei Cloud IMS through its Glance-compatible (native OpenStack) API."""

    provider: Literal["ims"] = "ims"


class BatchSettings(_Model):
    """Azure Batch data plane: the account's supported VM images."""

    provider: Literal["batch"] = "batch"
    #: The account URL, such as https://myaccount.westus.batch.azure.com
    account_url: Url
    account_name: _pattern(r"[a-z0-9]{3,24}", "3-24 lower-case letters and digits", 24)
    api_version: _pattern(r"\d{4}-\d{2}-\d{2}\.\d+\.\d+", "such as 2023-11-01.18.0") = "2023-11-01.18.0"
    auth: BatchAuth


class YandexSettings(_Model):
    """Yandex Cloud Compute images, their operations, and IAM token exchange."""

    provider: Literal["yandex"] = "yandex"
    folder_id: Text50
    compute_endpoint: Url = "https://compute.api.cloud.yandex.net"
    operation_endpoint: Url = "https://operation.api.cloud.yandex.net"
    iam_endpoint: Url = "https://iam.api.cloud.yandex.net"
    auth: YandexAuth


ProviderSettings = Annotated[
    KustoSettings | GlanceSettings | ImsSettings | BatchSettings | YandexSettings,
    Field(discriminator="provider"),
]

#: provider -> its auth methods, in the order SECRET_FIELDS lists them
_AUTH_METHODS: dict[str, tuple[str, ...]] = {
    provider: tuple(m for p, m in SECRET_FIELDS if p == provider) for provider in PROVIDERS
}

_TOP_LEVEL_KEYS = ("name", "provider", "description", "tls", "timeouts")


# --------------------------------------------------------------------------- profile
class Profile(_Model):
    """One saved cloud account. Build one in code, or from TOML with ``from_toml_dict``."""

    name: ProfileName
    description: _text(0, 500) = ""
    settings: ProviderSettings
    tls: TlsOptions = TlsOptions()
    timeouts: Timeouts = Timeouts()

    # Bookkeeping of the store (a hash of the file it was read from), not a setting.
    _revision: str | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Equal settings make equal profiles, whichever file revision they came from.
        if not isinstance(other, Profile):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash(self.model_dump_json())

    # -- what callers read
    @property
    def provider(self) -> str:
        return self.settings.provider

    @property
    def auth(self) -> Any:
        return self.settings.auth

    @property
    def auth_method(self) -> str:
        return self.settings.auth.method

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The secrets this profile's auth method needs (names only)."""
        return SECRET_FIELDS[(self.provider, self.auth_method)]

    @property
    def revision(self) -> str | None:
        """The revision of the stored file this profile was loaded from or saved as, if any."""
        return self._revision

    def with_revision(self, revision: str | None) -> Profile:
        copy = self.model_copy()
        copy._revision = revision
        return copy

    @property
    def warnings(self) -> list[str]:
        """Things a face must show every time the profile is used (never silenced)."""
        notes: list[str] = []
        if not self.tls.verify:
            notes.append(
                f"profile '{self.name}': TLS certificate verification is OFF (tls.verify = false): "
                "anyone on the network path can read its credentials and alter the answers"
            )
        for field, url in self.endpoints().items():
            parts = urlsplit(url)
            if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
                notes.append(
                    f"profile '{self.name}': {self.provider}.{field} uses plain http to {parts.hostname}: "
                    "credentials and tokens travel unencrypted"
                )
        bundle = self.tls.ca_bundle_path
        if bundle is not None and not bundle.is_file():
            notes.append(f"profile '{self.name}': tls.ca_bundle: file not found: {display_path(bundle)}")
        return notes

    def endpoints(self) -> dict[str, str]:
        """Every URL the profile will talk to, by field (``auth.authority_host`` included)."""
        found = {
            name: value
            for name, value in self.settings.model_dump().items()
            if isinstance(value, str) and value.startswith(("http://", "https://"))
        }
        authority = getattr(self.settings.auth, "authority_host", None)
        if authority:
            found["auth.authority_host"] = authority
        return found

    # -- TOML documents
    def to_toml_dict(self) -> dict[str, Any]:
        """The TOML document for this profile (no name: a stored file is named after it)."""
        settings = self.settings.model_dump(exclude_none=True)
        provider = settings.pop("provider")
        doc: dict[str, Any] = {"provider": provider}
        if self.description:
            doc["description"] = self.description
        doc[provider] = settings
        doc["tls"] = self.tls.model_dump(exclude_none=True)
        doc["timeouts"] = self.timeouts.model_dump()
        return doc

    @classmethod
    def from_toml_dict(
        cls, document: Mapping[str, Any], *, name: str | None = None, source: str | Path | None = None
    ) -> Profile:
        """Validate a TOML document; ``name`` defaults to the document's ``name`` key.

        Raises ``ProfileError`` naming ``source``, the profile and every bad field.
        """
        if not isinstance(document, Mapping):
            raise ProfileError("a profile must be a TOML table", path=source, profile=name)
        doc_name = document.get("name")
        label = name or (doc_name if isinstance(doc_name, str) else None)
        problems: list[FieldProblem] = []

        if name is None:
            if doc_name is None:
                problems.append(FieldProblem("name", "required"))
            else:
                name = doc_name
        elif doc_name is not None and doc_name != name:
            problems.append(FieldProblem("name", f"'{doc_name}' does not match the profile name '{name}'"))

        provider = document.get("provider")
        if provider is None:
            problems.append(FieldProblem("provider", f"required (one of {_quoted(PROVIDERS)})"))
        elif provider not in PROVIDERS:
            problems.append(FieldProblem("provider", f"must be one of {_quoted(PROVIDERS)}"))
            provider = None
        for key in document:
            if key in _TOP_LEVEL_KEYS or key == provider:
                continue
            if key in PROVIDERS:
                problems.append(FieldProblem(key, f"this table is for provider '{key}', not '{provider}'"))
            else:
                allowed = ", ".join([*_TOP_LEVEL_KEYS, provider or "<provider>"])
                problems.append(FieldProblem(key, f"unknown key (allowed here: {allowed})"))

        settings = document.get(provider, {}) if provider else {}
        if provider and not isinstance(settings, Mapping):
            problems.append(FieldProblem(provider, "must be a table"))
            settings = {}
        if provider:
            problems.extend(_secrets_in_document(provider, settings, label or "NAME"))
        if problems and provider is None:
            raise ProfileError(path=source, profile=label, problems=problems)

        data: dict[str, Any] = {
            "name": name,
            "settings": {"provider": provider, **{k: v for k, v in settings.items() if _not_secret(provider, k)}},
        }
        auth = data["settings"].get("auth")
        if isinstance(auth, Mapping):
            data["settings"]["auth"] = {k: v for k, v in auth.items() if k not in provider_secret_fields(provider)}
        for key in ("description", "tls", "timeouts"):
            if key in document:
                data[key] = document[key]
        try:
            profile = cls.model_validate(data)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, provider))
            profile = None
        if problems:
            raise ProfileError(path=source, profile=label, problems=_unique(problems))
        assert profile is not None
        return profile

    # -- edits
    def with_settings(self, assignments: Mapping[str, Any]) -> Profile:
        """A validated copy with dotted keys set (``None`` removes a key).

        Keys are relative to the provider's table unless they start with a top-level
        key: ``cluster``, ``auth.method``, ``kusto.cluster``, ``tls.verify``,
        ``timeouts.read``, ``description``. Values may be strings (from a command
        line): pydantic converts ``"false"`` or ``"30"`` where the field needs it.
        Changing ``auth.method`` starts the auth table afresh. The store revision is
        kept, so saving the copy checks the file has not changed since loading.
        """
        doc = self.to_toml_dict()
        _apply(doc, self.provider, assignments, self.name)
        return self.from_toml_dict(doc, name=self.name).with_revision(self.revision)

    @classmethod
    def build(cls, name: str, provider: str, assignments: Mapping[str, Any]) -> Profile:
        """A new profile from dotted-key assignments (see ``with_settings``)."""
        if provider not in PROVIDERS:
            raise ProfileError(
                path=None, profile=name, problems=[FieldProblem("provider", f"must be one of {_quoted(PROVIDERS)}")]
            )
        doc: dict[str, Any] = {"provider": provider, provider: {}}
        _apply(doc, provider, assignments, name)
        return cls.from_toml_dict(doc, name=name)


# --------------------------------------------------------------------------- helpers
def _quoted(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _not_secret(provider: str, key: str) -> bool:
    return key not in provider_secret_fields(provider)


def _secrets_in_document(provider: str, settings: Mapping[str, Any], profile: str) -> Iterator[FieldProblem]:
    """A secret written into a profile file is refused, with the ways to provide it instead."""
    from workbench.profiles.secrets import env_var_name

    secret_names = provider_secret_fields(provider)
    auth = settings.get("auth")
    places = [(provider, settings)]
    if isinstance(auth, Mapping):
        places.append((f"{provider}.auth", auth))
    for prefix, table in places:
        for key in table:
            if key in secret_names:
                yield FieldProblem(
                    f"{prefix}.{key}",
                    "secrets are never stored in profile files; keep it in the OS keyring "
                    f"(workbench profile add {profile} ... --secret {key}) or set the environment "
                    f"variable {env_var_name(profile, key)}",
                )


def _problems_from(exc: ValidationError, provider: str | None) -> Iterator[FieldProblem]:
    for error in exc.errors(include_url=False):
        loc = _public_loc(error["loc"], provider)
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "field_rule":
            loc = [*loc, ctx["field"]]
            message = ctx["rule"]
        elif kind == "missing":
            message = "required"
        elif kind == "extra_forbidden":
            message = "unknown key"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            if loc and loc[-1] == "auth":
                methods = _AUTH_METHODS.get(provider or "", ())
                loc = [*loc, "method"]
                message = ("required" if kind == "union_tag_not_found" else "must be") + f" one of {_quoted(methods)}"
            else:
                loc = ["provider"]
                message = f"must be one of {_quoted(PROVIDERS)}"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = "must be a table"
        elif kind in ("bool_type", "bool_parsing"):
            message = "must be true or false"
        elif kind in ("float_type", "float_parsing", "int_type", "int_parsing"):
            message = "must be a number"
        elif kind == "string_type":
            message = "must be a string"
        else:
            message = error["msg"]
            for prefix in ("Value error, ", "Assertion failed, "):
                message = message.removeprefix(prefix)
            if message.startswith("Input should be"):
                message = "must be" + message[len("Input should be") :]
        yield FieldProblem(".".join(str(part) for part in loc), message)


def _public_loc(loc: tuple[Any, ...], provider: str | None) -> list[Any]:
    """Translate pydantic's location into the TOML document's: drop union tags and 'settings'."""
    parts = list(loc)
    out: list[Any] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if part == "settings" and i == 0:
            # ('settings', 'kusto', ...) -> ('kusto', ...); ('settings',) -> provider problem
            if i + 1 < len(parts) and parts[i + 1] in PROVIDERS:
                out.append(parts[i + 1])
                i += 2
                continue
            out.append(provider or "settings")
            i += 1
            continue
        out.append(part)
        if part == "auth" and i + 1 < len(parts) and parts[i + 1] in _all_methods():
            i += 2
            continue
        i += 1
    return out


def _all_methods() -> set[str]:
    return {method for _p, method in SECRET_FIELDS}


def _unique(problems: list[FieldProblem]) -> list[FieldProblem]:
    seen: list[FieldProblem] = []
    for problem in problems:
        if problem not in seen:
            seen.append(problem)
    return seen


def _apply(doc: dict[str, Any], provider: str, assignments: Mapping[str, Any], profile: str) -> None:
    """Set dotted keys in a profile document (the ``--set key=value`` of the command line)."""
    from workbench.profiles.secrets import env_var_name

    secret_names = provider_secret_fields(provider)
    for key, value in assignments.items():
        parts = [p for p in str(key).split(".")]
        if not all(parts):
            raise ProfileError(profile=profile, problems=[FieldProblem(str(key), "not a valid dotted key")])
        if parts[0] == "provider":
            raise ProfileError(
                profile=profile,
                problems=[FieldProblem("provider", "cannot be changed; create a new profile for another provider")],
            )
        if parts[0] == "name":
            raise ProfileError(profile=profile, problems=[FieldProblem("name", "rename the profile instead")])
        if parts[0] not in (*_TOP_LEVEL_KEYS, provider):
            parts = [provider, *parts]
        if parts[-1] in secret_names and parts[0] == provider:
            raise ProfileError(
                profile=profile,
                problems=[
                    FieldProblem(
                        ".".join(parts),
                        f"is a secret: store it with --secret {parts[-1]} (kept in the OS keyring) "
                        f"or set {env_var_name(profile, parts[-1])}",
                    )
                ],
            )
        if parts[1:] == ["auth", "method"] and parts[0] == provider:
            auth = doc[provider].get("auth")
            if not isinstance(auth, dict) or auth.get("method") != value:
                doc[provider]["auth"] = {}
        table = doc
        for part in parts[:-1]:
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                raise ProfileError(
                    profile=profile, problems=[FieldProblem(".".join(parts), f"'{part}' is not a table")]
                )
            table = child
        if value is None:
            table.pop(parts[-1], None)
        else:
            table[parts[-1]] = value
