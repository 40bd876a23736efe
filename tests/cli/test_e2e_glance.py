"""End to end: Glance and IMS profiles (Keystone auth, JSON patch) from the command line."""

from __future__ import annotations

import copy
import json

import pytest

from .conftest import Cli

pytestmark = pytest.mark.usefixtures("accounts")


def _images(sim_server, provider: str) -> dict:
    state = sim_server.context.states[provider]
    with state.lock:
        return copy.deepcopy(state.images)


def _first(cli: Cli, provider: str, *filters: str) -> dict:
    return cli.ok("images", "list", "-p", provider, "--json", "--limit", "1", *filters).json()[0]


@pytest.mark.parametrize("provider", ["glance", "ims"])
def test_list_show_and_filters(cli: Cli, provider: str):
    table = cli.ok("images", "list", "-p", provider)
    assert table.out.splitlines()[0].split()[:3] == ["ID", "NAME", "STATUS"]
    listed = cli.ok("images", "list", "-p", provider, "--json").json()
    assert len(listed) == len(table.out.splitlines()) - 1 and {i["provider"] for i in listed} == {provider}
    active = cli.ok("images", "list", "-p", provider, "--json", "-f", "status=active").json()
    assert active and [i["id"] for i in active] == [i["id"] for i in listed if i["status"] == "active"]
    visibility = listed[-1]["visibility"]
    private = cli.ok("images", "list", "-p", provider, "--json", "-f", f"visibility={visibility}").json()
    assert [i["id"] for i in private] == [i["id"] for i in listed if i["visibility"] == visibility]
    named = cli.ok("images", "list", "-p", provider, "--jsonl", "-f", f"name={active[0]['name']}").lines()
    assert [i["id"] for i in named] == [active[0]["id"]]
    shown = cli.ok("images", "show", "-p", provider, active[0]["id"], "--json").json()
    assert shown["raw"]["id"] == active[0]["id"] and shown["raw"]["status"] == "active"
    assert "works" in cli.ok("profile", "test", provider).out


def test_list_and_show_failures(cli: Cli):
    bad = cli.fails("images", "list", "-p", "glance", "-f", "status=sleeping")
    assert "sleeping" in bad.err and "not an image status" in bad.err
    unknown = cli.fails("images", "list", "-p", "glance", "-f", "colour=blue")
    assert "unknown filter(s) colour" in unknown.err
    missing = cli.fails("images", "show", "-p", "glance", "00000000-0000-4000-8000-000000000000", "--json")
    error = json.loads(missing.err)["error"]
    assert (error["provider"], error["status"]) == ("glance", 404)


def test_patch_glance_in_both_dialects(cli: Cli, sim_server):
    image = _first(cli, "glance", "-f", "status=active")
    patched = cli.ok("images", "patch", "-p", "glance", image["id"], "--replace", "name", "renamed-by-cli",
                     "--add", "os_distro", "ubuntu", "--replace", "/min_disk", "7", "--json").json()
    assert patched["name"] == "renamed-by-cli"
    assert patched["raw"]["os_distro"] == "ubuntu" and patched["raw"]["min_disk"] == 7
    text = cli.ok("images", "patch", "-p", "glance", image["id"], "--remove", "os_distro", "--dialect", "v2.0")
    assert f"patched image {image['id']} (renamed-by-cli)" in text.out
    assert "os_distro" not in cli.ok("images", "show", "-p", "glance", image["id"], "--json").json()["raw"]


def test_patch_dry_run_sends_nothing(cli: Cli, sim_server):
    image = _first(cli, "glance")
    before = _images(sim_server, "glance")
    dry = cli.ok("images", "patch", "-p", "glance", image["id"], "--replace", "name", "never", "--dialect", "v2.0",
                 "--dry-run")
    assert "-X PATCH" in dry.out and "application/openstack-images-v2.0-json-patch" in dry.out
    assert '[{"replace":"/name","value":"never"}]' in dry.out and "X-Auth-Token: ***" in dry.out
    as_json = cli.ok("images", "patch", "-p", "glance", image["id"], "--replace", "name", "never", "--dry-run",
                     "--json").json()
    assert as_json["request"]["body"] == [{"op": "replace", "path": "/name", "value": "never"}]
    assert _images(sim_server, "glance") == before
    assert cli.env["WORKBENCH_SECRET_GLANCE_PASSWORD"] not in dry.out + dry.err + json.dumps(as_json)


def test_patch_failures(cli: Cli, sim_server):
    image = _first(cli, "glance")
    before = _images(sim_server, "glance")
    read_only = cli.fails("images", "patch", "-p", "glance", image["id"], "--replace", "status", "active")
    assert "'status' is read-only" in read_only.err
    ims = _first(cli, "ims")
    restricted = cli.fails("images", "patch", "-p", "ims", ims["id"], "--replace", "min_disk", "10")
    assert "cannot change on Huawei IMS" in restricted.err
    number = cli.fails("images", "patch", "-p", "glance", image["id"], "--replace", "min_ram", "lots", code=2)
    assert "min_ram: must be a whole number" in number.err
    nothing = cli.fails("images", "patch", "-p", "glance", image["id"], code=2)
    assert "--replace PATH VALUE" in nothing.err
    unknown = cli.fails("images", "patch", "-p", "glance", "00000000-0000-4000-8000-000000000000",
                        "--replace", "name", "x")
    assert "glance: HTTP 404" in unknown.err
    # The server's own refusal: removing a property the image does not have.
    conflict = cli.fails("images", "patch", "-p", "glance", image["id"], "--remove", "no_such_property")
    assert "glance: HTTP 409" in conflict.err
    wrong_provider = cli.fails("images", "patch", "-p", "kusto", "x", "--replace", "name", "y", code=2)
    assert "is for Glance/IMS profiles" in wrong_provider.err
    assert _images(sim_server, "glance") == before


def test_ims_patch_of_a_custom_attribute(cli: Cli):
    image = _first(cli, "ims")
    patched = cli.ok("images", "patch", "-p", "ims", image["id"], "--add", "owner_team", "platform", "--json").json()
    assert patched["raw"]["owner_team"] == "platform"


def test_delete_glance_image(cli: Cli, sim_server):
    image = _first(cli, "glance", "-f", "status=queued")
    dry = cli.ok("images", "delete", "-p", "glance", image["id"], "--dry-run")
    assert "-X DELETE" in dry.out and image["id"] in _images(sim_server, "glance")
    deleted = cli.ok("images", "delete", "-p", "glance", image["id"], "--yes")
    assert f"done: Delete image {image['id']}" in deleted.out
    cli.fails("images", "show", "-p", "glance", image["id"])
    again = cli.fails("images", "delete", "-p", "glance", image["id"], "--yes", "--json")
    assert json.loads(again.err)["error"]["status"] == 404


def test_wrong_password_and_application_credential(cli: Cli):
    cli.set_secret("glance", "password", "not-the-password")
    glance = cli.fails("profile", "test", "glance")
    assert "authentication failed: the password was rejected (keystone answered HTTP 401" in glance.err
    assert "WORKBENCH_SECRET_GLANCE_PASSWORD" in glance.err
    cli.set_secret("ims", "application_credential_secret", "not-the-secret")
    ims = cli.fails("profile", "test", "ims")
    assert "authentication failed: the application-credential secret was rejected" in ims.err
