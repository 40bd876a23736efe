"""Generate ``screenshots/*.svg``: each main screen of the running app on the demo.

Runs ``WorkbenchApp(demo=True)`` headless (``App.run_test``) on the embedded
simulator (a real loopback server, as ``workbench --demo`` uses), drives it with
the keyboard like a user, and saves an SVG of each screen with
``App.save_screenshot``::

    .venv/bin/python scripts/screenshots.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workbench.tui.app import WorkbenchApp  # noqa: E402


async def wait_for(pilot: Any, condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


def screen_name(app: WorkbenchApp) -> str:
    return type(app.screen).__name__


async def open_profile(pilot: Any, app: WorkbenchApp, name: str) -> None:
    app.profiles.highlight(name)
    app.open_profile(name)
    await wait_for(pilot, lambda: app.images.profile == name and app.images.stream.done
                   and not app.images.loading, f"{name}'s images")
    app.images.image_list.focus()
    await pilot.pause(0.2)


async def wide_screens(out: Path) -> list[str]:
    saved: list[str] = []
    app = WorkbenchApp(demo=True)

    def shot(name: str) -> None:
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        saved.append(name)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, app.ready.is_set, "the demo workspace")
        await wait_for(pilot, lambda: app.images.stream is not None and app.images.stream.done, "the first profile")
        app.images.image_list.focus()
        await pilot.pause(0.2)
        shot("main")

        # A Kusto put through the editor: the operation is followed live.
        await pilot.press("e")
        await wait_for(pilot, lambda: screen_name(app) == "EditorScreen", "the Kusto editor")
        await pilot.pause(0.3)
        shot("editor-kusto")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(app) != "EditorScreen", "the send")
        await wait_for(pilot, lambda: app.operations.operations, "the operation's row")
        app.operations.table.focus()
        await pilot.pause(0.3)
        shot("operations")

        app.theme = "textual-light"
        app.images.image_list.focus()
        await pilot.pause(0.3)
        shot("main-light")
        app.theme = "textual-dark"

        await open_profile(pilot, app, "demo-yandex")
        await pilot.press("slash", *"ubuntu")
        await pilot.press("enter")
        await pilot.pause(0.2)
        shot("filter")
        await pilot.press("escape")

        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "EditorScreen", "the Yandex create editor")
        await pilot.pause(0.3)
        shot("editor-yandex-create")
        await pilot.press("escape")

        await open_profile(pilot, app, "demo-glance")
        await pilot.press("e")
        await wait_for(pilot, lambda: screen_name(app) == "EditorScreen", "the Glance patch editor")
        await pilot.pause(0.3)
        shot("editor-glance-patch")
        await pilot.press("escape")

        await open_profile(pilot, app, "demo-batch")
        shot("batch")

        await pilot.press("i")
        await wait_for(pilot, lambda: screen_name(app) == "InspectorScreen", "the inspector")
        await pilot.pause(0.2)
        shot("inspector")
        await pilot.press("escape")

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: screen_name(app) == "HelpScreen", "the help screen")
        shot("help")
        await pilot.press("escape")

        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "ProfileFormScreen", "the profile form")
        await pilot.pause(0.2)
        shot("profile-form")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"profile")
        await pilot.pause(0.5)
        shot("command-palette")
        await pilot.press("escape")
    return saved


async def narrow_screen(out: Path) -> list[str]:
    app = WorkbenchApp(demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, app.ready.is_set, "the demo workspace")
        await wait_for(pilot, lambda: app.images.stream is not None and app.images.stream.done, "the first profile")
        app.images.image_list.focus()
        await pilot.pause(0.2)
        app.save_screenshot(filename="main-80x24.svg", path=str(out))
    return ["main-80x24"]


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    saved = await wide_screens(out)
    saved += await narrow_screen(out)
    for name in saved:
        print(out / f"{name}.svg")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    # The demo's profiles and operations live in a throwaway home: the user's are never touched.
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="workbench-screenshots-"))
    asyncio.run(main(args.out))
