"""Every action of the app, as data: for the command palette and the help screen.

``APP_COMMANDS`` is the one list of what a user can do. The command palette
(``WorkbenchCommands``, installed through ``WorkbenchApp.COMMANDS``) offers the
commands of the screen it was opened on, and the help screen (``?``) prints the
same list with each command's key, so neither can forget an action.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["APP_COMMANDS", "AppCommand", "WorkbenchCommands", "commands_for"]

ScreenKind = Literal["main", "editor", "inspector"]


@dataclass(frozen=True, slots=True)
class AppCommand:
    """One action a user can take."""

    #: What the palette shows and matches, e.g. "Add profile".
    name: str
    #: One line saying what it does.
    help: str
    #: The action to run, in Textual's action syntax ("app.add_profile", "screen.send").
    action: str
    #: The key bound to it, as the help screen shows it ("" when it has none).
    key: str
    #: The heading it is listed under in the help screen.
    group: str
    #: The screen it belongs to.
    screen: ScreenKind = "main"


APP_COMMANDS: tuple[AppCommand, ...] = (
    # Profiles
    AppCommand("Focus profiles", "Move to the profiles pane", "app.focus_profiles", "p", "Profiles"),
    AppCommand("Open profile", "List the images of the highlighted profile", "app.open_profile", "enter", "Profiles"),
    AppCommand("Add profile", "Add a cloud account (secrets go to the OS keyring)", "app.add_profile", "a", "Profiles"),
    AppCommand("Edit profile", "Edit the highlighted profile and its secrets", "app.edit_profile", "e", "Profiles"),
    AppCommand("Test profile", "Authenticate and read one image with the highlighted profile",
               "app.test_profile", "t", "Profiles"),
    AppCommand("Remove profile", "Remove the highlighted profile and its secrets (asks first)",
               "app.remove_profile", "delete", "Profiles"),
    # Images
    AppCommand("Focus images", "Move to the images list", "app.focus_images", "l", "Images"),
    AppCommand("Filter images", "Type to filter the images (name, id, any column)", "app.filter_images", "/",
               "Images"),
    AppCommand("Clear filter", "Show every loaded image again", "app.clear_filter", "escape", "Images"),
    AppCommand("Sort images", "Sort by the next column (S reverses)", "app.sort_images", "s", "Images"),
    AppCommand("Refresh images", "List the profile's images again from the start", "app.refresh_images", "r",
               "Images"),
    AppCommand("Load more images", "Fetch the next thousand images", "app.load_more", "m", "Images"),
    AppCommand("Load all images", "Fetch every remaining image (streams in)", "app.load_all", "M", "Images"),
    AppCommand("Toggle details", "Show or hide the details of the highlighted image", "app.toggle_details", "d",
               "Images"),
    AppCommand("Edit image", "Open the editor on the highlighted image", "app.edit_image", "e", "Images"),
    AppCommand("New image", "Open the editor to create an image", "app.new_image", "n", "Images"),
    # Operations
    AppCommand("Focus operations", "Move to the operations pane", "app.focus_operations", "o", "Operations"),
    AppCommand("Cancel operation", "Ask the cloud to cancel the highlighted operation (where it can)",
               "app.cancel_operation", "c", "Operations"),
    # App
    AppCommand("Inspector", "The request/response log of this session (masked), copy as curl",
               "app.inspector", "i", "App"),
    AppCommand("Toggle light/dark", "Switch between the light and dark themes", "app.toggle_dark", "ctrl+t", "App"),
    AppCommand("Help", "Show the keys and commands", "app.help", "?", "App"),
    AppCommand("Quit", "Leave the workbench (unfinished operations are saved)", "app.quit", "q", "App"),
    # Editor screen
    AppCommand("Send request", "Send the request shown in the preview (asks first when destructive)",
               "screen.send", "ctrl+s", "Editor", "editor"),
    AppCommand("Close editor", "Close the editor", "screen.close", "escape", "Editor", "editor"),
    # Inspector screen
    AppCommand("Copy as curl", "Copy the highlighted request as a curl command (secrets masked)",
               "screen.copy_curl", "c", "Inspector", "inspector"),
    AppCommand("Clear log", "Forget the exchanges logged so far", "screen.clear_log", "x", "Inspector", "inspector"),
    AppCommand("Close inspector", "Back to the workbench", "screen.close", "escape", "Inspector", "inspector"),
)


def commands_for(screen: ScreenKind) -> Iterator[AppCommand]:
    """The commands of ``screen``; the app-wide ones (theme, help, quit) everywhere."""
    for command in APP_COMMANDS:
        if command.screen == screen or (command.group == "App" and command.action != "app.inspector"):
            yield command


def _screen_kind(screen: object) -> ScreenKind:
    return getattr(screen, "COMMAND_SCOPE", "main")


class WorkbenchCommands(Provider):
    """The command palette's source of workbench commands."""

    def _commands(self) -> list[AppCommand]:
        return list(commands_for(_screen_kind(self.screen)))

    def _runner(self, command: AppCommand):
        # The palette is gone when this runs: the action applies to the screen below it.
        return partial(self.app.run_action, command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.name, self._runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), self._runner(command), text=command.name,
                          help=command.help)
