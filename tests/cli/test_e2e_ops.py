"""End to end: operations outlive the process that started them (``ops list``/``ops watch``)."""

from __future__ import annotations

import json

import pytest

from workbench.sim.config import SimConfig

from .conftest import Cli

pytestmark = pytest.mark.usefixtures("accounts")


@pytest.fixture
def sim_config() -> SimConfig:
    # Enough polls that an operation is still running when the command that started it exits.
    return SimConfig(operation_polls=4, operation_retry_after=0)


def _yandex_source(cli: Cli) -> str:
    return cli.ok("images", "list", "-p", "yandex", "--json", "--limit", "1").json()[0]["id"]


def test_an_operation_started_in_one_process_is_watched_in_another(cli: Cli, sim_server):
    started = cli.ok("images", "create", "-p", "yandex", "--name", "later-1", "--source-image", _yandex_source(cli))
    op_id = started.out.split("operation ")[-1].strip()
    assert f"workbench ops watch {op_id}" in started.err

    saved = cli.ok("ops", "list", "--json").json()
    assert [(o["id"], o["profile"], o["kind"], o["status"]) for o in saved] == [(op_id, "yandex", "create", "running")]
    table = cli.ok("ops", "list")
    assert op_id in table.out and "yandex" in table.out

    watched = cli.ok("ops", "watch", op_id)
    assert f"{op_id}: create" in watched.err and "succeeded" in watched.err
    assert "result: image" in watched.out and "later-1" in watched.out
    assert cli.ok("ops", "list", "--json").json() == []
    assert cli.ok("ops", "watch", "--json").json() == []
    # The image exists, made once (the create was not repeated on resume).
    assert len(cli.ok("images", "list", "-p", "yandex", "--json", "-f", "name=later-1").json()) == 1


def test_watch_all_with_json_and_two_providers(cli: Cli, sim_server):
    cli.ok("images", "create", "-p", "yandex", "--name", "later-2", "--source-image", _yandex_source(cli))
    cli.ok("images", "put", "-p", "kusto", "laterImage", "--language-version", "3.11.7")
    assert len(cli.ok("ops", "list", "--json").json()) == 2
    finished = cli.ok("ops", "watch", "--json").json()
    assert sorted((o["provider"], o["status"]) for o in finished) == [("kusto", "succeeded"), ("yandex", "succeeded")]
    assert cli.ok("ops", "list", "--json").json() == []


def test_watch_with_nothing_saved_and_unknown_ids(cli: Cli):
    assert "no unfinished operations" in cli.ok("ops", "watch").err
    assert cli.ok("ops", "watch", "--json").json() == []
    unknown = cli.fails("ops", "watch", "no-such-op")
    assert "no unfinished operation no-such-op" in unknown.err
    assert "no unfinished operations" in cli.ok("ops", "list").err


def test_a_failed_operation_exits_non_zero(cli: Cli, sim_server):
    sim_server.context.config.fault_rate = 1.0
    sim_server.context.config.fault_kinds = ("fail_operation",)
    failed = cli.fails("images", "put", "-p", "kusto", "doomedImage", "--language-version", "3.10.8", "--wait")
    assert "failed" in failed.err
    as_json = cli.fails("images", "create", "-p", "yandex", "--name", "doomed", "--source-image", "fd85ttctua9ly0frfo9m",
                        "--wait", "--json")
    op = json.loads(as_json.out)
    assert op["status"] == "failed" and op["error"]


def test_watch_timeout_leaves_the_operation_saved(cli: Cli, sim_server):
    sim_server.context.config.operation_polls = 1000
    cli.ok("images", "put", "-p", "kusto", "slowImage", "--language-version", "3.10.8")
    (op,) = cli.ok("ops", "list", "--json").json()
    stopped = cli.fails("ops", "watch", op["id"], "--timeout", "0.5", code=3)
    assert "stopped watching" in stopped.err
    assert [o["id"] for o in cli.ok("ops", "list", "--json").json()] == [op["id"]]


def test_a_resumed_operation_whose_profile_is_gone_is_reported(cli: Cli, sim_server):
    cli.ok("images", "put", "-p", "kusto", "orphanImage", "--language-version", "3.10.8")
    cli.ok("profile", "remove", "kusto", "--yes")
    orphan = cli.fails("ops", "watch")
    assert "cannot open profile 'kusto'" in orphan.err and "no such profile" in orphan.err
    # Still saved: it may be resumed once the profile is back.
    assert len(cli.ok("ops", "list", "--json").json()) == 1
