"""``workbench profile list|show|add|edit|remove|test|import``: the saved cloud accounts.

Secrets are never taken from the command line (it ends up in shell history and
``ps``): ``--secret FIELD`` asks for the value on the terminal without echo, or
reads it from stdin when stdin is not a terminal (one line per field; a single
field takes all of stdin, so a PEM key can be piped in).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import Column, Output
from workbench.cli.session import EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.profiles import Profile, ProfileStore, SecretStore

__all__ = ["add_parser", "explain_failure", "parse_assignments"]

PROVIDER_CHOICES = ("kusto", "glance", "ims", "batch", "yandex")


# =========================================================================== parser
def add_parser(subparsers: Any) -> None:
    profile = subparsers.add_parser(
        "profile",
        help="manage saved profiles (cloud accounts)",
        description="Saved profiles: one TOML file per cloud account in the config directory "
        "($WORKBENCH_HOME/profiles overrides it); their secrets live in the OS keyring.",
    )
    commands = profile.add_subparsers(dest="profile_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="list the saved profiles")
    _json(listing)
    listing.set_defaults(run=run_list)

    show = commands.add_parser("show", help="show one profile (settings, where its secrets come from)")
    show.add_argument("name", metavar="NAME")
    _json(show)
    show.set_defaults(run=run_show)

    add = commands.add_parser(
        "add",
        help="create a profile",
        description="Create a profile from --set assignments (dotted keys: cluster=..., auth.method=..., "
        "tls.verify=false). See profiles/*.toml for every provider's keys.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--provider", required=True, choices=PROVIDER_CHOICES)
    _edit_options(add)
    _json(add)
    add.set_defaults(run=run_add)

    edit = commands.add_parser("edit", help="change a profile's settings or secrets, or rename it")
    edit.add_argument("name", metavar="NAME")
    _edit_options(edit)
    edit.add_argument("--unset", action="append", default=[], metavar="KEY",
                      help="remove a setting (back to its default); repeatable")
    edit.add_argument("--rename", metavar="NEW_NAME", help="rename the profile (its secrets move along)")
    _json(edit)
    edit.set_defaults(run=run_edit)

    remove = commands.add_parser("remove", help="remove a profile and its secrets")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _json(remove)
    remove.set_defaults(run=run_remove)

    test = commands.add_parser("test", help="authenticate and list one image, and say what failed")
    test.add_argument("name", metavar="NAME")
    _json(test)
    test.set_defaults(run=run_test)

    imp = commands.add_parser(
        "import",
        help="import profiles: a profile TOML, an OpenStack clouds.yaml or OS_* variables, a Yandex CLI config",
        description="Import profiles. FILE is a profile TOML (profiles/*.toml), an OpenStack clouds.yaml, or "
        "the Yandex CLI's config.yaml; --format env reads OpenStack OS_* variables instead (no FILE). "
        "Imported secrets go to the OS keyring.",
    )
    imp.add_argument("file", metavar="FILE", nargs="?", help="the file to import")
    imp.add_argument("--format", default="auto", choices=("auto", "toml", "clouds-yaml", "yandex-cli", "env"),
                     help="what FILE is (default: guessed from its content)")
    imp.add_argument("--name", help="the profile's name (for one profile, or with --cloud/--yc-profile)")
    imp.add_argument("--cloud", help="clouds.yaml: import only this cloud")
    imp.add_argument("--yc-profile", help="Yandex CLI config: import only this yc profile")
    imp.add_argument("--provider", choices=("glance", "ims"), default="glance",
                     help="OpenStack imports: glance or ims (default glance)")
    imp.add_argument("--replace", action="store_true", help="overwrite profiles of the same name")
    _json(imp)
    imp.set_defaults(run=run_import)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def _edit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="assignments",
                        help="set a setting (e.g. cluster=prod, auth.method=client_secret, tls.verify=false); "
                             "repeatable")
    parser.add_argument("--secret", action="append", default=[], metavar="FIELD", dest="secret_fields",
                        help="store this secret in the OS keyring: asked for without echo, or read from stdin "
                             "when it is not a terminal; repeatable")
    parser.add_argument("--description", help="a line describing the profile")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["a=1", "b.c=x=y"]`` -> ``{"a": "1", "b.c": "x=y"}``; a missing ``=`` is a usage error."""
    assignments: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"--set {item!r}: expected KEY=VALUE, such as cluster=prod or tls.verify=false",
                               status=EXIT_USAGE)
        assignments[key] = value
    return assignments


# =========================================================================== helpers
def _store() -> tuple[ProfileStore, SecretStore]:
    from workbench.profiles import ProfileStore, SecretStore

    secrets = SecretStore()
    return ProfileStore(secrets=secrets), secrets


def _where(profile: Profile) -> str:
    """The account in a few words: what a person recognises it by."""
    s: Any = profile.settings
    if profile.provider == "kusto":
        return f"cluster {s.cluster} (resource group {s.resource_group})"
    if profile.provider in ("glance", "ims"):
        project = s.project_name or s.project_id
        endpoint = s.image_endpoint or s.auth_url or ""
        return f"{endpoint}" + (f" (project {project})" if project else "")
    if profile.provider == "batch":
        return s.account_url
    return f"folder {s.folder_id}"


def _secret_sources(profile: Profile, secrets: SecretStore) -> dict[str, str]:
    return {field: secrets.status(profile.name, field).value for field in profile.secret_fields}


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        pairs: list[tuple[str, Any]] = []
        for key, item in value.items():
            pairs += _flatten(f"{prefix}.{key}" if prefix else key, item)
        return pairs
    return [(prefix, value)]


def _describe(profile: Profile, store: ProfileStore, secrets: SecretStore) -> dict[str, Any]:
    from workbench.profiles.model import display_path

    return {
        "name": profile.name,
        "provider": profile.provider,
        "auth_method": profile.auth_method,
        "description": profile.description,
        "account": _where(profile),
        "path": display_path(store.path_for(profile.name)),
        "settings": profile.to_toml_dict(),
        "secrets": _secret_sources(profile, secrets),
        "warnings": profile.warnings,
    }


def _read_secret_values(profile: Profile, fields: list[str]) -> dict[str, str]:
    """The values for ``--secret`` fields: prompted on a terminal, else read from stdin."""
    unknown = [f for f in fields if f not in profile.secret_fields]
    if unknown:
        needs = ", ".join(profile.secret_fields) or "none"
        raise CommandError(
            f"profile '{profile.name}' (auth.method = {profile.auth_method}) has no secret "
            f"{', '.join(repr(f) for f in unknown)}; its secrets: {needs}",
            status=EXIT_USAGE,
        )
    fields = list(dict.fromkeys(fields))
    values: dict[str, str] = {}
    if sys.stdin.isatty():
        import getpass

        for field in fields:
            value = getpass.getpass(f"secret '{field}' of profile '{profile.name}': ")
            if not value:
                raise CommandError(f"secret '{field}': nothing was entered; the profile was not changed")
            values[field] = value
        return values
    if len(fields) == 1:
        text = sys.stdin.read()
        values[fields[0]] = text[:-1] if text.endswith("\n") else text
    else:
        for field in fields:
            line = sys.stdin.readline()
            values[field] = line[:-1] if line.endswith("\n") else line
    for field, value in values.items():
        if not value.strip():
            raise CommandError(f"secret '{field}': stdin gave an empty value; the profile was not changed")
    return values


def _store_secrets(profile: Profile, secrets: SecretStore, values: dict[str, str], output: Output) -> None:
    from workbench.profiles.secrets import env_var_name

    for field, value in values.items():
        secrets.set(profile.name, field, value)
        output.note(f"stored secret '{field}' of profile '{profile.name}' in the OS keyring")
        if secrets.env_value(profile.name, field) is not None:
            output.warn(f"{env_var_name(profile.name, field)} is set and overrides the keyring value")


def _note_missing_secrets(profile: Profile, secrets: SecretStore, output: Output) -> None:
    from workbench.profiles.secrets import SecretSource, env_var_name

    for field in profile.secret_fields:
        if secrets.status(profile.name, field) in (SecretSource.MISSING, SecretSource.UNAVAILABLE):
            output.note(
                f"profile '{profile.name}' needs its secret '{field}': store it with "
                f"`workbench profile edit {profile.name} --secret {field}` or set {env_var_name(profile.name, field)}"
            )


def _print_warnings(profile: Profile, output: Output) -> None:
    for warning in profile.warnings:
        output.warn(warning)


# =========================================================================== list / show
def run_list(args: argparse.Namespace, output: Output) -> int:
    store, secrets = _store_for(args)
    listing = store.list()
    for error in listing.errors:
        output.warn(str(error))
    rows = [_describe(p, store, secrets) for p in listing.profiles]
    if output.json:
        output.data(rows)
        return EXIT_OK
    for profile in listing.profiles:
        _print_warnings(profile, output)
    if not rows:
        output.note(f"no profiles in {store.directory}: add one with `workbench profile add NAME --provider P "
                    "--set ...`, or `workbench profile import FILE`")
        return EXIT_OK
    table = output.table([
        Column("name", "NAME", 32), Column("provider", "PROVIDER", 8), Column("auth_method", "AUTH", 22),
        Column("account", "ACCOUNT", 60), Column("secrets", "SECRETS", 48), Column("description", "DESCRIPTION", 60),
    ])
    for row in rows:
        row = dict(row, secrets=", ".join(f"{k}: {v}" for k, v in row["secrets"].items()) or "-")
        table.add(row)
    table.close()
    return EXIT_OK


def _store_for(args: argparse.Namespace) -> tuple[ProfileStore, SecretStore]:
    if getattr(args, "demo", False):
        raise CommandError("--demo profiles exist only while a demo runs; profile commands work on your saved "
                           "profiles (run them without --demo)", status=EXIT_USAGE)
    return _store()


def run_show(args: argparse.Namespace, output: Output) -> int:
    store, secrets = _store_for(args)
    profile = store.load(args.name)
    info = _describe(profile, store, secrets)
    _print_warnings(profile, output)
    if output.json:
        output.data(info)
        return EXIT_OK
    pairs: list[tuple[str, Any]] = [
        ("name", profile.name),
        ("provider", profile.provider),
        ("description", profile.description),
        ("file", info["path"]),
    ]
    settings = dict(info["settings"])
    settings.pop("provider", None)
    settings.pop("description", None)
    pairs += _flatten("", settings)
    for field, source in info["secrets"].items():
        pairs.append((f"secret {field}", _SOURCE_WORDS.get(source, source)))
    output.fields(pairs)
    return EXIT_OK


_SOURCE_WORDS = {
    "env": "from the environment variable",
    "session": "kept in memory for this session",
    "keyring": "in the OS keyring",
    "missing": "NOT SET",
    "unavailable": "unknown: no secure keyring here (set the environment variable)",
}


# =========================================================================== add / edit / remove
def run_add(args: argparse.Namespace, output: Output) -> int:
    from workbench.profiles import Profile

    store, secrets = _store_for(args)
    assignments: dict[str, Any] = parse_assignments(args.assignments)
    if args.description is not None:
        assignments["description"] = args.description
    profile = Profile.build(args.name, args.provider, assignments)
    if store.exists(profile.name):
        from workbench.profiles import ProfileConflict

        raise ProfileConflict(
            "a profile of this name already exists; change it with `workbench profile edit` or remove it first",
            path=store.path_for(profile.name), profile=profile.name,
        )
    for field in args.secret_fields:
        if field in profile.secret_fields:
            secrets.keyring(profile.name, field)  # no secure keyring: fail before anything is written
    values = _read_secret_values(profile, args.secret_fields)
    saved = store.save(profile)
    _store_secrets(saved, secrets, values, output)
    _print_warnings(saved, output)
    if output.json:
        output.data(_describe(saved, store, secrets))
    else:
        output.line(f"saved profile '{saved.name}' ({saved.provider}) in {_describe(saved, store, secrets)['path']}")
        _note_missing_secrets(saved, secrets, output)
    return EXIT_OK


def run_edit(args: argparse.Namespace, output: Output) -> int:
    store, secrets = _store_for(args)
    assignments: dict[str, Any] = parse_assignments(args.assignments)
    for key in args.unset:
        if not key.strip():
            raise CommandError("--unset: expected a KEY", status=EXIT_USAGE)
        assignments[key.strip()] = None
    if args.description is not None:
        assignments["description"] = args.description
    if not (assignments or args.secret_fields or args.rename):
        raise CommandError("nothing to change: give --set KEY=VALUE, --unset KEY, --secret FIELD, --description "
                           "or --rename NEW_NAME", status=EXIT_USAGE)
    profile = store.load(args.name)
    edited = profile.with_settings(assignments) if assignments else profile
    for field in args.secret_fields:
        if field in edited.secret_fields:
            secrets.keyring(edited.name, field)
    values = _read_secret_values(edited, args.secret_fields)
    if assignments:
        edited = store.save(edited)
    _store_secrets(edited, secrets, values, output)
    changed = []
    if assignments:
        changed.append("settings")
    if values:
        changed.append("secrets")
    if args.rename:
        edited = store.rename(edited.name, args.rename)
        changed.append(f"renamed to '{edited.name}'")
    _print_warnings(edited, output)
    if output.json:
        output.data(_describe(edited, store, secrets))
    else:
        output.line(f"updated profile '{args.name}': {', '.join(changed)}")
        _note_missing_secrets(edited, secrets, output)
    return EXIT_OK


def run_remove(args: argparse.Namespace, output: Output) -> int:
    store, _secrets = _store_for(args)
    profile_path = store.path_for(args.name)
    if not store.exists(args.name):
        from workbench.profiles import ProfileNotFound

        raise ProfileNotFound("no such profile", path=profile_path, profile=args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(f"removing profile '{args.name}' deletes its secrets from the keyring too; "
                               "add --yes to confirm (stdin is not a terminal to ask on)", status=EXIT_USAGE)
        answer = input(f"Remove profile '{args.name}' and its secrets? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            output.note("not removed")
            return EXIT_OK
    store.remove(args.name)
    if output.json:
        output.data({"removed": args.name})
    else:
        output.line(f"removed profile '{args.name}' and its secrets")
    return EXIT_OK


# =========================================================================== import
def _guess_format(path: Path) -> str:
    if path.suffix.lower() == ".toml":
        return "toml"
    import yaml

    from workbench.profiles import ProfileError

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read the file: {exc.strerror}", path=path) from None
    except yaml.YAMLError:
        raise ProfileError("not TOML, and not valid YAML either: use --format", path=path) from None
    if isinstance(document, dict) and "clouds" in document:
        return "clouds-yaml"
    if isinstance(document, dict) and "profiles" in document:
        return "yandex-cli"
    raise ProfileError("cannot tell what this file is (no 'clouds' or 'profiles' key): use --format", path=path)


def run_import(args: argparse.Namespace, output: Output) -> int:
    from workbench.profiles import importers

    store, secrets = _store_for(args)
    fmt = args.format
    if fmt != "env" and not args.file:
        raise CommandError("FILE is required (or --format env to read OpenStack OS_* variables)", status=EXIT_USAGE)
    path = Path(args.file).expanduser() if args.file else None
    if fmt == "auto":
        assert path is not None
        fmt = _guess_format(path)

    imported: list[dict[str, Any]] = []
    problems: list[str] = []
    if fmt == "toml":
        assert path is not None
        profile = store.import_file(path, name=args.name, replace=args.replace)
        imported.append({"name": profile.name, "provider": profile.provider, "origin": str(path), "secrets": []})
        saved = [profile]
    else:
        if fmt == "clouds-yaml":
            report = importers.from_clouds_yaml(path, cloud=args.cloud, provider=args.provider, name=args.name)
        elif fmt == "yandex-cli":
            report = importers.from_yandex_cli(path, profile=args.yc_profile, name=args.name)
        else:
            report = importers.from_environment(provider=args.provider, name=args.name)
        problems = list(report.problems)
        if args.name and len(report.candidates) > 1:
            raise CommandError("--name needs one profile: choose it with --cloud (clouds.yaml) or --yc-profile",
                               status=EXIT_USAGE)
        saved = []
        for candidate in report.candidates:
            saved.append(candidate.save(store, replace=args.replace))
            imported.append({"name": candidate.profile.name, "provider": candidate.profile.provider,
                             "origin": candidate.origin, "secrets": sorted(candidate.secrets)})
    for problem in problems:
        output.warn(f"not imported: {problem}")
    for profile in saved:
        _print_warnings(profile, output)
    if not imported:
        raise CommandError("nothing was imported" + (f": {problems[0]}" if len(problems) == 1 else ""))
    if output.json:
        output.data({"imported": imported, "problems": problems})
    else:
        table = output.table([Column("name", "NAME", 40), Column("provider", "PROVIDER", 8),
                              Column("secrets", "SECRETS (in the keyring)", 40), Column("origin", "FROM", 80)])
        for row in imported:
            table.add(dict(row, secrets=", ".join(row["secrets"]) or "-"))
        table.close()
        for profile in saved:
            _note_missing_secrets(profile, secrets, output)
    return EXIT_OK


# =========================================================================== test
def run_test(args: argparse.Namespace, output: Output) -> int:
    from workbench.cli.session import run_in_workspace

    async def body(workspace: Workspace) -> int:
        profile = workspace.profiles.load(args.name)
        started = time.monotonic()
        try:
            driver = workspace.driver(profile)
            images = []
            async for image in driver.list_images(limit=1):
                images.append(image)
        except Exception as exc:  # noqa: BLE001 - explained in words below
            from workbench.cli.session import is_expected

            if not is_expected(exc):
                raise
            raise CommandError(explain_failure(profile, exc, workspace.secrets), code=type(exc).__name__) from exc
        elapsed = time.monotonic() - started
        result = {
            "profile": profile.name,
            "provider": profile.provider,
            "ok": True,
            "seconds": round(elapsed, 3),
            "image": images[0].as_dict() if images else None,
        }
        if output.json:
            output.data(result)
        elif images:
            output.line(f"profile '{profile.name}' works: authenticated and listed an image "
                        f"({images[0].name or images[0].id}) in {elapsed:.2f} s")
        else:
            output.line(f"profile '{profile.name}' works: authenticated in {elapsed:.2f} s (the account has "
                        "no images yet)")
        return EXIT_OK

    return run_in_workspace(args, output, body)


_IDS = {
    "kusto": "subscription_id, resource_group and cluster",
    "glance": "image_endpoint, region, interface and the project",
    "ims": "image_endpoint, region, interface and the project",
    "batch": "account_url and account_name",
    "yandex": "folder_id",
}
_ENDPOINTS = {
    "kusto": "arm_endpoint (and auth.authority_host)",
    "glance": "auth_url / image_endpoint",
    "ims": "auth_url / image_endpoint",
    "batch": "account_url (and auth.authority_host)",
    "yandex": "compute_endpoint, operation_endpoint and iam_endpoint",
}
_SECRET_WORDS = {
    "client_secret": "the client secret",
    "password": "the password",
    "application_credential_secret": "the application-credential secret",
    "token": "the token",
    "account_key": "the account key",
    "oauth_token": "the OAuth token",
    "private_key": "the service account's private key",
    "iam_token": "the IAM token",
}
_AAD_HINTS = {
    "AADSTS7000215": "the client secret was rejected",
    "AADSTS7000222": "the client secret has expired",
    "AADSTS700016": "the application (auth.client_id) was not found in the tenant",
    "AADSTS90002": "the tenant (auth.tenant_id) was not found",
    "AADSTS900023": "the tenant (auth.tenant_id) is not a valid tenant id or domain",
}


def _secret_fix(profile: Profile, secrets: SecretStore | None) -> str:
    from workbench.profiles.secrets import SecretSource, env_var_name

    fields = profile.secret_fields
    if not fields:
        return "check the profile's auth settings (`workbench profile show " + profile.name + "`)"
    field = fields[0]
    if secrets is not None and secrets.status(profile.name, field) is SecretSource.ENV:
        return f"it comes from the environment variable {env_var_name(profile.name, field)}: update that"
    return f"update it with `workbench profile edit {profile.name} --secret {field}`"


def explain_failure(profile: Profile, exc: BaseException, secrets: SecretStore | None = None) -> str:
    """What went wrong with ``profile``, in words a user can act on."""
    import re

    from workbench.core.errors import ApiError, AuthError, InvalidResponse, TransportError, WorkbenchError
    from workbench.profiles import ProfileError
    from workbench.profiles.secrets import SecretError

    name = profile.name
    if isinstance(exc, (SecretError, ProfileError)):
        return str(exc)
    if isinstance(exc, ValueError) and not isinstance(exc, WorkbenchError):
        # A driver refusing a setting or secret as given, naming the field first.
        text = str(exc)
        field = text.split(":", 1)[0].strip()
        if field in profile.secret_fields:
            return f"{text} — {_secret_fix(profile, secrets)}"
        return f"{text} — check the profile (`workbench profile show {name}`)"
    if isinstance(exc, AuthError):
        secret = profile.secret_fields[0] if profile.secret_fields else ""
        what = _SECRET_WORDS.get(secret, "the credentials")
        text = f"{exc.code} {exc.message}"
        aad = re.search(r"AADSTS\d+", text)
        if aad:
            hint = _AAD_HINTS.get(aad.group(0), f"Entra ID refused the sign-in: {exc.message.splitlines()[0]}")
            fix = _secret_fix(profile, secrets) if "secret" in hint else \
                f"check it with `workbench profile show {name}` and fix it with `workbench profile edit {name} --set ...`"
            return f"authentication failed: {hint} ({aad.group(0)}) — {fix}"
        if exc.status == 403 and "authoriz" in exc.code.lower() and "authenticat" not in exc.code.lower():
            return (f"authenticated, but not allowed: {exc.provider} answered 403 {exc.code}: {exc.message} — "
                    "grant the identity access to this account (a role assignment), or use another identity")
        detail = f"{exc.code}: {exc.message}" if exc.code else exc.message
        # exc.provider names the service that refused: the token endpoint (keystone, entra) or the API.
        return (f"authentication failed: {what} was rejected ({exc.provider} answered HTTP {exc.status} "
                f"{detail}) — {_secret_fix(profile, secrets)}")
    if isinstance(exc, ApiError):
        ids = _IDS.get(profile.provider, "the profile's ids")
        if exc.status == 404:
            return (f"not found: {exc.provider} answered 404 {exc.code}: {exc.message} — check the profile's "
                    f"{ids} (`workbench profile show {name}`)")
        if exc.status == 403:
            return (f"not allowed: {exc.provider} answered 403 {exc.code}: {exc.message} — the identity needs "
                    "access to this account")
        if exc.status in (429, 502, 503, 504):
            return f"the service is busy or unavailable (HTTP {exc.status} {exc.code}: {exc.message}) — try again later"
        return f"the request failed: {exc}"
    if isinstance(exc, TransportError):
        message = exc.message
        if "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message.lower():
            return (f"TLS verification failed: {message} — if the server uses a private CA, trust it with "
                    f"`workbench profile edit {name} --set tls.ca_bundle=/path/to/ca.pem`")
        if exc.timeout:
            return (f"timed out talking to {profile.provider}: {message} — check the network, or raise "
                    f"timeouts.connect/read (`workbench profile edit {name} --set timeouts.read=120`)")
        return (f"could not reach {profile.provider}: {message} — check the profile's "
                f"{_ENDPOINTS.get(profile.provider, 'endpoints')} and the network")
    if isinstance(exc, InvalidResponse):
        return (f"the answer could not be used ({exc.message}) — is the profile's "
                f"{_ENDPOINTS.get(profile.provider, 'endpoint')} really a {profile.provider} endpoint?")
    return str(exc)
