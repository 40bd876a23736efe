"""The Textual workbench: profiles, images, operations, editor and inspector.

``run(demo=...)`` is what ``workbench`` / ``workbench --demo`` call. The app
paints its first frame before anything heavy happens: the workspace (profile
store, keyring, and for the demo the embedded simulator) is opened in a thread
worker after mounting, and provider modules are imported only when a profile of
that provider is opened. Every network call runs in a worker, so the UI never
waits for a cloud.

The app talks to clouds only through a ``Workspace`` (``workbench.connect``):
its profile store and secrets, its drivers (one per profile, cached), its
request log (the inspector) and its operation tracker (the operations pane).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from workbench.tui.panes.images import ImagesPane
from workbench.tui.panes.operations import OperationsPane
from workbench.tui.panes.profiles import ProfileEntry, ProfilesPane, ProfileStatus, status_of_error
from workbench.tui.widgets.image_list import ImageList

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.operations import Operation
    from workbench.providers.base import Driver
    from workbench.tui.screens.editor import EditorScreen

__all__ = ["EXIT_AFTER_ENV", "WorkbenchApp", "run"]

#: ``first-frame``: exit once the first frame is on screen; ``ready``: once the
#: workspace is open and its profiles listed. For the start-up benchmark.
EXIT_AFTER_ENV = "WORKBENCH_EXIT_AFTER"


#: App actions that work on every screen; the rest belong to the main screen.
_ANYWHERE = frozenset({"help", "quit", "toggle_dark", "command_palette", "change_theme", "screenshot",
                       "show_help_panel", "hide_help_panel", "help_quit", "maximize", "minimize", "bell",
                       "focus_next", "focus_previous", "back", "simulate_key", "notify", "copy_text",
                       "suspend_process", "focus", "pop_screen", "switch_mode", "push_screen",
                       "switch_screen", "add_class", "remove_class", "toggle_class"})


def _workbench_commands() -> type:
    from workbench.tui.commands import WorkbenchCommands

    return WorkbenchCommands


class WorkbenchApp(App[None]):
    """The workbench. Give it a ``workspace`` (tests, notebooks), or let it open
    one: the user's (``Workspace()``) or, with ``demo=True``, the embedded
    simulator's (``Workspace.demo()``)."""

    TITLE = "Image Workbench"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar[set] = App.COMMANDS | {_workbench_commands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    #: The command palette offers the main screen's commands here.
    COMMAND_SCOPE: ClassVar[str] = "main"
    #: Nothing is focused in the first frame: the profiles tree takes the focus
    #: right after it (``on_mount``), so the footer is composed once, not twice,
    #: before the first paint.
    AUTO_FOCUS = None

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter_images", "Filter"),
        Binding("e", "edit_image", "Edit"),
        Binding("n", "new_image", "New"),
        Binding("i", "inspector", "Inspector"),
        Binding("r", "refresh_images", "Refresh"),
        Binding("m", "load_more", "More"),
        Binding("M,shift+m", "load_all", "All", show=False),
        Binding("a", "add_profile", "Add profile", show=False),
        Binding("d", "toggle_details", "Details", show=False),
        Binding("p", "focus_profiles", "Profiles", show=False),
        Binding("l", "focus_images", "Images", show=False),
        Binding("o", "focus_operations", "Operations", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("q", "quit_main", "Quit"),
    ]

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        demo: bool = False,
        open_first: bool | None = None,
        operations_clock: Callable[[], float] | None = None,
        close_workspace: bool | None = None,
    ) -> None:
        super().__init__()
        self.workspace: Workspace | None = workspace
        self.demo = demo
        #: Open the first profile once the workspace is ready (the demo does).
        self.open_first = demo if open_first is None else open_first
        #: Close the workspace when the app ends (default: only one it opened itself).
        self._owns_workspace = workspace is None if close_workspace is None else close_workspace
        self._operations_clock = operations_clock
        self._thread_id = threading.get_ident()
        self._driver_lock: asyncio.Lock | None = None
        self._exit_after = os.environ.get(EXIT_AFTER_ENV, "")
        #: Set once the workspace is open and the panes show it.
        self.ready = asyncio.Event()

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ProfilesPane(id="profiles")
            yield ImagesPane(id="images")
        if self._operations_clock is not None:
            yield OperationsPane(id="operations", clock=self._operations_clock)
        else:
            yield OperationsPane(id="operations")
        yield Footer()

    # The panes live on the first screen; keep them at hand while another
    # screen (editor, inspector) is on top and ``query_one`` would search that.
    @property
    def profiles(self) -> ProfilesPane:
        return self._profiles_pane

    @property
    def images(self) -> ImagesPane:
        return self._images_pane

    @property
    def operations(self) -> OperationsPane:
        return self._operations_pane

    @property
    def on_main_screen(self) -> bool:
        return len(self.screen_stack) <= 1

    def on_mount(self) -> None:
        self._thread_id = threading.get_ident()
        self._profiles_pane = self.query_one(ProfilesPane)
        self._images_pane = self.query_one(ImagesPane)
        self._operations_pane = self.query_one(OperationsPane)
        self._driver_lock = asyncio.Lock()
        self.call_after_refresh(self._initial_focus)
        if self._exit_after == "first-frame":
            # For the start-up benchmark: leave as soon as this frame is painted.
            self.call_after_refresh(self.exit)
            return
        if self.workspace is None:
            self.profiles.set_message("Starting the simulator…" if self.demo else "Reading profiles…")
        self.run_worker(self._open_workspace, thread=True, group="workspace", exit_on_error=False,
                        name="open the workspace")

    def _initial_focus(self) -> None:
        # Only if the user has not moved the focus already (keys typed during start-up).
        if self.on_main_screen and self.screen.focused is None:
            self.screen.set_focus(self.profiles.tree)

    async def on_unmount(self) -> None:
        if self._owns_workspace and self.workspace is not None:
            await self.workspace.aclose()

    # -- the workspace -------------------------------------------------------------
    def _open_workspace(self) -> None:
        """In a thread: open the workspace and read what the panes need."""
        try:
            workspace = self.workspace
            if workspace is None:
                from workbench.connect import Workspace

                if self.demo:
                    workspace = Workspace.demo(on_warning=self._warn)
                else:
                    workspace = Workspace(on_warning=self._warn)
            listing = workspace.profiles.list()
            saved = workspace.saved_operations()
            for op in saved:  # open their drivers here, off the UI thread
                if op.profile:
                    try:
                        workspace.driver(op.profile)
                    except Exception:  # noqa: BLE001 - reported by resume()
                        pass
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.call_from_thread(self._workspace_failed, exc)
            return
        self.call_from_thread(self._workspace_ready, workspace, listing)

    def _workspace_failed(self, error: BaseException) -> None:
        self.profiles.set_message(f"Could not open the workspace: {error}")
        self.notify(str(error), title="Workspace", severity="error", timeout=30)

    def _workspace_ready(self, workspace: Workspace, listing: Any) -> None:
        self.workspace = workspace
        self.operations.attach(workspace.tracker)
        self._show_profiles(listing)
        _started, problems = workspace.resume()
        for op_id, problem in problems.items():
            self.notify(problem, title=f"Operation {op_id[:12]} not resumed", severity="warning", timeout=15)
        entries = self.profiles.entries()
        if not entries:
            self.profiles.set_message("No profiles yet: press a to add one, or run workbench --demo.")
        if self.open_first and entries:
            self.profiles.highlight(entries[0].name)
            self.open_profile(entries[0].name)
        self.ready.set()
        if self._exit_after == "ready":
            self.call_after_refresh(self.exit)

    def _show_profiles(self, listing: Any) -> None:
        self.profiles.set_profiles(
            ProfileEntry(profile.name, profile.provider, profile.description) for profile in listing.profiles
        )
        problems = [str(error) for error in listing.errors]
        self.profiles.set_message("\n".join(problems))

    def reload_profiles(self) -> None:
        if self.workspace is not None:
            self._show_profiles(self.workspace.profiles.list())

    def _warn(self, text: str) -> None:
        """A profile warning (TLS verification off, plain http): shown every time."""
        if threading.get_ident() == self._thread_id:
            self.notify(text, title="Profile warning", severity="warning", timeout=15)
        else:
            self.call_from_thread(self.notify, text, title="Profile warning", severity="warning", timeout=15)

    def _need_workspace(self) -> Workspace | None:
        if self.workspace is None:
            self.notify("Still opening the workspace…", severity="warning")
        return self.workspace

    async def driver_for(self, name: str) -> Driver:
        """The profile's open driver (opened in a thread: secrets, keyring and
        the provider's modules are read there)."""
        workspace = self.workspace
        assert workspace is not None and self._driver_lock is not None
        async with self._driver_lock:
            return await asyncio.to_thread(workspace.driver, name)

    # -- profiles ------------------------------------------------------------------
    def on_profiles_pane_profile_chosen(self, event: ProfilesPane.ProfileChosen) -> None:
        self.open_profile(event.entry.name)

    def open_profile(self, name: str) -> None:
        """List ``name``'s images in the images pane."""
        self.run_worker(self._open_profile(name), group="open-profile", exclusive=True, exit_on_error=False)

    async def _open_profile(self, name: str, filters: dict[str, Any] | None = None) -> None:
        from workbench.core.errors import WorkbenchError

        if self._need_workspace() is None:
            return
        entry = next((e for e in self.profiles.entries() if e.name == name), None)
        if entry is None:
            return
        self.images.clear(f"opening {name}…")
        try:
            driver = await self.driver_for(name)
        except (WorkbenchError, ValueError, OSError) as exc:
            self.profiles.set_status(name, status_of_error(exc))
            self.images.clear(f"{name}: cannot open")
            self.notify(str(exc), title=f"Profile {name}", severity="error", timeout=20)
            return
        self.profiles.set_current(name)
        self.images.show_profile(name, entry.provider, driver, filters)

    def on_images_pane_loaded(self, event: ImagesPane.Loaded) -> None:
        if self.profiles.status(event.profile) is not ProfileStatus.OK:
            self.profiles.set_status(event.profile, ProfileStatus.OK)
        self.refresh_bindings()

    def on_images_pane_load_failed(self, event: ImagesPane.LoadFailed) -> None:
        self.profiles.set_status(event.profile, status_of_error(event.error))
        self.notify(str(event.error), title=f"Listing {event.profile} failed", severity="error", timeout=20)

    def _highlighted_profile(self) -> ProfileEntry | None:
        entry = self.profiles.highlighted
        if entry is None:
            self.notify("Highlight a profile first (p moves to the profiles)", severity="warning")
        return entry

    def action_open_profile(self) -> None:
        entry = self._highlighted_profile()
        if entry is not None:
            self.open_profile(entry.name)

    def action_add_profile(self) -> None:
        workspace = self._need_workspace()
        if workspace is None:
            return
        from workbench.tui.screens.profile_form import ProfileFormScreen

        self.push_screen(ProfileFormScreen(workspace), self._profile_form_closed)

    def action_edit_profile(self) -> None:
        workspace = self._need_workspace()
        entry = self._highlighted_profile()
        if workspace is None or entry is None:
            return
        from workbench.core.errors import WorkbenchError
        from workbench.tui.screens.profile_form import ProfileFormScreen

        try:
            profile = workspace.profiles.load(entry.name)
        except WorkbenchError as exc:
            self.notify(str(exc), title="Cannot edit", severity="error")
            return
        self.push_screen(ProfileFormScreen(workspace, profile), self._profile_form_closed)

    def _profile_form_closed(self, result: Any) -> None:
        if result is None or self.workspace is None:
            return
        name = result.name
        self.workspace.forget_driver(name)
        self.reload_profiles()
        if result.action == "removed":
            self._profile_removed(name)
            return
        self.profiles.set_status(name, result.status or ProfileStatus.UNTESTED)
        self.profiles.highlight(name)
        self.notify(f"Profile {name} saved", title="Profiles")
        if self.images.profile == name:
            self.open_profile(name)  # with the new settings

    def _profile_removed(self, name: str) -> None:
        self.notify(f"Profile {name} and its secrets removed", title="Profiles")
        if self.images.profile == name:
            self.images.clear()
            self.profiles.set_current(None)

    def action_test_profile(self) -> None:
        entry = self._highlighted_profile()
        if entry is not None and self._need_workspace() is not None:
            self.run_worker(self._test_profile(entry.name), group=f"test {entry.name}", exclusive=True,
                            exit_on_error=False)

    async def _test_profile(self, name: str) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.tui.panes.profiles import probe_driver

        assert self.workspace is not None
        self.workspace.forget_driver(name)  # a fresh driver: fresh tokens, current secrets
        try:
            driver = await self.driver_for(name)
        except (WorkbenchError, ValueError, OSError) as exc:
            status, message = status_of_error(exc), str(exc)
        else:
            status, message = await probe_driver(driver)
        self.profiles.set_status(name, status)
        severity = "information" if status is ProfileStatus.OK else "error"
        self.notify(message, title=f"Test {name}: {status.value}", severity=severity, timeout=15)

    def action_remove_profile(self) -> None:
        workspace = self._need_workspace()
        entry = self._highlighted_profile()
        if workspace is None or entry is None:
            return
        from workbench.tui.screens.confirm import ConfirmScreen

        def answered(confirmed: bool | None) -> None:
            if not confirmed:
                return
            from workbench.core.errors import WorkbenchError

            try:
                workspace.profiles.remove(entry.name)
            except WorkbenchError as exc:
                self.notify(str(exc), title="Cannot remove", severity="error")
                return
            workspace.forget_driver(entry.name)
            self.reload_profiles()
            self._profile_removed(entry.name)

        self.push_screen(ConfirmScreen(f"Remove profile '{entry.name}'?",
                                       "Its file and every secret of it in the OS keyring are deleted.",
                                       confirm_label="Remove"), answered)

    # -- images --------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ANYWHERE:
            return True
        if not self.is_mounted or not self.on_main_screen or not hasattr(self, "_images_pane"):
            return False  # the main screen's keys do nothing under an editor or the inspector
        if action in ("load_more", "load_all"):
            stream = self.images.stream
            return stream is not None and not stream.done
        return True

    async def action_filter_images(self) -> None:
        await self.images.open_filter()

    def action_clear_filter(self) -> None:
        if self.images.image_list.filter_text:
            self.images.clear_filter()

    def action_sort_images(self) -> None:
        self.images.image_list.action_cycle_sort()

    def action_refresh_images(self) -> None:
        if self.images.stream is None:
            entry = self.profiles.highlighted
            if entry is not None:
                self.open_profile(entry.name)
            return
        self.images.refresh_images()

    def action_load_more(self) -> None:
        self.images.load_more()

    def action_load_all(self) -> None:
        self.images.load_all()

    def action_toggle_details(self) -> None:
        details = self.images.details
        if self.screen.has_class("-narrow"):
            details.toggle_class("-shown")
        else:
            details.toggle_class("-hidden")

    # Focus at once (not on the next message), so keys typed right after go to the pane.
    def action_focus_profiles(self) -> None:
        self.screen.set_focus(self.profiles.tree)

    def action_focus_images(self) -> None:
        self.screen.set_focus(self.images.image_list)

    def action_focus_operations(self) -> None:
        self.screen.set_focus(self.operations.table)

    def on_image_list_selected(self, event: ImageList.Selected) -> None:
        self.action_edit_image()

    def action_edit_image(self) -> None:
        self._open_editor(self.images.image_list.highlighted, new=False)

    def action_new_image(self) -> None:
        self._open_editor(None, new=True)

    def _open_editor(self, image: Any, *, new: bool) -> None:
        pane = self.images
        workspace = self._need_workspace()
        if workspace is None:
            return
        if pane.stream is None:
            self.notify("Open a profile first: Enter on a profile lists its images", severity="warning")
            return
        if image is None and not new:
            self.notify("No image highlighted; n creates a new one", severity="warning")
            return
        from workbench.tui.screens.editor import EditorScreen

        stream = pane.stream
        self.push_screen(EditorScreen(workspace, stream.profile, stream.provider, stream.driver, image))

    def on_editor_screen_sent(self, event: EditorScreen.Sent) -> None:
        from workbench.core.images import ImageSummary
        from workbench.core.operations import Operation

        result = event.result
        if isinstance(result, Operation):
            self.notify(f"{result.kind} {result.target}: follow it in the operations pane",
                        title="Operation started")
        elif isinstance(result, ImageSummary):
            if self.images.profile == event.profile:
                self.images.image_list.update_image(result)
            self.notify(f"{event.request.summary()}: done", title="Sent")
        else:
            self.notify(f"{event.request.summary()}: done", title="Sent")

    def on_editor_screen_browse(self, event: EditorScreen.Browse) -> None:
        self.run_worker(self._open_profile(event.profile, event.filters), group="open-profile", exclusive=True,
                        exit_on_error=False)

    # -- operations ----------------------------------------------------------------
    def on_operations_pane_finished(self, event: OperationsPane.Finished) -> None:
        op = event.operation
        severity = {"succeeded": "information", "canceled": "warning"}.get(op.status.value, "error")
        message = f"{op.kind} {op.target}: {op.status.value}"
        if op.error and op.status.value != "succeeded":
            message += f" ({op.error})"
        self.notify(message, title="Operation finished", severity=severity, timeout=10)
        self.run_worker(self._refresh_after(op), group="refresh-image", exit_on_error=False)

    async def _refresh_after(self, op: Operation) -> None:
        """Show the image an operation changed as it now is."""
        from workbench.core.errors import ApiError

        pane = self.images
        stream = pane.stream
        if stream is None or op.profile != stream.profile:
            return
        image_id = op.poll_state.get("image_id") or op.target
        if not image_id:
            return
        if op.kind == "delete" and op.status.value == "succeeded":
            pane.image_list.remove_image(image_id)
            return
        try:
            summary = await stream.driver.get_image(image_id)
        except ApiError as exc:
            if exc.status == 404:
                pane.image_list.remove_image(image_id)
            else:
                self.notify(str(exc), title=f"Could not refresh {image_id}", severity="warning")
            return
        except Exception as exc:  # noqa: BLE001
            self.notify(str(exc), title=f"Could not refresh {image_id}", severity="warning")
            return
        if pane.stream is stream:
            pane.image_list.update_image(summary)

    def action_cancel_operation(self) -> None:
        op = self.operations.highlighted
        if op is None:
            self.notify("No operation highlighted (o moves to the operations)", severity="warning")
            return
        if op.done:
            self.notify(f"{op.kind} {op.target} has already finished", severity="warning")
            return
        self.run_worker(self._cancel(op.id), group="cancel", exit_on_error=False)

    async def _cancel(self, op_id: str) -> None:
        from workbench.core.errors import WorkbenchError

        workspace = self.workspace
        assert workspace is not None
        try:
            op = await workspace.tracker.cancel(op_id)
        except WorkbenchError as exc:
            self.notify(str(exc), title="Cannot cancel", severity="warning", timeout=10)
            return
        self.notify(f"Cancel requested for {op.kind} {op.target}", title="Operations")

    # -- screens -------------------------------------------------------------------
    async def action_quit_main(self) -> None:
        """q: quit from the main screen (ctrl+q quits from anywhere)."""
        self.exit()

    def action_inspector(self) -> None:
        workspace = self._need_workspace()
        if workspace is None:
            return
        from workbench.tui.screens.inspector import InspectorScreen

        self.push_screen(InspectorScreen(workspace.request_log))

    def action_help(self) -> None:
        from workbench.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())


def run(demo: bool = False) -> int:
    """Run the app in this terminal; the process's exit status."""
    app = WorkbenchApp(demo=demo)
    app.run()
    return app.return_code or 0
