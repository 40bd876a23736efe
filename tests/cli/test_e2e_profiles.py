"""End to end: ``workbench profile ...`` in a subprocess, secrets in a keyring shared by the processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, Cli

KEY = "workbench\0{}:{}"  # the test keyring's entry for (profile, field)


def _kusto_settings(endpoints: dict, **overrides: str) -> list[str]:
    ids, entra = endpoints["kusto_ids"], endpoints["entra_credentials"]
    settings = {
        "subscription_id": ids["subscription_id"],
        "resource_group": ids["resource_group"],
        "cluster": ids["cluster"],
        "arm_endpoint": endpoints["kusto"],
        "auth.method": "client_secret",
        "auth.tenant_id": entra["tenant_id"],
        "auth.client_id": entra["client_id"],
        "auth.authority_host": endpoints["entra"],
        **overrides,
    }
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


@pytest.fixture
def prod(cli: Cli, sim_server) -> str:
    """Profile 'prod' (Kusto on the simulator), its client secret in the keyring."""
    secret = sim_server.endpoints["entra_credentials"]["client_secret"]
    cli.ok("profile", "add", "prod", "--provider", "kusto", *_kusto_settings(sim_server.endpoints),
           "--description", "the simulator", "--secret", "client_secret", input=secret + "\n")
    return secret


# ---------------------------------------------------------------------------- add / show / list
def test_add_keeps_the_secret_in_the_keyring_only(cli: Cli, prod: str):
    file = cli.home / "profiles" / "prod.toml"
    assert file.is_file() and prod not in file.read_text()
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    assert cli.keyring_entries() == {KEY.format("prod", "client_secret"): prod}

    (entry,) = cli.ok("profile", "list", "--json").json()
    assert (entry["name"], entry["provider"], entry["auth_method"]) == ("prod", "kusto", "client_secret")
    assert entry["secrets"] == {"client_secret": "keyring"}
    assert entry["settings"]["kusto"]["cluster"] == "kustoCluster"
    table = cli.ok("profile", "list").out
    assert "prod" in table and "client_secret: keyring" in table

    shown = cli.ok("profile", "show", "prod")
    assert "kusto.auth.client_id" in shown.out and "in the OS keyring" in shown.out
    assert cli.ok("profile", "show", "prod", "--json").json()["description"] == "the simulator"

    works = cli.ok("profile", "test", "prod")
    assert "profile 'prod' works: authenticated and listed an image" in works.out


def test_add_failures(cli: Cli, sim_server, prod: str):
    bad = cli.fails("profile", "add", "bad", "--provider", "kusto",
                    *_kusto_settings(sim_server.endpoints, subscription_id="not-a-guid"))
    assert "profile 'bad': kusto.subscription_id: must be a GUID" in bad.err
    assert not (cli.home / "profiles" / "bad.toml").exists()

    again = cli.fails("profile", "add", "prod", "--provider", "kusto", *_kusto_settings(sim_server.endpoints))
    assert "already exists" in again.err

    wrong_field = cli.fails("profile", "add", "other", "--provider", "kusto", *_kusto_settings(sim_server.endpoints),
                            "--secret", "password", input="x\n", code=2)
    assert "has no secret 'password'; its secrets: client_secret" in wrong_field.err

    inline = cli.fails("profile", "add", "inline", "--provider", "kusto", *_kusto_settings(sim_server.endpoints),
                       "--set", "auth.client_secret=oops")
    assert "is a secret" in inline.err and "oops" not in inline.err

    usage = cli.fails("profile", "add", "x", "--provider", "kusto", "--set", "novalue", code=2)
    assert "expected KEY=VALUE" in usage.err


def test_add_with_no_secure_keyring_says_what_to_do(cli: Cli, sim_server):
    result = cli.fails("profile", "add", "headless", "--provider", "kusto", *_kusto_settings(sim_server.endpoints),
                       "--secret", "client_secret", input="s3cret\n",
                       env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert "no secure keyring" in result.err and "WORKBENCH_SECRET_HEADLESS_CLIENT_SECRET" in result.err
    assert not (cli.home / "profiles" / "headless.toml").exists()


# ---------------------------------------------------------------------------- edit / remove
def test_edit_settings_secret_and_rename(cli: Cli, sim_server, prod: str):
    cli.ok("profile", "edit", "prod", "--set", "cluster=otherCluster", "--unset", "auth.authority_host")
    settings = cli.ok("profile", "show", "prod", "--json").json()["settings"]["kusto"]
    assert settings["cluster"] == "otherCluster"
    assert settings["auth"]["authority_host"] == "https://login.microsoftonline.com"

    cli.ok("profile", "edit", "prod", "--secret", "client_secret", input="new-secret-value\n")
    assert cli.keyring_entries() == {KEY.format("prod", "client_secret"): "new-secret-value"}

    renamed = cli.ok("profile", "edit", "prod", "--rename", "production", "--json").json()
    assert renamed["name"] == "production"
    assert cli.keyring_entries() == {KEY.format("production", "client_secret"): "new-secret-value"}
    assert [p["name"] for p in cli.ok("profile", "list", "--json").json()] == ["production"]


def test_edit_failures(cli: Cli, prod: str):
    bad = cli.fails("profile", "edit", "prod", "--set", "resource_group=bad/group")
    assert "kusto.resource_group" in bad.err
    assert "kustorptest" in (cli.home / "profiles" / "prod.toml").read_text()
    assert "nothing to change" in cli.fails("profile", "edit", "prod", code=2).err
    assert "no such profile" in cli.fails("profile", "edit", "ghost", "--set", "cluster=x").err
    provider = cli.fails("profile", "edit", "prod", "--set", "provider=glance")
    assert "provider: cannot be changed" in provider.err


def test_remove_takes_the_secrets_along(cli: Cli, prod: str):
    refused = cli.fails("profile", "remove", "prod", code=2)
    assert "--yes" in refused.err and (cli.home / "profiles" / "prod.toml").exists()
    cli.ok("profile", "remove", "prod", "--yes")
    assert not (cli.home / "profiles" / "prod.toml").exists()
    assert cli.keyring_entries() == {}
    assert "no such profile" in cli.fails("profile", "remove", "prod", "--yes").err


# ---------------------------------------------------------------------------- test
def test_profile_test_explains_a_rejected_secret(cli: Cli, sim_server, prod: str):
    cli.ok("profile", "edit", "prod", "--secret", "client_secret", input="not-the-secret\n")
    result = cli.fails("profile", "test", "prod")
    assert ("authentication failed: the client secret was rejected (AADSTS7000215) — update it with "
            "`workbench profile edit prod --secret client_secret`") in result.err
    as_json = json.loads(cli.fails("profile", "test", "prod", "--json").err)
    assert as_json["error"]["code"] == "AuthError"


@pytest.mark.usefixtures("accounts")
def test_profile_test_for_every_provider_and_wrong_secrets(cli: Cli, sim_server):
    for provider in ("kusto", "batch", "yandex"):
        assert "works" in cli.ok("profile", "test", provider).out
    cli.set_secret("batch", "account_key", "d3JvbmcgYnV0IGJhc2U2NA==")  # valid base64, wrong key
    batch = cli.fails("profile", "test", "batch")
    assert "authentication failed: the account key was rejected" in batch.err
    assert "WORKBENCH_SECRET_BATCH_ACCOUNT_KEY" in batch.err
    cli.set_secret("yandex", "oauth_token", "y0_wrong")
    yandex = cli.fails("profile", "test", "yandex")
    assert "authentication failed: the OAuth token was rejected" in yandex.err


@pytest.mark.usefixtures("accounts")
def test_profile_test_missing_secret_unreachable_and_wrong_ids(cli: Cli, sim_server):
    del cli.env["WORKBENCH_SECRET_KUSTO_CLIENT_SECRET"]
    missing = cli.fails("profile", "test", "kusto")
    assert "needs its secret 'client_secret', which is not set" in missing.err
    assert "WORKBENCH_SECRET_KUSTO_CLIENT_SECRET" in missing.err

    cli.ok("profile", "edit", "batch", "--set", "account_url=http://127.0.0.1:9")
    unreachable = cli.fails("profile", "test", "batch")
    assert "could not reach batch" in unreachable.err and "account_url" in unreachable.err

    cli.set_secret("kusto", "client_secret", sim_server.endpoints["entra_credentials"]["client_secret"])
    cli.ok("profile", "edit", "kusto", "--set", "cluster=noSuchCluster")
    wrong = cli.fails("profile", "test", "kusto")
    assert "not found: kusto answered 404" in wrong.err and "subscription_id, resource_group and cluster" in wrong.err


def test_tls_warning_is_printed_every_time(cli: Cli, prod: str):
    cli.ok("profile", "edit", "prod", "--set", "tls.verify=false")
    for args in (("profile", "show", "prod"), ("profile", "list"), ("profile", "test", "prod"),
                 ("images", "list", "-p", "prod", "--limit", "1")):
        result = cli.ok(*args)
        assert "TLS certificate verification is OFF" in result.err, result


# ---------------------------------------------------------------------------- import
def test_import_the_example_profiles(cli: Cli):
    for example in sorted((REPO / "profiles").glob("*.toml")):
        cli.ok("profile", "import", str(example), "--name", f"ex-{example.stem}")
    names = [p["name"] for p in cli.ok("profile", "list", "--json").json()]
    assert names == ["ex-batch", "ex-glance", "ex-ims", "ex-kusto", "ex-yandex"]
    again = cli.fails("profile", "import", str(REPO / "profiles" / "kusto.toml"), "--name", "ex-kusto")
    assert "already exists" in again.err
    cli.ok("profile", "import", str(REPO / "profiles" / "kusto.toml"), "--name", "ex-kusto", "--replace")


def test_import_clouds_yaml_yandex_cli_and_environment(cli: Cli, tmp_path: Path):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"lab": {"auth": {
        "auth_url": "https://keystone.example.com/v3", "username": "me", "password": "os-password-1",
        "project_name": "demo", "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionOne"}}}))
    imported = cli.ok("profile", "import", str(clouds), "--json").json()
    assert imported["imported"][0]["name"] == "lab" and imported["imported"][0]["secrets"] == ["password"]
    assert cli.keyring_entries()[KEY.format("lab", "password")] == "os-password-1"
    assert "os-password-1" not in (cli.home / "profiles" / "lab.toml").read_text()

    yc = tmp_path / "config.yaml"
    yc.write_text(yaml.safe_dump({"current": "default", "profiles": {"default": {
        "token": "y0_oauth-token-1", "folder-id": "b1gfolder"}}}))
    table = cli.ok("profile", "import", str(yc))
    assert "yandex-default" in table.out
    assert cli.keyring_entries()[KEY.format("yandex-default", "oauth_token")] == "y0_oauth-token-1"

    cli.ok("profile", "import", "--format", "env", "--name", "from-env", env={
        "OS_AUTH_URL": "https://keystone.example.com/v3", "OS_USERNAME": "u", "OS_PASSWORD": "os-password-2",
        "OS_PROJECT_ID": "p1", "OS_USER_DOMAIN_NAME": "Default"})
    assert cli.keyring_entries()[KEY.format("from-env", "password")] == "os-password-2"


def test_import_failures(cli: Cli, tmp_path: Path):
    leaky = tmp_path / "leaky.toml"
    leaky.write_text('provider = "batch"\n[batch]\naccount_url = "https://a.westus.batch.azure.com"\n'
                     'account_name = "a"\naccount_key = "c2VjcmV0"\n[batch.auth]\nmethod = "shared_key"\n')
    result = cli.fails("profile", "import", str(leaky))
    assert "batch.account_key: secrets are never stored in profile files" in result.err
    assert "c2VjcmV0" not in result.err
    assert "cannot read the file" in cli.fails("profile", "import", str(tmp_path / "absent.toml")).err
    odd = tmp_path / "odd.yaml"
    odd.write_text("just: text\n")
    assert "use --format" in cli.fails("profile", "import", str(odd)).err
    assert "FILE is required" in cli.fails("profile", "import", code=2).err


def test_a_broken_profile_file_is_reported_not_fatal(cli: Cli, prod: str):
    (cli.home / "profiles" / "broken.toml").write_text('provider = "kusto"\n[kusto]\ncluster = 5\n')
    result = cli.ok("profile", "list", "--json")
    assert [p["name"] for p in result.json()] == ["prod"]
    assert "broken.toml" in result.err and "kusto.cluster" in result.err
    assert "broken.toml" in cli.fails("profile", "show", "broken").err
