"""Profiles from what users already have.

- OpenStack ``clouds.yaml`` (plus its ``secure.yaml``), found where openstacksdk looks
  or given explicitly: ``from_clouds_yaml``.
- OpenStack ``OS_*`` environment variables (an ``openrc`` file): ``from_environment``.
- The Yandex Cloud CLI's ``~/.config/yandex-cloud/config.yaml``: ``from_yandex_cli``.
- The embedded simulator's endpoints document (demo profiles): ``from_simulator``.

Each returns ``ImportCandidate`` objects: a validated ``Profile`` and the secrets that
came with it. ``candidate.save(store)`` stores the profile and puts the secrets in the
keyring (checking first that a secure one exists, so nothing is half-imported);
``candidate.use_for_session(secrets)`` keeps them in memory only. Entries that cannot
become a profile are reported in ``ImportReport.problems``, not raised, so one odd
cloud does not hide the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from workbench.profiles.model import Profile, ProfileError, display_path
from workbench.profiles.secrets import SecretStore
from workbench.profiles.store import ProfileStore

__all__ = [
    "ImportCandidate",
    "ImportReport",
    "clouds_yaml_search_path",
    "find_clouds_yaml",
    "from_clouds_yaml",
    "from_environment",
    "from_simulator",
    "from_yandex_cli",
    "profile_name_from",
    "yandex_cli_config_path",
]


@dataclass
class ImportCandidate:
    """A profile ready to store, and the secrets that came with it (never shown in repr)."""

    profile: Profile
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    origin: str = ""

    def __repr__(self) -> str:
        return f"ImportCandidate(profile={self.profile.name!r}, origin={self.origin!r}, secrets={sorted(self.secrets)})"

    def save(self, store: ProfileStore, *, replace: bool = False) -> Profile:
        """Store the profile, then its secrets in the keyring.

        Raises ``NoSecureKeyring`` (naming the env var per secret) before writing
        anything when there are secrets and no secure keyring.
        """
        name = self.profile.name
        for secret in self.secrets:
            store.secrets.keyring(name, secret)  # fail early, before any file is written
        expected = store.current_revision(name) if replace else None
        saved = store.save(self.profile, expected_revision=expected)
        for secret, value in self.secrets.items():
            store.secrets.set(name, secret, value)
        return saved

    def use_for_session(self, secrets: SecretStore) -> Profile:
        """Keep the secrets in memory only (demo profiles, one-off use); returns the profile."""
        for secret, value in self.secrets.items():
            secrets.remember(self.profile.name, secret, value)
        return self.profile


@dataclass
class ImportReport:
    """What an import found: candidates, and one message per entry it could not use."""

    candidates: list[ImportCandidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: Path | None = None

    def profiles(self) -> list[Profile]:
        return [c.profile for c in self.candidates]


def profile_name_from(text: str, prefix: str = "") -> str:
    """A valid profile name made from any label: lower-cased, other characters as '-'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", f"{prefix}{text}".lower()).strip("-_")
    return slug[:63].rstrip("-_") or "imported"


# =========================================================================== OpenStack
_CLOUD_SUFFIXES = (".yaml", ".yml", ".json")


def clouds_yaml_search_path() -> list[Path]:
    """The directories openstacksdk searches, in its order."""
    dirs = platformdirs.PlatformDirs("openstack", "OpenStack", multipath=True)
    real_home = os.environ.get("SNAP_REAL_HOME")
    unix_home = Path(real_home, ".config", "openstack") if real_home else Path("~/.config/openstack").expanduser()
    found: list[Path] = []
    for entry in (Path.cwd(), dirs.user_config_dir, unix_home, dirs.site_config_dir, "/etc/openstack"):
        for directory in str(entry).split(os.pathsep):
            path = Path(directory)
            if path not in found:
                found.append(path)
    return found


def _first_file(stem: str, override: str | None) -> Path | None:
    if override:
        return Path(override).expanduser()
    for directory in clouds_yaml_search_path():
        for suffix in _CLOUD_SUFFIXES:
            candidate = directory / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def find_clouds_yaml(environ: Mapping[str, str] | None = None) -> Path | None:
    """The clouds file openstacksdk would use: ``OS_CLIENT_CONFIG_FILE``, else the first found."""
    env = os.environ if environ is None else environ
    return _first_file("clouds", env.get("OS_CLIENT_CONFIG_FILE"))


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read the file: {exc.strerror}", path=path) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ProfileError(f"not valid YAML{where}", path=path) from None
    if not isinstance(data, dict):
        raise ProfileError("expected a mapping at the top level", path=path)
    return data


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def from_clouds_yaml(
    path: str | Path | None = None,
    *,
    cloud: str | None = None,
    provider: str = "glance",
    name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ImportReport:
    """Profiles from a ``clouds.yaml`` (``path``, else the one openstacksdk would find).

    Every cloud becomes a profile named after it, or only ``cloud`` (named ``name``
    if given). ``provider`` is ``glance`` or ``ims``. Passwords and application-
    credential secrets, from the file or its ``secure.yaml``, become keyring secrets.
    """
    if provider not in ("glance", "ims"):
        raise ValueError("provider must be 'glance' or 'ims' for an OpenStack cloud")
    env = os.environ if environ is None else environ
    if path is None:
        found = find_clouds_yaml(env)
        if found is None:
            looked = ", ".join(display_path(d) for d in clouds_yaml_search_path())
            raise ProfileError(f"no clouds.yaml found (looked in OS_CLIENT_CONFIG_FILE, {looked})")
        path = found
        secure = _first_file("secure", env.get("OS_CLIENT_SECURE_FILE"))
    else:
        path = Path(path).expanduser()
        siblings = [path.with_name(f"secure{s}") for s in _CLOUD_SUFFIXES]
        secure = next((s for s in siblings if s.is_file()), None)

    document = _read_yaml(path)
    clouds = document.get("clouds")
    if not isinstance(clouds, Mapping) or not clouds:
        raise ProfileError("has no 'clouds' mapping", path=path)
    if secure is not None and secure.is_file():
        secure_clouds = _read_yaml(secure).get("clouds") or {}
        if isinstance(secure_clouds, Mapping):
            clouds = _deep_merge(clouds, secure_clouds)

    report = ImportReport(source=path)
    if cloud is not None:
        if cloud not in clouds:
            raise ProfileError(f"no cloud named '{cloud}' (it has: {', '.join(map(str, clouds))})", path=path)
        selected = {cloud: clouds[cloud]}
    else:
        selected = dict(clouds)
    for cloud_name, config in selected.items():
        profile_name = name if (name and cloud is not None) else profile_name_from(str(cloud_name))
        origin = f"{display_path(path)}: cloud '{cloud_name}'"
        if not isinstance(config, Mapping):
            report.problems.append(f"{origin}: expected a mapping")
            continue
        try:
            report.candidates.append(_openstack_candidate(config, profile_name, provider, origin, path))
        except ProfileError as exc:
            report.problems.append(f"{origin}: {exc}")
    return report


_AUTH_TYPES = {
    "password": "password",
    "v3password": "password",
    "v3applicationcredential": "application_credential",
    "applicationcredential": "application_credential",
    "v3token": "static_token",
    "token": "static_token",
}


def _openstack_candidate(
    config: Mapping[str, Any], name: str, provider: str, origin: str, source: Path | None
) -> ImportCandidate:
    """One profile from a clouds.yaml cloud entry (the ``OS_*`` import builds the same shape)."""
    auth = config.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ProfileError("'auth' must be a mapping")
    auth_type = str(config.get("auth_type") or "").lower().replace("-", "").replace("_", "")
    if not auth_type:
        if auth.get("application_credential_id") or auth.get("application_credential_secret"):
            auth_type = "v3applicationcredential"
        elif auth.get("token") and not auth.get("password"):
            auth_type = "token"
        else:
            auth_type = "password"
    method = _AUTH_TYPES.get(auth_type)
    if method is None:
        supported = "password, v3applicationcredential, token"
        raise ProfileError(f"auth_type '{config.get('auth_type')}' is not supported (supported: {supported})")

    settings: dict[str, Any] = {}

    def put(key: str, *values: Any) -> None:
        for value in values:
            if value not in (None, ""):
                settings[key] = str(value)
                return

    put("auth_url", auth.get("auth_url"))
    put("project_name", auth.get("project_name"), auth.get("tenant_name"))
    put("project_id", auth.get("project_id"), auth.get("tenant_id"))
    put("user_domain_name", auth.get("user_domain_name"), auth.get("default_domain_name"))
    put("user_domain_id", auth.get("user_domain_id"), auth.get("default_domain_id"))
    put("project_domain_name", auth.get("project_domain_name"), auth.get("default_domain_name"))
    put("project_domain_id", auth.get("project_domain_id"), auth.get("default_domain_id"))
    regions = config.get("regions")
    first_region = None
    if isinstance(regions, list) and regions:  # openstacksdk's default is the first one
        first_region = regions[0].get("name") if isinstance(regions[0], Mapping) else regions[0]
    put("region", config.get("region_name"), first_region)
    interface = config.get("interface") or config.get("endpoint_type")
    if interface:
        settings["interface"] = str(interface).lower().removesuffix("url")
    put("image_endpoint", config.get("image_endpoint_override"))

    secrets: dict[str, str] = {}
    if method == "password":
        settings["auth"] = {"method": "password"}
        if auth.get("username") not in (None, ""):
            settings["auth"]["username"] = str(auth["username"])
        if auth.get("password"):
            secrets["password"] = str(auth["password"])
    elif method == "application_credential":
        if auth.get("application_credential_name") and not auth.get("application_credential_id"):
            raise ProfileError("application credentials given by name are not supported; use application_credential_id")
        settings["auth"] = {"method": "application_credential"}
        if auth.get("application_credential_id"):
            settings["auth"]["application_credential_id"] = str(auth["application_credential_id"])
        if auth.get("application_credential_secret"):
            secrets["application_credential_secret"] = str(auth["application_credential_secret"])
    else:
        settings["auth"] = {"method": "static_token"}
        if auth.get("token"):
            secrets["token"] = str(auth["token"])

    document: dict[str, Any] = {"provider": provider, provider: settings}
    tls: dict[str, Any] = {}
    verify = config.get("verify")
    if config.get("insecure") in (True, "true", "True", "1") or verify in (False, "false", "False", "0"):
        tls["verify"] = False
    elif config.get("cacert"):
        tls["ca_bundle"] = str(config["cacert"])
    if tls:
        document["tls"] = tls
    try:
        profile = Profile.from_toml_dict(document, name=name, source=source)
    except ProfileError as exc:
        hint = ""
        if config.get("profile") and "auth_url" not in settings:
            hint = f" (it uses the vendor profile '{config['profile']}': add its auth_url to the cloud)"
        raise ProfileError("; ".join(f"{p.field}: {p.message}" for p in exc.problems) + hint) from None
    return ImportCandidate(profile=profile, secrets=secrets, origin=origin)


def from_environment(
    environ: Mapping[str, str] | None = None,
    *,
    provider: str = "glance",
    name: str | None = None,
) -> ImportReport:
    """A profile from ``OS_*`` variables (what an OpenStack ``openrc`` file sets).

    With ``OS_CLOUD`` set, the named cloud is read from clouds.yaml instead, as the
    OpenStack clients do.
    """
    env = os.environ if environ is None else environ
    if env.get("OS_CLOUD"):
        return from_clouds_yaml(
            None, cloud=env["OS_CLOUD"], provider=provider, name=name or profile_name_from(env["OS_CLOUD"]), environ=env
        )
    if not env.get("OS_AUTH_URL"):
        raise ProfileError("neither OS_CLOUD nor OS_AUTH_URL is set: no OpenStack credentials in the environment")

    def get(*names: str) -> str | None:
        for var in names:
            if env.get(var):
                return env[var]
        return None

    auth = {
        "auth_url": get("OS_AUTH_URL"),
        "username": get("OS_USERNAME"),
        "password": get("OS_PASSWORD"),
        "project_name": get("OS_PROJECT_NAME", "OS_TENANT_NAME"),
        "project_id": get("OS_PROJECT_ID", "OS_TENANT_ID"),
        "user_domain_name": get("OS_USER_DOMAIN_NAME"),
        "user_domain_id": get("OS_USER_DOMAIN_ID"),
        "project_domain_name": get("OS_PROJECT_DOMAIN_NAME"),
        "project_domain_id": get("OS_PROJECT_DOMAIN_ID"),
        "default_domain_name": get("OS_DEFAULT_DOMAIN_NAME"),
        "default_domain_id": get("OS_DEFAULT_DOMAIN_ID", "OS_DEFAULT_DOMAIN"),
        "application_credential_id": get("OS_APPLICATION_CREDENTIAL_ID"),
        "application_credential_secret": get("OS_APPLICATION_CREDENTIAL_SECRET"),
        "application_credential_name": get("OS_APPLICATION_CREDENTIAL_NAME"),
        "token": get("OS_TOKEN"),
    }
    config: dict[str, Any] = {
        "auth": {k: v for k, v in auth.items() if v is not None},
        "auth_type": get("OS_AUTH_TYPE"),
        "region_name": get("OS_REGION_NAME"),
        "interface": get("OS_INTERFACE", "OS_ENDPOINT_TYPE"),
        "image_endpoint_override": get("OS_IMAGE_ENDPOINT_OVERRIDE", "OS_IMAGE_URL"),
        "cacert": get("OS_CACERT"),
        "insecure": get("OS_INSECURE"),
    }
    label = auth["project_name"] or auth["username"] or "openstack"
    profile_name = name or profile_name_from(label)
    report = ImportReport()
    try:
        report.candidates.append(
            _openstack_candidate(config, profile_name, provider, "OS_* environment variables", None)
        )
    except ProfileError as exc:
        report.problems.append(f"OS_* environment variables: {exc}")
    return report


# =========================================================================== Yandex CLI
def yandex_cli_config_path() -> Path:
    """Where ``yc`` keeps its profiles."""
    return Path("~/.config/yandex-cloud/config.yaml").expanduser()


_YANDEX_DEFAULT_API = "api.cloud.yandex.net"


def _yandex_endpoints(endpoint: str) -> dict[str, str]:
    """REST endpoints from yc's gRPC ``endpoint`` (``api.cloud.yandex.net:443`` style)."""
    host = re.sub(r"^[a-z]+://", "", endpoint.strip()).split("/")[0].rsplit(":", 1)[0]
    if not host or host == _YANDEX_DEFAULT_API:
        return {}
    return {
        "compute_endpoint": f"https://compute.{host}",
        "operation_endpoint": f"https://operation.{host}",
        "iam_endpoint": f"https://iam.{host}",
    }


def _pem_only(private_key: str) -> str:
    """yc's keys start with a 'PLEASE DO NOT REMOVE THIS LINE!' note before the PEM: keep the PEM."""
    start = private_key.find("-----BEGIN")
    return private_key[start:] if start > 0 else private_key


def from_yandex_cli(
    path: str | Path | None = None, *, profile: str | None = None, name: str | None = None
) -> ImportReport:
    """Profiles from the Yandex CLI config: every yc profile, or only ``profile``.

    A yc profile ``default`` becomes workbench profile ``yandex-default`` (or ``name``).
    Its OAuth ``token`` or ``service-account-key`` becomes a keyring secret.
    """
    path = Path(path).expanduser() if path is not None else yandex_cli_config_path()
    if not path.is_file():
        raise ProfileError("no Yandex CLI config here (run `yc init` first, or give its path)", path=path)
    document = _read_yaml(path)
    profiles = document.get("profiles")
    if not isinstance(profiles, Mapping) or not profiles:
        raise ProfileError("has no 'profiles' mapping", path=path)
    if profile is not None:
        if profile not in profiles:
            raise ProfileError(f"no yc profile named '{profile}' (it has: {', '.join(map(str, profiles))})", path=path)
        profiles = {profile: profiles[profile]}

    report = ImportReport(source=path)
    for yc_name, config in profiles.items():
        origin = f"{display_path(path)}: yc profile '{yc_name}'"
        profile_name = name if (name and profile is not None) else profile_name_from(str(yc_name), "yandex-")
        if not isinstance(config, Mapping):
            report.problems.append(f"{origin}: expected a mapping")
            continue
        try:
            report.candidates.append(_yandex_candidate(config, profile_name, origin, path))
        except ProfileError as exc:
            report.problems.append(f"{origin}: {exc}")
    return report


def _yandex_candidate(config: Mapping[str, Any], name: str, origin: str, source: Path) -> ImportCandidate:
    settings: dict[str, Any] = {}
    if config.get("folder-id"):
        settings["folder_id"] = str(config["folder-id"])
    if config.get("endpoint"):
        settings.update(_yandex_endpoints(str(config["endpoint"])))
    secrets: dict[str, str] = {}
    key = config.get("service-account-key")
    if isinstance(key, Mapping):
        settings["auth"] = {"method": "service_account_key"}
        for source_key, target in (("service_account_id", "service_account_id"), ("id", "key_id")):
            if key.get(source_key):
                settings["auth"][target] = str(key[source_key])
        if not key.get("private_key"):
            raise ProfileError("service-account-key has no private_key")
        secrets["private_key"] = _pem_only(str(key["private_key"]))
    elif config.get("token"):
        token = str(config["token"])
        if token.startswith("t1."):  # an IAM token, not an OAuth one
            settings["auth"] = {"method": "static_token"}
            secrets["iam_token"] = token
        else:
            settings["auth"] = {"method": "oauth"}
            secrets["oauth_token"] = token
    elif config.get("federation-id"):
        raise ProfileError("federated (SSO) yc profiles are not supported: use an OAuth token or a service-account key")
    elif config.get("instance-service-account"):
        raise ProfileError("instance service accounts are not supported: use an OAuth token or a service-account key")
    else:
        raise ProfileError("has no credentials (no token and no service-account-key)")
    try:
        profile = Profile.from_toml_dict({"provider": "yandex", "yandex": settings}, name=name, source=source)
    except ProfileError as exc:
        raise ProfileError("; ".join(f"{p.field}: {p.message}" for p in exc.problems)) from None
    return ImportCandidate(profile=profile, secrets=secrets, origin=origin)


# =========================================================================== simulator
def from_simulator(endpoints: Mapping[str, Any], *, prefix: str = "demo-") -> list[ImportCandidate]:
    """Demo profiles for every provider of a running simulator (``workbench sim``'s JSON).

    Meant for ``workbench --demo``: ``use_for_session`` them, so no keyring is needed.
    """
    entra = endpoints["entra_credentials"]
    kusto_ids = endpoints["kusto_ids"]
    keystone = endpoints["keystone_credentials"]
    yandex = endpoints["yandex_ids"]
    yandex_credentials = endpoints["yandex_credentials"]
    azure_auth = {
        "method": "client_secret",
        "tenant_id": entra["tenant_id"],
        "client_id": entra["client_id"],
        "authority_host": endpoints["entra"],
    }
    keystone_ids = {
        "auth_url": endpoints["keystone"],
        "project_name": keystone["project_name"],
        "project_id": keystone["project_id"],
        "user_domain_name": keystone["user_domain_name"],
        "project_domain_name": keystone["project_domain_name"],
        "region": keystone["region_name"],
    }
    documents: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            "kusto",
            {
                "subscription_id": kusto_ids["subscription_id"],
                "resource_group": kusto_ids["resource_group"],
                "cluster": kusto_ids["cluster"],
                "arm_endpoint": endpoints["kusto"],
                "auth": azure_auth,
            },
            {"client_secret": entra["client_secret"]},
        ),
        (
            "glance",
            {
                **keystone_ids,
                "image_endpoint": endpoints["glance"],
                "auth": {"method": "password", "username": keystone["username"]},
            },
            {"password": keystone["password"]},
        ),
        (
            "ims",
            {
                **keystone_ids,
                "image_endpoint": endpoints["ims"],
                "auth": {
                    "method": "application_credential",
                    "application_credential_id": keystone["application_credential_id"],
                },
            },
            {"application_credential_secret": keystone["application_credential_secret"]},
        ),
        (
            "batch",
            {
                "account_url": endpoints["batch"],
                "account_name": endpoints["batch_account"]["name"],
                "auth": {"method": "shared_key"},
            },
            {"account_key": endpoints["batch_account"]["key"]},
        ),
        (
            "yandex",
            {
                "folder_id": yandex["folder_id"],
                "compute_endpoint": endpoints["yandex_compute"],
                "operation_endpoint": endpoints["yandex_operation"],
                "iam_endpoint": endpoints["yandex_iam"],
                "auth": {"method": "oauth"},
            },
            {"oauth_token": yandex_credentials["oauth_token"]},
        ),
    ]
    candidates = []
    for provider, settings, secrets in documents:
        profile = Profile.from_toml_dict(
            {"provider": provider, "description": "the embedded simulator (demo)", provider: settings},
            name=f"{prefix}{provider}",
        )
        candidates.append(ImportCandidate(profile=profile, secrets=secrets, origin="simulator"))
    return candidates
