"""A whole session of commands: no secret ever shows in any output or any file but the keyring."""

from __future__ import annotations

import uuid
from pathlib import Path

from .conftest import Cli


def _files_text(root: Path, skip: Path) -> dict[Path, str]:
    return {path: path.read_bytes().decode("utf-8", "replace") for path in root.rglob("*")
            if path.is_file() and path != skip}


def test_no_secret_in_any_output_or_file(cli: Cli, sim_server, tmp_path: Path):
    endpoints = sim_server.endpoints
    entra = endpoints["entra_credentials"]
    secrets = {
        "client_secret": entra["client_secret"],
        "account_key": endpoints["batch_account"]["key"],
        "oauth_token": endpoints["yandex_credentials"]["oauth_token"],
        "password": endpoints["keystone_credentials"]["password"],
    }
    canary = f"canary-{uuid.uuid4().hex}"

    # Kusto: the secret typed into the keyring; Batch and Yandex: from the environment.
    ids = endpoints["kusto_ids"]
    cli.ok("profile", "add", "prod", "--provider", "kusto",
           "--set", f"subscription_id={ids['subscription_id']}", "--set", f"resource_group={ids['resource_group']}",
           "--set", f"cluster={ids['cluster']}", "--set", f"arm_endpoint={endpoints['kusto']}",
           "--set", "auth.method=client_secret", "--set", f"auth.tenant_id={entra['tenant_id']}",
           "--set", f"auth.client_id={entra['client_id']}", "--set", f"auth.authority_host={endpoints['entra']}",
           "--secret", "client_secret", input=secrets["client_secret"] + "\n")
    cli.ok("profile", "add", "batch", "--provider", "batch", "--set", f"account_url={endpoints['batch']}",
           "--set", f"account_name={endpoints['batch_account']['name']}", "--set", "auth.method=shared_key")
    cli.set_secret("batch", "account_key", secrets["account_key"])
    cli.ok("profile", "add", "yc", "--provider", "yandex", "--set", f"folder_id={endpoints['yandex_ids']['folder_id']}",
           "--set", f"compute_endpoint={endpoints['yandex_compute']}",
           "--set", f"operation_endpoint={endpoints['yandex_operation']}",
           "--set", f"iam_endpoint={endpoints['yandex_iam']}", "--set", "auth.method=oauth")
    cli.set_secret("yc", "oauth_token", secrets["oauth_token"])
    keystone = endpoints["keystone_credentials"]
    cli.ok("profile", "add", "os", "--provider", "glance", "--set", f"auth_url={endpoints['keystone']}",
           "--set", f"project_name={keystone['project_name']}", "--set", "project_domain_name=Default",
           "--set", "user_domain_name=Default", "--set", "auth.method=password",
           "--set", f"auth.username={keystone['username']}", "--secret", "password",
           input=secrets["password"] + "\n")
    glance_image = cli.ok("images", "list", "-p", "os", "--json", "--limit", "1").json()[0]["id"]

    # Everything a user does, successes and failures.
    for args in (
        ("profile", "list"), ("profile", "list", "--json"), ("profile", "show", "prod"),
        ("profile", "show", "prod", "--json"), ("profile", "test", "prod"), ("profile", "test", "batch", "--json"),
        ("profile", "test", "yc"),
        ("images", "list", "-p", "prod"), ("images", "list", "-p", "batch", "--json", "--raw", "--limit", "5"),
        ("images", "show", "-p", "prod", "customImage1", "--json"),
        ("images", "put", "-p", "prod", "canaryImage", "--language-version", "3.10.8", "--dry-run"),
        ("images", "put", "-p", "prod", "canaryImage", "--language-version", "3.10.8", "--dry-run", "--json"),
        ("images", "put", "-p", "prod", "canaryImage", "--language-version", "3.10.8"),
        ("ops", "list"), ("ops", "watch", "--json"),
        ("images", "delete", "-p", "prod", "canaryImage", "--yes", "--dry-run"),
        ("images", "create", "-p", "yc", "--name", "canary-1", "--source-image", "fd85ttctua9ly0frfo9m", "--dry-run"),
        ("images", "create", "-p", "yc", "--name", "canary-1", "--source-image", "fd85ttctua9ly0frfo9m", "--wait"),
        ("profile", "test", "os"), ("images", "list", "-p", "os", "--json", "--raw"),
        ("images", "patch", "-p", "os", glance_image, "--replace", "name", "x", "--dry-run"),
        ("images", "patch", "-p", "os", glance_image, "--add", "team", "a", "--json"),
    ):
        cli.ok(*args)
    cli.fails("images", "show", "-p", "prod", "noSuchImage")
    cli.fails("images", "show", "-p", "batch", "nosuch|a:b:c:d", "--json")

    # A wrong secret (the canary) in the keyring and in the environment: the errors must not echo it.
    cli.ok("profile", "edit", "prod", "--secret", "client_secret", input=canary + "\n")
    cli.fails("profile", "test", "prod")
    cli.fails("images", "list", "-p", "prod", "--json")
    cli.set_secret("yc", "oauth_token", canary)
    cli.fails("profile", "test", "yc")
    cli.fails("images", "create", "-p", "yc", "--name", "canary-2", "--source-image", "fd85ttctua9ly0frfo9m")
    cli.set_secret("batch", "account_key", canary)
    cli.fails("profile", "test", "batch")
    cli.set_secret("os", "password", canary)
    cli.fails("profile", "test", "os")
    cli.fails("images", "patch", "-p", "os", glance_image, "--replace", "name", "y")
    cli.ok("profile", "edit", "prod", "--rename", "renamed")
    cli.ok("profile", "remove", "renamed", "--yes")

    watched = [*secrets.values(), canary]
    for result in cli.history:
        for value in watched:
            assert value not in result.out and value not in result.err, f"a secret leaked: {result}"
    files = _files_text(tmp_path, skip=cli.keyring_file)
    assert any(path.suffix == ".toml" for path in files)  # profiles were written here
    for path, text in files.items():
        for value in watched:
            assert value not in text, f"a secret leaked into {path}"
