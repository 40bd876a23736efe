"""End to end: ``workbench images ...`` in a subprocess against the loopback simulator."""

from __future__ import annotations

import json

import pytest

from .conftest import Cli

pytestmark = pytest.mark.usefixtures("accounts")


def _yandex_state(sim_server):
    state = sim_server.context.states["yandex"]
    return len(state.images), len(state.operations)


def _kusto_images(sim_server) -> int:
    state = sim_server.context.states["kusto"]
    return sum(len(cluster.images) for cluster in state.clusters.values())


# ---------------------------------------------------------------------------- list
@pytest.mark.parametrize("provider", ["kusto", "batch", "yandex"])
def test_list_prints_a_table_and_json_for_every_provider(cli: Cli, provider: str):
    table = cli.ok("images", "list", "-p", provider)
    header, *rows = table.out.splitlines()
    assert rows, table
    as_json = cli.ok("images", "list", "-p", provider, "--json").json()
    assert isinstance(as_json, list) and len(as_json) == len(rows)
    assert {item["provider"] for item in as_json} == {provider}
    assert all(item["id"] for item in as_json)
    assert f"{len(rows)} image(s)" in table.err


def test_list_json_lines_limit_and_raw(cli: Cli):
    lines = cli.ok("images", "list", "-p", "yandex", "--jsonl", "--limit", "2", "--raw").lines()
    assert len(lines) == 2
    assert all(line["raw"]["id"] == line["id"] and line["raw"]["folderId"] for line in lines)


def test_list_filters_per_provider(cli: Cli):
    linux = cli.ok("images", "list", "-p", "batch", "--json", "--filter", "osType eq 'windows'").json()
    assert linux and {image["osType"] for image in linux} == {"windows"}
    family = cli.ok("images", "list", "-p", "yandex", "--json", "-f", "family=ubuntu-2204-lts").json()
    assert family and {image["family"] for image in family} == {"ubuntu-2204-lts"}
    raw = cli.ok("images", "list", "-p", "yandex", "--json", "-f", 'family="ubuntu-2204-lts"').json()
    assert [i["id"] for i in raw] == [i["id"] for i in family]


def test_list_failures(cli: Cli):
    kusto = cli.fails("images", "list", "-p", "kusto", "--filter", "x=y", code=2)
    assert "kusto list API has no filters" in kusto.err
    bad_odata = cli.fails("images", "list", "-p", "batch", "--filter", "osType eq 'solaris'")
    assert "osType" in bad_odata.err and "solaris" in bad_odata.err
    missing = cli.fails("images", "list", "-p", "nope")
    assert "profile 'nope'" in missing.err and "no such profile" in missing.err
    usage = cli.fails("images", "list", "-p", "kusto", "--limit", "0", code=2)
    assert "--limit" in usage.err


def test_a_large_listing_streams_as_valid_json(cli: Cli, sim_server):
    # Well over one page of Batch (1000 per page): paging is followed, and the array is whole.
    cli.env["WORKBENCH_PROFILE"] = "batch"
    images = cli.ok("images", "list", "--json", "--limit", "1500").json()
    assert len(images) <= 1500 and len({i["id"] for i in images}) == len(images)


# ---------------------------------------------------------------------------- show
def test_show_an_image_and_an_unknown_one(cli: Cli):
    first = cli.ok("images", "list", "-p", "yandex", "--json", "--limit", "1").json()[0]
    shown = cli.ok("images", "show", "-p", "yandex", first["id"], "--json").json()
    assert shown["id"] == first["id"] and shown["raw"]["id"] == first["id"]
    text = cli.ok("images", "show", "-p", "yandex", first["id"]).out
    assert first["id"] in text and '"folderId"' in text

    missing = cli.fails("images", "show", "-p", "kusto", "noSuchImage")
    assert "kusto: HTTP 404" in missing.err
    as_json = cli.fails("images", "show", "-p", "kusto", "noSuchImage", "--json")
    error = json.loads(as_json.err)["error"]
    assert (error["provider"], error["status"], error["type"]) == ("kusto", 404, "ApiError")
    assert error["code"]


# ---------------------------------------------------------------------------- put (Kusto)
def test_put_waits_for_the_operation(cli: Cli, sim_server):
    result = cli.ok("images", "put", "-p", "kusto", "cliImage", "--language-version", "3.10.8", "--wait")
    assert "started create cliImage" in result.out
    assert "result: image cliImage Succeeded" in result.out
    assert "succeeded" in result.err
    shown = cli.ok("images", "show", "-p", "kusto", "cliImage", "--json").json()
    assert shown["status"] == "Succeeded" and shown["languageVersion"] == "3.10.8"
    # Finished operations are not kept.
    assert cli.ok("ops", "list", "--json").json() == []


def test_put_with_requirements_json_and_wait(cli: Cli, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1.26.4\n")
    op = cli.ok("images", "put", "-p", "kusto", "withReqs", "--base-image", "Python3_10_8", "--requirements",
                str(requirements), "--wait", "--json").json()
    assert op["status"] == "succeeded" and op["kind"] == "create" and op["profile"] == "kusto"
    assert op["result"]["properties"]["requirementsFileContent"] == "numpy==1.26.4\n"


def test_put_dry_run_sends_nothing(cli: Cli, sim_server):
    before = _kusto_images(sim_server)
    result = cli.ok("images", "put", "-p", "kusto", "dryImage", "--language-version", "3.10.8", "--dry-run")
    assert result.out.startswith("curl")
    assert "-X PUT" in result.out and "sandboxCustomImages/dryImage" in result.out
    assert "Bearer ***" in result.out
    assert _kusto_images(sim_server) == before
    preview = cli.ok("images", "put", "-p", "kusto", "dryImage", "--language-version", "3.10.8", "--dry-run",
                     "--json").json()
    assert preview["request"]["method"] == "PUT"
    assert preview["request"]["body"] == {"properties": {"language": "Python", "languageVersion": "3.10.8"}}
    assert _kusto_images(sim_server) == before
    cli.fails("images", "show", "-p", "kusto", "dryImage")


def test_put_failures(cli: Cli, tmp_path):
    both = cli.fails("images", "put", "-p", "kusto", "x", "--language-version", "3.10.8", "--base-image", "y",
                     code=2)
    assert "not allowed with argument" in both.err
    version = cli.fails("images", "put", "-p", "kusto", "x", "--language-version", "three")
    assert "languageVersion" in version.err or "language_version" in version.err
    missing = cli.fails("images", "put", "-p", "kusto", "x", "--language-version", "3.10.8", "--requirements",
                        str(tmp_path / "absent.txt"))
    assert "does not exist" in missing.err
    wrong_provider = cli.fails("images", "put", "-p", "yandex", "x", "--language-version", "3.10.8", code=2)
    assert "for Kusto profiles" in wrong_provider.err


# ---------------------------------------------------------------------------- create (Yandex)
def test_create_waits_for_the_operation(cli: Cli, sim_server):
    source = cli.ok("images", "list", "-p", "yandex", "--json", "-f", "family=ubuntu-2204-lts").json()[0]["id"]
    op = cli.ok("images", "create", "-p", "yandex", "--name", "web-3", "--source-image", source, "--family", "web",
                "--label", "env=test", "--min-disk-size", str(20 * 2**30), "--os-type", "linux", "--wait",
                "--json").json()
    assert op["status"] == "succeeded" and op["kind"] == "create"
    image = op["result"]
    assert image["name"] == "web-3" and image["family"] == "web" and image["labels"] == {"env": "test"}
    assert image["os"]["type"] == "LINUX"
    listed = cli.ok("images", "list", "-p", "yandex", "--json", "-f", "name=web-3").json()
    assert [i["id"] for i in listed] == [image["id"]]


def test_create_dry_run_sends_nothing_and_masks_the_token(cli: Cli, sim_server):
    before = _yandex_state(sim_server)
    result = cli.ok("images", "create", "-p", "yandex", "--name", "dry-1", "--source-disk", "fhmdemodisk00000001",
                    "--dry-run")
    assert "-X POST" in result.out and "Idempotency-Key" in result.out and "Bearer ***" in result.out
    assert '"diskId":"fhmdemodisk00000001"' in result.out
    assert _yandex_state(sim_server) == before
    assert cli.env["WORKBENCH_SECRET_YANDEX_OAUTH_TOKEN"] not in result.out + result.err


def test_create_failures(cli: Cli, sim_server):
    before = _yandex_state(sim_server)
    bad_name = cli.fails("images", "create", "-p", "yandex", "--name", "Bad_Name", "--source-image", "x")
    assert "name" in bad_name.err and "regular expression" in bad_name.err
    no_source = cli.fails("images", "create", "-p", "yandex", "--name", "ok", code=2)
    assert "--source-image" in no_source.err
    unknown = cli.fails("images", "create", "-p", "yandex", "--name", "ok-2", "--source-image", "fd8nosuchimage")
    assert "yandex: HTTP 404 NOT_FOUND" in unknown.err
    assert _yandex_state(sim_server)[0] == before[0]
    label = cli.fails("images", "create", "-p", "yandex", "--name", "ok", "--source-image", "x", "--label", "nolabel",
                      code=2)
    assert "KEY=VALUE" in label.err


# ---------------------------------------------------------------------------- delete
def test_delete_kusto_and_yandex(cli: Cli, sim_server):
    deleted = cli.ok("images", "delete", "-p", "kusto", "customImage8", "--yes", "--wait")
    assert "started delete customImage8" in deleted.out
    cli.fails("images", "show", "-p", "kusto", "customImage8")

    source = cli.ok("images", "list", "-p", "yandex", "--json", "--limit", "1").json()[0]["id"]
    op = cli.ok("images", "delete", "-p", "yandex", source, "--yes", "--wait", "--json").json()
    assert op["status"] == "succeeded" and op["kind"] == "delete"
    cli.fails("images", "show", "-p", "yandex", source)


def test_delete_failures_and_dry_run(cli: Cli, sim_server):
    before = _kusto_images(sim_server)
    dry = cli.ok("images", "delete", "-p", "kusto", "customImage1", "--dry-run")
    assert "-X DELETE" in dry.out and _kusto_images(sim_server) == before
    unconfirmed = cli.fails("images", "delete", "-p", "kusto", "customImage1", code=2)
    assert "--yes" in unconfirmed.err and _kusto_images(sim_server) == before
    batch = cli.fails("images", "delete", "-p", "batch", "x", "--yes", code=2)
    assert "`images delete` is for Kusto/Glance/IMS/Yandex profiles; profile 'batch' is batch" in batch.err
    unknown = cli.fails("images", "delete", "-p", "yandex", "fd8nosuchimage", "--yes")
    assert "yandex: HTTP 404" in unknown.err
