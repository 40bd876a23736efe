"""The workbench app, driven headless through a Pilot against the simulator in-process.

Each test builds a ``Workspace`` whose drivers reach a fresh simulator through
``httpx.ASGITransport``, with the demo profiles saved in ``tmp_path`` and their
secrets in the session's memory; the app is given that workspace.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import keyring
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tests.memory_keyring import MemoryKeyring
from tests.tui.helpers import KustoRenameEditor, SimWorkspace, make_workspace, plain, wait_for
from workbench.connect import Workspace
from workbench.core.operations import OperationStatus
from workbench.profiles.importers import from_simulator
from workbench.sim.config import SimConfig
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import APP_COMMANDS
from workbench.tui.panes.profiles import ProfileStatus
from workbench.tui.screens.editor import EditorScreen
from workbench.tui.screens.help import HelpScreen
from workbench.tui.screens.inspector import InspectorScreen
from workbench.tui.screens.profile_form import ProfileFormScreen

SIZE = (120, 40)


# -- helpers ------------------------------------------------------------------------


async def open_profile(pilot: Pilot, app: WorkbenchApp, name: str) -> None:
    """Pick ``name`` in the profiles tree with the keyboard and wait for its images."""
    await wait_for(pilot, app.ready.is_set, "the workspace")
    tree = app.profiles.tree
    tree.focus()
    await pilot.press("home")
    for _ in range(20):
        entry = app.profiles.highlighted
        if entry is not None and entry.name == name:
            break
        await pilot.press("down")
    else:
        raise AssertionError(f"profile {name} not found in the tree")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.images.profile == name and app.images.stream.done, f"{name}'s images")


async def list_directly(workspace: Workspace, profile: str) -> list[str]:
    driver = workspace.driver(profile)
    return [image.id async for image in driver.list_images()]


@pytest.fixture
def sim(tmp_path: Path) -> SimWorkspace:
    return make_workspace(tmp_path / "home")


# -- profiles and images ---------------------------------------------------------------


async def test_pick_a_profile_and_list_its_images(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        names = [entry.name for entry in app.profiles.entries()]
        assert sorted(names) == ["demo-batch", "demo-glance", "demo-ims", "demo-kusto", "demo-yandex"]
        assert all(app.profiles.status(name) is ProfileStatus.UNTESTED for name in names)

        await open_profile(pilot, app, "demo-yandex")
        expected = await list_directly(sim.workspace, "demo-yandex")
        shown = [image.id for image in app.images.image_list.images]
        assert shown == expected and len(shown) > 3
        assert app.images.image_list.provider == "yandex"
        # A listing that worked marks the profile ok, and shows it as the current one.
        assert app.profiles.status("demo-yandex") is ProfileStatus.OK
        assert app.profiles.tree.current == "demo-yandex"
        title = plain(app.images.query_one("#images-title"))
        assert f"{len(expected)} / {len(expected)}" in title and "all loaded" in title
        # The details view follows the cursor.
        await pilot.press("l", "down")
        highlighted = app.images.image_list.highlighted
        assert highlighted is not None and highlighted.id == expected[1]
        details = plain(app.images.query_one("#image-details-body"))
        assert highlighted.id in details

        # Other clouds: the columns follow the provider.
        await open_profile(pilot, app, "demo-batch")
        assert app.images.image_list.provider == "batch"
        assert [c.key for c in app.images.image_list.columns][0] == "node_agent"
    await sim.workspace.aclose()


@pytest.mark.parametrize("profile", ["demo-glance", "demo-ims"])
async def test_glance_and_ims_profiles_list_with_their_columns(sim: SimWorkspace, profile: str) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, profile)
        assert "visibility" in [c.key for c in app.images.image_list.columns]
        expected = await list_directly(sim.workspace, profile)
        assert [image.id for image in app.images.image_list.images] == expected and expected
    await sim.workspace.aclose()


async def test_a_listing_refused_for_credentials_marks_auth_failed(sim: SimWorkspace) -> None:
    sim.workspace.secrets.remember("demo-yandex", "oauth_token", "y0_not-a-valid-token")
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        app.open_profile("demo-yandex")
        await wait_for(pilot, lambda: app.profiles.status("demo-yandex") is not ProfileStatus.UNTESTED,
                       "the listing to fail")
        await pilot.pause(0.2)
        assert app.profiles.status("demo-yandex") is ProfileStatus.AUTH_FAILED
        assert app.images.stream.error is not None and app.images.image_list.total_count == 0
        assert "listing failed" in plain(app.images.query_one("#images-title"))
        assert any("demo-yandex" in str(n.title) for n in app._notifications)
        # Another profile still works, and is marked ok.
        app.open_profile("demo-kusto")
        await wait_for(pilot, lambda: app.profiles.status("demo-kusto") is ProfileStatus.OK, "demo-kusto")
        assert app.profiles.status("demo-yandex") is ProfileStatus.AUTH_FAILED
    await sim.workspace.aclose()


async def test_batch_images_past_end_of_life_are_marked(sim: SimWorkspace) -> None:
    from workbench.tui.widgets.image_list import mark_end_of_life

    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "demo-batch")
        images = list(app.images.image_list.images)
        ended = [image for image in images if mark_end_of_life(image) is not None]
        assert ended, "the simulator's catalog has images past batchSupportEndOfLife"
        app.images.image_list.move_cursor(app.images.image_list.shown_images.index(ended[0]))
        await pilot.pause()
        details = plain(app.images.query_one("#image-details-body"))
        assert "Batch support ended" in details
    await sim.workspace.aclose()


async def test_filter_with_slash(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "demo-yandex")
        image_list = app.images.image_list
        total = image_list.total_count
        target = image_list.images[-1].name
        needle = target[:4].lower()
        await pilot.press("l", "slash")
        assert app.focused is app.images.filter_input
        await pilot.press(*needle)
        assert image_list.filter_text == needle
        shown = image_list.shown_images
        assert shown and all(
            needle in (image.name + image.id + image.status + " ".join(map(str, image.extras.values()))).lower()
            for image in shown
        )
        assert any(image.name == target for image in shown)
        # Enter keeps the filter and returns to the list; Esc there clears it.
        await pilot.press("enter")
        assert app.focused is image_list and image_list.filter_text == needle
        await pilot.press("escape")
        assert image_list.filter_text == "" and image_list.shown_count == total
        assert not app.images.filter_input.display
        # A filter that matches nothing says so.
        await pilot.press("slash", *"zzqqxx")
        assert image_list.shown_count == 0
        await pilot.press("escape")
        assert image_list.shown_count == total
    await sim.workspace.aclose()


async def test_load_more_and_load_all_page_through_a_big_catalog(tmp_path: Path) -> None:
    sim = make_workspace(tmp_path / "home", SimConfig(operation_polls=2, operation_retry_after=0, seed_images=2500))
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        app.open_profile("demo-yandex")
        await wait_for(pilot, lambda: app.images.stream is not None and not app.images.loading
                       and app.images.stream.loaded >= 1000, "the first page")
        image_list = app.images.image_list
        assert image_list.total_count == 1000 and not app.images.stream.done
        await pilot.press("l", "m")
        await wait_for(pilot, lambda: image_list.total_count == 2000 and not app.images.loading, "a second page")
        await pilot.press("M")
        await wait_for(pilot, lambda: app.images.stream.done, "every image")
        expected = await list_directly(sim.workspace, "demo-yandex")
        assert len(expected) > 2500
        assert sorted(image.id for image in image_list.images) == sorted(expected)
    await sim.workspace.aclose()


# -- screens ---------------------------------------------------------------------------


async def test_inspector_shows_the_masked_log_and_copies_curl(sim: SimWorkspace) -> None:
    secret = sim.endpoints["entra_credentials"]["client_secret"]
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "demo-kusto")
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        logged = sim.workspace.request_log.entries()
        assert len(screen.entries) == len(logged) >= 2  # a token request and a listing at least
        assert screen.highlighted is logged[-1]
        shown = plain(screen.query_one("#entry-text")) + plain(screen.query_one("#entry-curl"))
        assert logged[-1].url in shown
        assert secret not in shown
        # The token request carried the password; the inspector shows it masked.
        token_entry = next(i for i, e in enumerate(screen.entries) if "/oauth2/v2.0/token" in e.url)
        assert "client_secret" in screen.entries[token_entry].request_body
        screen.query_one("#log-entries").highlighted = token_entry
        await pilot.pause()
        shown = plain(screen.query_one("#entry-text"))
        assert "/oauth2/v2.0/token" in shown and secret not in shown
        await pilot.press("c")
        copied = app.clipboard
        assert copied == screen.copied and copied.startswith("curl")
        assert "/oauth2/v2.0/token" in copied and "client_secret" in copied and secret not in copied
        # New exchanges appear live while the inspector is open.
        before = len(screen.entries)
        driver = sim.workspace.driver("demo-kusto")
        await driver.get_image("customImage1")
        await wait_for(pilot, lambda: len(screen.entries) > before, "a new log entry")
        assert "customImage1" in screen.entries[-1].url
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)
    await sim.workspace.aclose()


async def test_help_lists_every_command(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rendered = plain(app.screen.query_one("#help-keys"))
        for command in APP_COMMANDS:
            assert command.name in rendered
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
    await sim.workspace.aclose()


async def test_command_palette_runs_workbench_commands(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await pilot.press("ctrl+p")
        await pilot.press(*"inspector")
        await wait_for(pilot, lambda: app.screen.query("CommandList Option") or app.screen.query("CommandList"),
                       "the palette's list")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen), "the inspector from the palette")
    await sim.workspace.aclose()


async def test_theme_toggle_and_80x24(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_profile(pilot, app, "demo-kusto")
        assert app.screen.has_class("-narrow")
        # The list keeps the room: the details view waits for d.
        assert not app.images.details.display or app.images.details.size.width == 0
        assert app.images.image_list.size.width >= 50
        assert app.images.image_list.size.height >= 8
        await pilot.press("d")
        assert app.images.details.size.width > 0
        dark = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != dark and "light" in app.theme
        await pilot.press("ctrl+t")
        assert app.theme == dark
    await sim.workspace.aclose()


# -- operations -------------------------------------------------------------------------


async def test_a_kusto_put_is_tracked_to_succeeded_and_refreshes_the_image(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_profile(pilot, app, "demo-kusto")
        image_list = app.images.image_list
        assert all(image.id != "tracked-image" for image in image_list.images)
        driver = sim.workspace.driver("demo-kusto")
        op = await driver.send(driver.create_or_update("tracked-image", language_version="3.10.8"))
        sim.workspace.track(op)
        pane = app.operations
        await wait_for(pilot, lambda: op.id in pane.operations, "the operation's row")
        assert pane.table.row_count == 1
        await wait_for(pilot, lambda: pane.operations[op.id].status is OperationStatus.SUCCEEDED,
                       "the operation to succeed", timeout=30)
        assert pane.table.row_text(op.id)[:4] == ["kusto", "create", "tracked-image", "succeeded"]
        # The finished operation put the image into the list, fresh from the API.
        refreshed = await wait_for(pilot, lambda: next((i for i in image_list.images if i.id == "tracked-image"),
                                                       None), "the refreshed image")
        assert refreshed.extras["provisioningState"] == "Succeeded"
        assert any("tracked-image" in str(n.message) for n in app._notifications)
    await sim.workspace.aclose()


async def test_cancel_an_operation_from_the_pane(tmp_path: Path) -> None:
    # Operations that would need 1000 polls: only a cancel ends them.
    sim = make_workspace(tmp_path / "home", SimConfig(operation_polls=1000, operation_retry_after=1))
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        driver = sim.workspace.driver("demo-yandex")
        disk = sim.endpoints["yandex_ids"]["disk_ids"][0] if "disk_ids" in sim.endpoints["yandex_ids"] else None
        disk = disk or "fhmdemodisk000000001"
        op = await driver.send(driver.create_image_request(name="cancel-me", disk_id=disk))
        sim.workspace.track(op)
        pane = app.operations
        await wait_for(pilot, lambda: op.id in pane.operations, "the operation's row")
        assert pane.operations[op.id].status is OperationStatus.RUNNING
        assert pane.can_cancel(pane.operations[op.id])
        await pilot.press("o")
        assert app.focused is pane.table
        assert pane.highlighted is not None and pane.highlighted.id == op.id
        await pilot.press("c")
        await wait_for(pilot, lambda: pane.operations[op.id].status is OperationStatus.CANCELED,
                       "the cancel to take effect", timeout=20)
        assert pane.table.row_text(op.id)[3] == "canceled"
    await sim.workspace.aclose()


async def test_operations_of_an_earlier_session_are_resumed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = make_workspace(home, SimConfig(operation_polls=3, operation_retry_after=1))
    driver = first.workspace.driver("demo-kusto")
    op = await driver.send(driver.create_or_update("from-before", language_version="3.10.8"))
    first.workspace.track(op)
    await first.workspace.aclose()  # saves it, unfinished

    # A new session on the same home and the same simulator state.
    later = Workspace(home, transport=httpx.ASGITransport(app=first.asgi), on_warning=first.warnings.append)
    for candidate in from_simulator(first.endpoints):
        candidate.use_for_session(later.secrets)
    app = WorkbenchApp(later)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        pane = app.operations
        await wait_for(pilot, lambda: op.id in pane.operations, "the resumed operation")
        await wait_for(pilot, lambda: pane.operations[op.id].status is OperationStatus.SUCCEEDED,
                       "the resumed operation to finish", timeout=30)
    await later.aclose()


# -- the editor host -------------------------------------------------------------------


async def test_a_failing_request_keeps_the_edit(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "demo-kusto")
        driver = app.images.driver
        screen = EditorScreen(sim.workspace, "demo-kusto", "kusto", driver, None,
                              editor=KustoRenameEditor(driver, None))
        await app.push_screen(screen)
        await pilot.pause()
        box = screen.query_one("#image-name", Input)
        assert app.focused is box
        # An empty name is a field error: named, and nothing is sent.
        preview = plain(screen.query_one("#request-preview"))
        assert "image-name: required" in preview
        sent_before = len(sim.workspace.request_log)
        await pilot.press("ctrl+s")
        assert len(sim.workspace.request_log) == sent_before
        assert "image-name: required" in plain(screen.query_one("#send-error"))

        # The live preview shows the exact request as the name is typed.
        await pilot.press(*"no-such-image")
        preview = plain(screen.query_one("#request-preview"))
        assert "PATCH" in preview and "/sandboxCustomImages/no-such-image" in preview
        assert '"languageVersion": "3.11.7"' in preview
        assert "Bearer" not in preview or "***" in preview

        # The server refuses (no such image): the error is shown, the edit stays.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.error is not None and not screen.sending, "the failed send")
        assert app.screen is screen
        assert box.value == "no-such-image"
        error = plain(screen.query_one("#send-error"))
        assert "404" in error and "edit is kept" in error

        # Fixed and sent again: the operation is tracked and the editor closes.
        box.value = "customImage1"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not screen, "the editor to close")
        ops = list(app.operations.operations.values())
        assert len(ops) == 1 and ops[0].target == "customImage1" and ops[0].kind == "update"
    await sim.workspace.aclose()


async def test_editor_keys_open_the_host_with_the_highlighted_image(sim: SimWorkspace) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "demo-yandex")
        await pilot.press("l", "down")
        image = app.images.image_list.highlighted
        await pilot.press("e")
        screen = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, EditorScreen) else None,
                                "the editor screen")
        assert screen.image is image and screen.provider == "yandex"
        title = plain(screen.query_one("#editor-title"))
        assert image.name in title
        assert screen.editor is not None, screen.placeholder
        await pilot.press("escape")
        assert not isinstance(app.screen, EditorScreen)
        # Keys of the main screen do nothing under another screen.
        await pilot.press("n")
        assert isinstance(app.screen, EditorScreen) and app.screen.image is None
        await pilot.press("i")
        assert isinstance(app.screen, EditorScreen)
    await sim.workspace.aclose()


# -- profile form ------------------------------------------------------------------------


async def fill(pilot: Pilot, screen: ProfileFormScreen, values: dict[str, str]) -> None:
    for widget_id, value in values.items():
        box = screen.query_one(f"#{widget_id}", Input)
        box.focus()
        await pilot.pause()
        box.value = ""
        await pilot.press(*value) if len(value) < 60 else setattr(box, "value", value)
    await pilot.pause()


async def test_add_test_and_remove_a_profile_with_the_form(sim: SimWorkspace, memory_keyring: MemoryKeyring) -> None:
    batch = sim.endpoints["batch_account"]
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await pilot.press("a")
        screen = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, ProfileFormScreen) else None,
                                "the profile form")
        screen.query_one("#field-provider", Select).value = "batch"
        await wait_for(pilot, lambda: screen.query("#field-account-url"), "the Batch fields")
        assert str(screen.query_one("#field-auth-method", Select).value) == "shared_key"
        secret_box = screen.query_one("#field-secret--account-key", Input)
        assert secret_box.password

        # A bad field is named, and nothing is stored.
        await fill(pilot, screen, {"field-name": "my-batch", "field-account-url": batch["url"] if "url" in batch
                                   else sim.endpoints["batch"], "field-account-name": "Not Valid!"})
        await pilot.press("ctrl+s")
        errors = plain(screen.query_one("#form-errors"))
        assert "account_name" in errors
        assert screen.query_one("#field-account-name").has_class("-invalid")
        assert not sim.workspace.profiles.exists("my-batch") and not memory_keyring.entries

        # A wrong key: the test says auth failed.
        await fill(pilot, screen, {"field-account-name": batch["name"], "field-secret--account-key": "d3Jvbmc="})
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.test_status not in (None, ProfileStatus.UNTESTED), "the test")
        assert screen.test_status is ProfileStatus.AUTH_FAILED
        assert "auth failed" in plain(screen.query_one("#form-test-result"))

        # The right key: ok, then saved with the secret in the keyring only.
        await fill(pilot, screen, {"field-secret--account-key": batch["key"]})
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.test_status is ProfileStatus.OK, "a passing test")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProfileFormScreen), "the form to close")
        assert memory_keyring.entries == {("workbench", "my-batch:account_key"): batch["key"]}
        stored = (sim.workspace.profiles.directory / "my-batch.toml").read_text()
        assert batch["key"] not in stored
        assert "my-batch" in [entry.name for entry in app.profiles.entries()]
        assert app.profiles.status("my-batch") is ProfileStatus.OK

        # It works from the tree: open it (the secret comes from the keyring).
        sim.workspace.secrets.forget_session()
        app.open_profile("my-batch")
        await wait_for(pilot, lambda: app.images.profile == "my-batch" and app.images.stream.done, "its images")
        assert app.images.image_list.total_count > 0

        # Remove it from the tree, confirming.
        app.profiles.highlight("my-batch")
        app.profiles.tree.focus()
        await pilot.press("delete")
        await wait_for(pilot, lambda: app.screen.query("#confirm-yes"), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: "my-batch" not in [e.name for e in app.profiles.entries()], "the removal")
        assert not sim.workspace.profiles.exists("my-batch")
        assert memory_keyring.entries == {}
        assert app.images.profile is None
    await sim.workspace.aclose()


async def test_edit_a_profile_and_test_from_the_tree(sim: SimWorkspace, memory_keyring: MemoryKeyring) -> None:
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        app.profiles.highlight("demo-kusto")
        app.profiles.tree.focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: app.profiles.status("demo-kusto") is ProfileStatus.OK, "the test to pass")
        await pilot.press("e")
        screen = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, ProfileFormScreen) else None,
                                "the profile form")
        assert screen.query_one("#field-name", Input).disabled
        assert screen.query_one("#field-cluster", Input).value == "kustoCluster"
        await fill(pilot, screen, {"field-description": "edited in the app"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProfileFormScreen), "the form to close")
        assert sim.workspace.profiles.load("demo-kusto").description == "edited in the app"

        # A wrong secret in the session: the test marks auth failed.
        sim.workspace.secrets.remember("demo-kusto", "client_secret", "not-the-secret")
        app.profiles.highlight("demo-kusto")
        app.profiles.tree.focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: app.profiles.status("demo-kusto") is ProfileStatus.AUTH_FAILED,
                       "the test to fail")
    await sim.workspace.aclose()


def batch_url(sim: SimWorkspace) -> str:
    batch = sim.endpoints["batch_account"]
    return batch["url"] if "url" in batch else sim.endpoints["batch"]


async def open_add_form(pilot: Pilot, app: WorkbenchApp, provider: str) -> ProfileFormScreen:
    await wait_for(pilot, app.ready.is_set, "the workspace")
    await pilot.press("a")
    screen = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, ProfileFormScreen) else None,
                            "the profile form")
    screen.query_one("#field-provider", Select).value = provider
    await wait_for(pilot, lambda: str(screen.query_one("#field-auth-method", Select).value)
                   in {"shared_key", "client_secret"} and screen.provider == provider, f"the {provider} fields")
    await pilot.pause()
    return screen


async def test_adding_a_profile_under_a_taken_name_leaves_its_secret_alone(
    sim: SimWorkspace, memory_keyring: MemoryKeyring
) -> None:
    from keyring.backends import fail

    store, secrets = sim.workspace.profiles, sim.workspace.secrets
    secrets.set("demo-batch", "account_key", "ORIGINAL-KEY")
    before = (store.directory / "demo-batch.toml").read_bytes()
    batch = sim.endpoints["batch_account"]
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_add_form(pilot, app, "batch")
        await fill(pilot, screen, {"field-name": "demo-batch", "field-account-url": batch_url(sim),
                                   "field-account-name": batch["name"], "field-secret--account-key": "NEW-KEY"})
        await pilot.press("ctrl+s")
        # Neither the other profile's secret nor its file changed.
        assert memory_keyring.entries == {("workbench", "demo-batch:account_key"): "ORIGINAL-KEY"}
        assert (store.directory / "demo-batch.toml").read_bytes() == before
        assert app.screen is screen
        assert "already exists" in plain(screen.query_one("#form-errors"))
        assert screen.query_one("#field-name").has_class("-invalid")

        # A free name, but no secure keyring for the secret: nothing is written at all.
        keyring.set_keyring(fail.Keyring())
        await fill(pilot, screen, {"field-name": "new-batch"})
        await pilot.press("ctrl+s")
        assert "keyring" in plain(screen.query_one("#form-errors"))
        assert not store.exists("new-batch")

        # With the keyring back, it is saved, then its secret stored.
        keyring.set_keyring(memory_keyring)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProfileFormScreen), "the form to close")
        assert store.exists("new-batch")
        assert memory_keyring.entries == {("workbench", "demo-batch:account_key"): "ORIGINAL-KEY",
                                            ("workbench", "new-batch:account_key"): "NEW-KEY"}
    await sim.workspace.aclose()


async def test_editing_a_profile_changed_elsewhere_leaves_its_secret_alone(
    sim: SimWorkspace, memory_keyring: MemoryKeyring
) -> None:
    store, secrets = sim.workspace.profiles, sim.workspace.secrets
    secrets.set("demo-kusto", "client_secret", "ORIGINAL-SECRET")
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        screen = ProfileFormScreen(sim.workspace, store.load("demo-kusto"))
        await app.push_screen(screen)
        await pilot.pause()
        await fill(pilot, screen, {"field-description": "mine", "field-secret--client-secret": "NEW-SECRET"})
        # Someone else (the command line, another window) saves the profile meanwhile.
        store.save(store.load("demo-kusto").with_settings({"description": "theirs"}))
        await pilot.press("ctrl+s")
        assert "changed by someone else" in plain(screen.query_one("#form-errors"))
        assert app.screen is screen
        assert store.load("demo-kusto").description == "theirs"
        assert memory_keyring.entries == {("workbench", "demo-kusto:client_secret"): "ORIGINAL-SECRET"}
    await sim.workspace.aclose()


async def test_a_test_that_cannot_open_the_driver_says_why(sim: SimWorkspace) -> None:
    batch = sim.endpoints["batch_account"]
    typed_key = "not a base64 key"
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_add_form(pilot, app, "batch")
        await fill(pilot, screen, {"field-name": "bad-key", "field-account-url": batch_url(sim),
                                   "field-account-name": batch["name"], "field-secret--account-key": typed_key})
        await pilot.press("ctrl+r")
        # open_driver raises a plain ValueError for this key: it is shown, not left at "testing…".
        await wait_for(pilot, lambda: screen.test_status is ProfileStatus.ERROR, "the test to fail")
        shown = plain(screen.query_one("#form-test-result"))
        assert "not a base64 Batch account key" in shown and "testing" not in shown
        assert typed_key not in shown
    await sim.workspace.aclose()


async def test_copy_as_curl_of_a_body_cut_in_the_log(sim: SimWorkspace) -> None:
    # A requirements file of ~12 KB: the log keeps a 4,096-character excerpt of the body.
    requirements = "".join(f"package-number-{i:04d}==1.{i}.0\n" for i in range(400))
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        driver = sim.workspace.driver("demo-kusto")
        request = driver.create_or_update("big-requirements", language_version="3.10.8", requirements=requirements)
        sent_body = driver.preview(request).body
        assert sent_body is not None and len(sent_body) > 8192
        await driver.send(request)
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        index = next(i for i, e in enumerate(screen.entries) if e.method == "PUT" and "big-requirements" in e.url)
        assert len(screen.entries[index].request_body) < len(sent_body)
        screen.query_one("#log-entries").highlighted = index
        await pilot.pause()
        await pilot.press("c")
        copied = app.clipboard
        assert copied == screen.copied
        first, _, command = copied.partition("\n")
        assert first == f"# body truncated in the log ({len(sent_body):,} bytes): see the editor's preview"
        assert command.startswith("curl \\\n  -X PUT \\\n") and "big-requirements" in command
        assert "--data-raw" not in command and "more characters" not in command
        assert any("truncated" in str(n.message) for n in app._notifications)
        assert "--data-raw" not in plain(screen.query_one("#entry-curl"))
        # A body logged whole is still copied with it.
        token = next(i for i, e in enumerate(screen.entries) if "/oauth2/v2.0/token" in e.url)
        screen.query_one("#log-entries").highlighted = token
        await pilot.pause()
        await pilot.press("c")
        assert app.clipboard.startswith("curl") and "--data-raw" in app.clipboard
    await sim.workspace.aclose()


class RefusingKeyring(MemoryKeyring):
    """A keyring that is there but refuses to store (locked, say)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the keyring is locked")


async def test_a_secret_the_keyring_refuses_after_the_save_can_be_stored_again(
    sim: SimWorkspace, memory_keyring: MemoryKeyring
) -> None:
    store = sim.workspace.profiles
    batch = sim.endpoints["batch_account"]
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_add_form(pilot, app, "batch")
        await fill(pilot, screen, {"field-name": "locked-batch", "field-account-url": batch_url(sim),
                                   "field-account-name": batch["name"], "field-secret--account-key": batch["key"]})
        keyring.set_keyring(RefusingKeyring())
        await pilot.press("ctrl+s")
        errors = plain(screen.query_one("#form-errors"))
        assert "was saved, but a secret was not stored" in errors and "locked" in errors
        assert batch["key"] not in errors
        assert store.exists("locked-batch") and app.screen is screen
        # The form now edits the saved profile: saving again is no conflict.
        assert screen.editing and screen.query_one("#field-name", Input).disabled
        keyring.set_keyring(memory_keyring)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProfileFormScreen), "the form to close")
        assert memory_keyring.entries == {("workbench", "locked-batch:account_key"): batch["key"]}
    await sim.workspace.aclose()
