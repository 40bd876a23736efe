"""The profile model: round trips, defaults, validation messages, warnings, edits."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import pytest
import tomli_w

from workbench.profiles import (
    PROVIDERS,
    SECRET_FIELDS,
    BatchClientSecretAuth,
    Profile,
    ProfileError,
    check_profile_name,
    provider_secret_fields,
)
from workbench.profiles import model

from .samples import CASES, EXTRAS, GUID

PROD = Path.home() / ".config" / "workbench" / "profiles" / "prod.toml"


def kusto_doc(**settings) -> dict:
    base = {
        "subscription_id": GUID,
        "resource_group": "rg",
        "cluster": "c",
        "auth": {"method": "azure_cli"},
    }
    base.update(settings)
    return {"provider": "kusto", "kusto": base}


def glance_doc(**settings) -> dict:
    base = {
        "auth_url": "https://keystone.example.com/v3",
        "project_id": "p",
        "user_domain_name": "Default",
        "auth": {"method": "password", "username": "u"},
    }
    base.update(settings)
    return {"provider": "glance", "glance": base}


def problems_of(document: dict, name: str = "prod", source=PROD) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        Profile.from_toml_dict(document, name=name, source=source)
    return info.value


# ---------------------------------------------------------------- the secrets table
def test_secret_table_covers_exactly_each_providers_auth_methods():
    settings_union = typing.get_args(typing.get_args(model.ProviderSettings)[0])
    for settings_class in settings_union:
        provider = settings_class.model_fields["provider"].default
        auth_union = typing.get_args(typing.get_args(settings_class.model_fields["auth"].annotation)[0])
        if not auth_union:  # pydantic keeps the Annotated metadata separately
            auth_union = typing.get_args(settings_class.model_fields["auth"].annotation)
        methods = {cls.model_fields["method"].default for cls in auth_union}
        declared = {m for (p, m) in SECRET_FIELDS if p == provider}
        assert methods == declared, provider
    assert {p for p, _ in SECRET_FIELDS} == set(PROVIDERS)
    assert provider_secret_fields("yandex") == ("oauth_token", "private_key", "iam_token")


def test_no_model_field_can_hold_a_secret():
    secret_names = {f for fields in SECRET_FIELDS.values() for f in fields}
    for name, obj in vars(model).items():
        if isinstance(obj, type) and issubclass(obj, model.BaseModel) and obj.__module__ == model.__name__:
            assert not secret_names & set(obj.model_fields), name


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_round_trip_through_toml_for_every_provider_and_auth_method(case):
    provider, method = case
    profile = Profile.build("rt", provider, {**CASES[case], **EXTRAS})
    assert profile.provider == provider
    assert profile.auth_method == method
    assert profile.secret_fields == SECRET_FIELDS[case]

    text = tomli_w.dumps(profile.to_toml_dict())
    again = Profile.from_toml_dict(tomllib.loads(text), name="rt")

    assert again == profile
    assert again.to_toml_dict() == profile.to_toml_dict()
    assert again.description == "a profile for tests"
    assert again.timeouts.read == 12.5 and again.timeouts.operation == 600.0
    assert again.tls.ca_bundle_path == Path.home() / "corp-ca.pem"
    for key, value in CASES[case].items():
        holder = again.settings
        for part in key.split(".")[:-1]:
            holder = getattr(holder, part)
        assert getattr(holder, key.split(".")[-1]) == value, key
    assert "rt" not in text.split("[")[0]  # a document does not carry its name: the file does


def test_defaults_match_the_documented_endpoints_and_versions():
    kusto = Profile.build("k", "kusto", CASES[("kusto", "client_secret")])
    assert kusto.settings.arm_endpoint == "https://management.azure.com"
    assert kusto.settings.api_version == "2024-04-13"
    assert kusto.auth.scope == "https://management.azure.com/.default"
    batch = Profile.build("b", "batch", CASES[("batch", "client_secret")])
    assert isinstance(batch.auth, BatchClientSecretAuth)
    assert batch.auth.scope == "https://batch.core.windows.net/.default"
    assert batch.auth.authority_host == "https://login.microsoftonline.com"
    assert Profile.build("b", "batch", CASES[("batch", "shared_key")]).settings.api_version == "2023-11-01.18.0"
    yandex = Profile.build("y", "yandex", CASES[("yandex", "oauth")])
    assert yandex.settings.compute_endpoint == "https://compute.api.cloud.yandex.net"
    assert yandex.settings.operation_endpoint == "https://operation.api.cloud.yandex.net"
    assert yandex.settings.iam_endpoint == "https://iam.api.cloud.yandex.net"
    glance = Profile.build("g", "glance", CASES[("glance", "application_credential")])
    assert glance.settings.interface == "public" and glance.settings.patch_dialect == "v2.1"
    assert glance.tls.verify is True and glance.tls.httpx_verify() is True


def test_urls_are_stored_without_a_trailing_slash():
    profile = Profile.from_toml_dict(glance_doc(auth_url="https://keystone.example.com/v3/"), name="g")
    assert profile.settings.auth_url == "https://keystone.example.com/v3"


# ---------------------------------------------------------------- validation messages
def test_message_names_file_profile_and_field_as_documented():
    error = problems_of(kusto_doc(resource_group="r" * 91))
    assert str(error) == (
        "~/.config/workbench/profiles/prod.toml: profile 'prod': kusto.resource_group: must be 1-90 characters"
    )
    assert error.path == PROD and error.profile == "prod"
    assert error.problems == (("kusto.resource_group", "must be 1-90 characters"),)


@pytest.mark.parametrize(
    ("document", "field", "fragment"),
    [
        (kusto_doc(resource_group=""), "kusto.resource_group", "must be 1-90 characters"),
        (kusto_doc(resource_group="rg."), "kusto.resource_group", "must not end with '.'"),
        (kusto_doc(resource_group="a/b"), "kusto.resource_group", "may contain only"),
        (kusto_doc(subscription_id="sub"), "kusto.subscription_id", "must be a GUID"),
        (kusto_doc(cluster="a/b"), "kusto.cluster", "without '/'"),
        (kusto_doc(api_version="latest"), "kusto.api_version", "a date such as 2024-04-13"),
        (kusto_doc(arm_endpoint="management.azure.com"), "kusto.arm_endpoint", "absolute http:// or https:// URL"),
        (kusto_doc(clustr="x"), "kusto.clustr", "unknown key"),
        (
            kusto_doc(auth={"method": "device_code"}),
            "kusto.auth.method",
            "must be one of 'client_secret', 'azure_cli', 'static_token'",
        ),
        (kusto_doc(auth={"tenant_id": "t"}), "kusto.auth.method", "required one of"),
        (kusto_doc(auth={"method": "client_secret", "client_id": GUID}), "kusto.auth.tenant_id", "required"),
        (
            kusto_doc(auth={"method": "client_secret", "tenant_id": "t", "client_id": "app"}),
            "kusto.auth.client_id",
            "must be a GUID",
        ),
        ({"provider": "kusto"}, "kusto.auth", "required"),
        ({"kusto": {}}, "provider", "required (one of 'kusto', 'glance', 'ims', 'batch', 'yandex')"),
        ({"provider": "aws"}, "provider", "must be one of 'kusto'"),
        ({**kusto_doc(), "glance": {}}, "glance", "this table is for provider 'glance', not 'kusto'"),
        ({**kusto_doc(), "colour": "red"}, "colour", "unknown key"),
        (glance_doc(interface="private"), "glance.interface", "must be 'public', 'internal' or 'admin'"),
        (glance_doc(patch_dialect="v3"), "glance.patch_dialect", "must be 'v2.1' or 'v2.0'"),
        (
            glance_doc(auth_url=None, auth={"method": "static_token"}),
            "glance.image_endpoint",
            "required with auth.method = 'static_token'",
        ),
        (glance_doc(project_id=None), "glance.project_name", "set project_name or project_id"),
        (glance_doc(user_domain_name=None), "glance.user_domain_name", "user_domain_id"),
        (glance_doc(project_id=None, project_name="demo"), "glance.project_domain_name", "project_domain_id"),
        (
            {"provider": "glance", "glance": {"auth": {"method": "password", "username": "u"}}},
            "glance.auth_url",
            "required with auth.method = 'password'",
        ),
        (
            {
                "provider": "batch",
                "batch": {"account_url": "https://a.b", "account_name": "Acct", "auth": {"method": "shared_key"}},
            },
            "batch.account_name",
            "3-24 lower-case letters and digits",
        ),
        (
            {"provider": "yandex", "yandex": {"folder_id": "f" * 51, "auth": {"method": "oauth"}}},
            "yandex.folder_id",
            "must be 1-50 characters",
        ),
        (
            {**kusto_doc(), "tls": {"verify": False, "ca_bundle": "/ca.pem"}},
            "tls.ca_bundle",
            "has no effect when verify = false",
        ),
        ({**kusto_doc(), "tls": {"verify": "maybe"}}, "tls.verify", "must be true or false"),
        ({**kusto_doc(), "timeouts": {"read": 0}}, "timeouts.read", "must be more than 0"),
        ({**kusto_doc(), "timeouts": {"read": "soon"}}, "timeouts.read", "must be a number"),
        ({**kusto_doc(), "description": "d" * 501}, "description", "at most 500 characters"),
        ({**kusto_doc(), "name": "other"}, "name", "'other' does not match the profile name 'prod'"),
    ],
)
def test_each_rule_names_its_field(document, field, fragment):
    document = {k: v for k, v in document.items()}
    for table in ("kusto", "glance"):
        if isinstance(document.get(table), dict):
            document[table] = {k: v for k, v in document[table].items() if v is not None}
    error = problems_of(document)
    fields = [p.field for p in error.problems]
    assert field in fields, str(error)
    line = next(line for line in str(error).splitlines() if f": {field}: " in line)
    assert line.startswith("~/.config/workbench/profiles/prod.toml: profile 'prod': ")
    assert fragment in line


def test_every_problem_is_reported_one_per_line():
    document = kusto_doc(resource_group="", subscription_id="x", cluster="")
    error = problems_of(document)
    lines = str(error).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("~/.config/workbench/profiles/prod.toml: profile 'prod': kusto.") for line in lines)


def test_bad_profile_name_is_refused_with_the_rule():
    error = problems_of(kusto_doc(), name="Prod Cloud")
    assert "name: must be 1-63 characters: lower-case letters a-z, digits 0-9, '-' and '_'" in str(error)


@pytest.mark.parametrize("name", ["prod", "a", "dev-2", "team_a", "0", "x" * 63])
def test_valid_names(name):
    assert check_profile_name(name) == name


@pytest.mark.parametrize("name", ["", "Prod", "-x", "_x", "a.b", "../etc", "a/b", "x" * 64, "con", "nul", "lpt1", " a"])
def test_invalid_names(name):
    with pytest.raises(ValueError):
        check_profile_name(name)


def test_a_secret_in_a_profile_file_is_refused_and_not_repeated():
    document = kusto_doc(
        auth={"method": "client_secret", "tenant_id": "t", "client_id": GUID, "client_secret": "hunter2-canary"}
    )
    error = problems_of(document)
    assert error.problems[0].field == "kusto.auth.client_secret"
    assert "never stored in profile files" in str(error)
    assert "WORKBENCH_SECRET_PROD_CLIENT_SECRET" in str(error)
    assert "--secret client_secret" in str(error)
    assert "hunter2-canary" not in str(error)


def test_values_never_appear_in_messages():
    # A secret pasted under a misspelt key is reported by field name only.
    error = problems_of(kusto_doc(clientsecret="s3cr3t-value", resource_group="bad/" + "s3cr3t-value"))
    assert "s3cr3t-value" not in str(error)
    assert {p.field for p in error.problems} == {"kusto.clientsecret", "kusto.resource_group"}


# ---------------------------------------------------------------- warnings
def test_disabled_tls_verification_carries_a_warning():
    profile = Profile.from_toml_dict({**kusto_doc(), "tls": {"verify": False}}, name="lab")
    assert profile.tls.httpx_verify() is False
    assert len(profile.warnings) == 1
    assert "TLS certificate verification is OFF" in profile.warnings[0]
    assert "'lab'" in profile.warnings[0]


def test_plain_http_warns_except_on_loopback(tmp_path):
    remote = Profile.from_toml_dict(kusto_doc(arm_endpoint="http://arm.example.com"), name="p")
    assert any("plain http to arm.example.com" in w for w in remote.warnings)
    for host in ("127.0.0.1:8765", "localhost", "[::1]:80"):
        local = Profile.from_toml_dict(kusto_doc(arm_endpoint=f"http://{host}/kusto"), name="p")
        assert local.warnings == [], host
    bundle = tmp_path / "ca.pem"
    missing = Profile.from_toml_dict({**kusto_doc(), "tls": {"ca_bundle": str(bundle)}}, name="p")
    assert any("tls.ca_bundle: file not found" in w for w in missing.warnings)
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    present = Profile.from_toml_dict({**kusto_doc(), "tls": {"ca_bundle": str(bundle)}}, name="p")
    assert present.warnings == [] and present.tls.httpx_verify() == str(bundle)


def test_httpx_timeout():
    timeout = Profile.from_toml_dict({**kusto_doc(), "timeouts": {"connect": 3, "read": 4}}, name="p").timeouts
    value = timeout.httpx_timeout()
    assert (value.connect, value.read, value.write, value.pool) == (3.0, 4.0, 60.0, 10.0)


# ---------------------------------------------------------------- edits
def test_with_settings_sets_converts_and_revalidates():
    profile = Profile.build("p", "glance", CASES[("glance", "password")]).with_revision("r1")
    edited = profile.with_settings({"region": None, "interface": "admin", "tls.verify": "false", "timeouts.read": "30"})
    assert edited.settings.region is None
    assert edited.settings.interface == "admin"
    assert edited.tls.verify is False and edited.timeouts.read == 30.0
    assert edited.revision == "r1"  # saving it is checked against the loaded file
    assert profile.settings.interface == "internal"  # the original is untouched

    switched = profile.with_settings({"auth.method": "application_credential", "auth.application_credential_id": "c"})
    assert switched.auth_method == "application_credential"
    assert switched.secret_fields == ("application_credential_secret",)
    assert "username" not in switched.to_toml_dict()["glance"]["auth"]

    with pytest.raises(ProfileError, match=r"glance.interface: must be 'public', 'internal' or 'admin'"):
        profile.with_settings({"glance.interface": "private"})
    with pytest.raises(
        ProfileError, match=r"is a secret: store it with --secret password .*WORKBENCH_SECRET_P_PASSWORD"
    ):
        profile.with_settings({"auth.password": "x"})
    with pytest.raises(ProfileError, match="provider: cannot be changed"):
        profile.with_settings({"provider": "kusto"})


def test_build_names_missing_fields():
    with pytest.raises(ProfileError) as info:
        Profile.build("new", "batch", {"auth.method": "shared_key"})
    assert {p.field for p in info.value.problems} == {"batch.account_url", "batch.account_name"}
    assert str(info.value).startswith("profile 'new': batch.")
