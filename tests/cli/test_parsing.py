"""Unit tests of the command line's parsing: arguments, filters, patch values, the app entry."""

from __future__ import annotations

import sys
import types

import pytest

from workbench.cli import build_parser, main
from workbench.cli.images import filters_for, patch_value
from workbench.cli.profiles import parse_assignments
from workbench.cli.session import CommandError


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_the_sim_command_is_unchanged():
    from workbench.cli import _run_sim

    args = parse("sim", "--port", "0", "--seed-images", "5", "--fault-kinds", "throttle,drop")
    assert args.func is _run_sim
    assert (args.host, args.port, args.seed_images, args.fault_kinds) == ("127.0.0.1", 0, 5, "throttle,drop")


def test_patch_operations_keep_their_order_and_kind():
    args = parse("images", "patch", "-p", "g", "ID", "--replace", "name", "new", "--add", "/os_distro", "ubuntu",
                 "--remove", "build", "--replace", "min_disk", "5", "--dialect", "v2.0")
    assert args.patch_ops == [["replace", "name", "new"], ["add", "/os_distro", "ubuntu"], ["remove", "build"],
                              ["replace", "min_disk", "5"]]
    assert args.dialect == "v2.0" and args.dry_run is False


def test_profile_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROFILE", "from-env")
    assert parse("images", "list").profile == "from-env"
    assert parse("images", "list", "-p", "given").profile == "given"
    monkeypatch.delenv("WORKBENCH_PROFILE")
    with pytest.raises(SystemExit) as exit_info:
        parse("images", "list")
    assert exit_info.value.code == 2


@pytest.mark.parametrize("argv", [
    ["images", "put", "-p", "k", "n"],  # neither --language-version nor --base-image
    ["images", "put", "-p", "k", "n", "--language-version", "3.10.8", "--base-image", "b"],
    ["images", "create", "-p", "y", "--name", "n", "--source-disk", "d", "--source-image", "i"],
    ["images", "list", "-p", "k", "--json", "--jsonl"],
    ["images", "list", "-p", "k", "--limit", "-3"],
    ["profile", "add", "x"],  # --provider is required
    ["profile", "add", "x", "--provider", "aws"],
    ["ops"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_parse_assignments():
    assert parse_assignments(["a=1", "b.c=x=y", " d =", "tls.verify=false"]) == {
        "a": "1", "b.c": "x=y", "d": "", "tls.verify": "false"}
    for bad in ("novalue", "=x"):
        with pytest.raises(CommandError, match="expected KEY=VALUE"):
            parse_assignments([bad])


def test_filters_per_provider():
    assert filters_for("batch", ["osType eq 'linux'"]) == {"filter": "osType eq 'linux'"}
    assert filters_for("batch", ["osType eq 'linux'", "verificationType eq 'verified'"]) == {
        "filter": "(osType eq 'linux') and (verificationType eq 'verified')"}
    assert filters_for("glance", ["name=cirros", "status=active"]) == {"name": "cirros", "status": "active"}
    assert filters_for("ims", ["tag=a=b"]) == {"tag": "a=b"}
    assert filters_for("yandex", ["family=web", 'name="x"', "status = READY"]) == {
        "family": "web", "status": "READY", "filter": 'name="x"'}
    assert filters_for("kusto", []) == {}
    with pytest.raises(CommandError, match="kusto list API has no filters"):
        filters_for("kusto", ["x=y"])
    with pytest.raises(CommandError, match="KEY=VALUE"):
        filters_for("glance", ["cirros"])


def test_patch_values_take_the_attribute_type():
    assert patch_value("min_disk", "20") == 20
    assert patch_value("protected", "TRUE") is True
    assert patch_value("tags", "a, b,,c") == ["a", "b", "c"]
    assert patch_value("tags", '["x y"]') == ["x y"]
    assert patch_value("os_distro", "20") == "20"  # custom properties are strings
    for attribute, text in (("min_ram", "lots"), ("protected", "maybe"), ("tags", "[oops")):
        with pytest.raises(CommandError, match=attribute):
            patch_value(attribute, text)


def test_no_command_opens_the_app(monkeypatch):
    calls = []
    fake = types.ModuleType("workbench.tui.app")
    fake.run = lambda demo: calls.append(demo)
    monkeypatch.setitem(sys.modules, "workbench.tui.app", fake)
    assert main([]) == 0 and main(["--demo"]) == 0
    assert calls == [False, True]


def test_importing_the_command_line_loads_no_provider_or_network_module():
    import subprocess

    code = ("import sys, workbench.cli, workbench.connect; workbench.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith(('workbench.providers', 'httpx', 'textual', "
            "'uvicorn', 'starlette', 'workbench.sim', 'workbench.tui'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
