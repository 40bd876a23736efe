"""The profiles pane: saved profiles grouped by cloud, each with its status mark."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

__all__ = [
    "PROVIDER_TITLES",
    "ProfileEntry",
    "ProfileStatus",
    "ProfileTree",
    "ProfilesPane",
    "probe_driver",
    "status_of_error",
]

#: Each cloud's heading, in display order.
PROVIDER_TITLES: dict[str, str] = {
    "kusto": "Azure Data Explorer",
    "glance": "OpenStack Glance",
    "ims": "Huawei IMS",
    "batch": "Azure Batch",
    "yandex": "Yandex Compute",
}


class ProfileStatus(StrEnum):
    """What the workbench knows about a profile's credentials."""

    UNTESTED = "untested"
    OK = "ok"
    AUTH_FAILED = "auth failed"
    #: Anything else that stopped it: a missing secret, an unreachable endpoint.
    ERROR = "error"


_MARKS: dict[ProfileStatus, tuple[str, str]] = {
    ProfileStatus.UNTESTED: ("○", "profile-tree--untested"),
    ProfileStatus.OK: ("✓", "profile-tree--ok"),
    ProfileStatus.AUTH_FAILED: ("✗", "profile-tree--auth-failed"),
    ProfileStatus.ERROR: ("!", "profile-tree--error"),
}


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """A profile as the pane shows it."""

    name: str
    provider: str
    description: str = ""


class ProfileTree(Tree[ProfileEntry | None]):
    """Profiles under one heading per cloud; a leaf's mark shows its status."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "profile-tree--untested",
        "profile-tree--ok",
        "profile-tree--auth-failed",
        "profile-tree--error",
        "profile-tree--current",
    }

    DEFAULT_CSS = """
    ProfileTree {
        & > .profile-tree--untested { color: $text-muted; }
        & > .profile-tree--ok { color: $text-success; text-style: bold; }
        & > .profile-tree--auth-failed { color: $text-error; text-style: bold; }
        & > .profile-tree--error { color: $text-warning; text-style: bold; }
        & > .profile-tree--current { text-style: bold underline; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "app.add_profile", "Add"),
        Binding("e", "app.edit_profile", "Edit"),
        Binding("t", "app.test_profile", "Test"),
        Binding("delete,x", "app.remove_profile", "Remove"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Profiles", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.statuses: dict[str, ProfileStatus] = {}
        self.current: str | None = None

    def render_label(self, node: TreeNode[ProfileEntry | None], base_style: Style, style: Style) -> Text:
        entry = node.data
        if entry is None:
            return super().render_label(node, base_style, style)
        mark, component = _MARKS[self.statuses.get(entry.name, ProfileStatus.UNTESTED)]
        label = Text(entry.name)
        if entry.name == self.current:
            label.stylize(self.get_component_rich_style("profile-tree--current", partial=True))
        label.stylize(style)
        return Text.assemble((mark + " ", self.get_component_rich_style(component, partial=True)), label)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate()  # the marks' colours come from the theme


def _move_cursor(tree: ProfileTree, node: TreeNode) -> None:
    tree.last_line  # noqa: B018 - lays the lines out, so a node added just now has its line
    tree.move_cursor(node)


class ProfilesPane(Vertical):
    """The left pane. Posts ``ProfileChosen`` when the user opens a profile."""

    class ProfileChosen(Message):
        def __init__(self, entry: ProfileEntry) -> None:
            self.entry = entry
            super().__init__()

    def compose(self) -> ComposeResult:
        yield Static("Profiles", classes="pane-title", id="profiles-title")
        yield ProfileTree(id="profile-tree")
        yield Static("", id="profiles-message", classes="pane-message")

    @property
    def tree(self) -> ProfileTree:
        return self.query_one(ProfileTree)

    # -- content -------------------------------------------------------------
    def set_message(self, text: str) -> None:
        """A line under the tree: "Starting the simulator…", a broken profile file, ..."""
        message = self.query_one("#profiles-message", Static)
        message.update(Text(text))
        message.display = bool(text)

    def set_profiles(self, entries: Iterable[ProfileEntry]) -> None:
        """Show these profiles (the highlighted one stays highlighted if it still exists)."""
        tree = self.tree
        highlighted = self.highlighted
        tree.clear()
        by_provider: dict[str, list[ProfileEntry]] = {}
        for entry in entries:
            by_provider.setdefault(entry.provider, []).append(entry)
        known = set(by_provider)
        for name in list(tree.statuses):
            if all(name != e.name for group in by_provider.values() for e in group):
                del tree.statuses[name]
        order = [p for p in PROVIDER_TITLES if p in known] + sorted(known - set(PROVIDER_TITLES))
        target: TreeNode | None = None
        for provider in order:
            group = tree.root.add(Text(PROVIDER_TITLES.get(provider, provider)), data=None, expand=True)
            for entry in sorted(by_provider[provider], key=lambda e: e.name):
                leaf = group.add_leaf(Text(entry.name), data=entry)
                if highlighted is not None and entry.name == highlighted.name:
                    target = leaf
        if target is not None:
            _move_cursor(tree, target)
        self.query_one("#profiles-title", Static).update(f"Profiles ({sum(map(len, by_provider.values()))})")

    def entries(self) -> list[ProfileEntry]:
        found = []
        for group in self.tree.root.children:
            found.extend(leaf.data for leaf in group.children if leaf.data is not None)
        return found

    @property
    def highlighted(self) -> ProfileEntry | None:
        node = self.tree.cursor_node
        return node.data if node is not None else None

    def highlight(self, name: str) -> bool:
        """Move the cursor to profile ``name``."""
        for group in self.tree.root.children:
            for leaf in group.children:
                if leaf.data is not None and leaf.data.name == name:
                    _move_cursor(self.tree, leaf)
                    return True
        return False

    def set_status(self, name: str, status: ProfileStatus) -> None:
        tree = self.tree
        tree.statuses[name] = status
        self._refresh_leaf(name)

    def status(self, name: str) -> ProfileStatus:
        return self.tree.statuses.get(name, ProfileStatus.UNTESTED)

    def set_current(self, name: str | None) -> None:
        """Mark the profile whose images are shown."""
        tree = self.tree
        previous, tree.current = tree.current, name
        for changed in (previous, name):
            if changed is not None:
                self._refresh_leaf(changed)

    def _refresh_leaf(self, name: str) -> None:
        for group in self.tree.root.children:
            for leaf in group.children:
                if leaf.data is not None and leaf.data.name == name:
                    leaf.refresh()

    # -- events --------------------------------------------------------------
    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        entry = event.node.data
        if entry is not None:
            self.post_message(self.ProfileChosen(entry))


async def probe_driver(driver: object) -> tuple[ProfileStatus, str]:
    """Authenticate and read one image: ``(status, what happened)`` in words a user can act on."""
    from workbench.core.errors import ApiError, AuthError, WorkbenchError

    try:
        async for _image in driver.list_images(limit=1):  # type: ignore[attr-defined]
            break
    except AuthError as exc:
        return ProfileStatus.AUTH_FAILED, str(exc)
    except ApiError as exc:
        if exc.status in (401, 403):
            return ProfileStatus.AUTH_FAILED, str(exc)
        return ProfileStatus.ERROR, str(exc)
    except (WorkbenchError, ValueError, OSError) as exc:
        return ProfileStatus.ERROR, str(exc)
    return ProfileStatus.OK, "authenticated and read the image list"


def status_of_error(error: BaseException) -> ProfileStatus:
    """The status mark a failed listing earns."""
    from workbench.core.errors import ApiError, AuthError

    if isinstance(error, AuthError) or isinstance(error, ApiError) and error.status in (401, 403):
        return ProfileStatus.AUTH_FAILED
    return ProfileStatus.ERROR
