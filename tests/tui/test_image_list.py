"""The images pane's list widget, driven headless through a Pilot."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from rich.cells import cell_len
from rich.color import Color as RichColor
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Input, Static

from workbench.core.format import format_size
from workbench.core.images import ImageSummary
from workbench.tui.widgets.image_list import ImageList, fit_columns

DISTROS = ("ubuntu", "debian", "centos", "windows", "rocky", "alma", "fedora", "suse")
ROLES = ("server", "minimal", "gpu", "db")
GiB = 1024**3


def glance_images(count: int, start: int = 0) -> list[ImageSummary]:
    """Synthetic Glance summaries: varied names, sizes, dates, visibilities."""
    images = []
    for i in range(start, start + count):
        day = 1 + i % 28
        images.append(
            ImageSummary(
                provider="glance",
                id=f"{i:08x}-0000-4000-8000-{i:012x}",
                name=f"{DISTROS[i % 8]}-{20 + i % 5}.04-{ROLES[i // 8 % 4]}-{i}",
                status="active" if i % 10 else "queued",
                os="linux",
                size=(i * 7919) % (40 * GiB),
                created=f"2023-03-{day:02d}T10:00:00Z",
                extras={
                    "visibility": ("public", "private", "shared", "community")[i % 4],
                    "disk_format": ("qcow2", "raw", "vmdk")[i % 3],
                    "updated_at": f"2024-05-{day:02d}T12:30:00Z",
                },
            )
        )
    return images


def batch_images() -> list[ImageSummary]:
    def image(sku: str, end_of_life: str, verification: str = "verified") -> ImageSummary:
        return ImageSummary(
            provider="batch",
            id=f"canonical/ubuntu/{sku}",
            name=f"canonical/ubuntu/{sku}",
            status=verification,
            os="linux",
            extras={
                "nodeAgentSKUId": "batch.node.ubuntu 20.04",
                "publisher": "canonical",
                "offer": "ubuntu",
                "sku": sku,
                "verificationType": verification,
                "batchSupportEndOfLife": end_of_life,
            },
        )

    return [
        image("18_04-lts", "2020-06-30T00:00:00Z"),
        image("22_04-lts", "2099-12-31T00:00:00Z"),
        image("20_04-lts", "", "unverified"),
    ]


class ListApp(App[None]):
    """An ImageList that records the messages it posts."""

    def __init__(self, images: Iterable[ImageSummary] = (), **list_options) -> None:
        super().__init__()
        self.images = list(images)
        self.list_options = list_options
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield ImageList(self.images, **self.list_options)

    def on_mount(self) -> None:
        self.query_one(ImageList).focus()

    def on_image_list_highlighted(self, message: ImageList.Highlighted) -> None:
        self.messages.append(message)

    def on_image_list_selected(self, message: ImageList.Selected) -> None:
        self.messages.append(message)

    def on_image_list_count_changed(self, message: ImageList.CountChanged) -> None:
        self.messages.append(message)

    def last(self, kind: type[Message]) -> Message:
        return [message for message in self.messages if isinstance(message, kind)][-1]


class PaneApp(App[None]):
    """The list as the images pane places it: beside a sidebar, under a filter."""

    CSS = """
    #sidebar { width: 24; }
    """

    def __init__(self, images: list[ImageSummary]) -> None:
        super().__init__()
        self.images = images

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("Profiles", id="sidebar")
            with Vertical():
                yield Input(placeholder="/ filter")
                yield ImageList(self.images)
        yield Footer()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(ImageList).filter_text = event.value


def screen_lines(app: App) -> list[str]:
    """The text of every line on screen, as the compositor draws it."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def list_lines(image_list: ImageList) -> list[str]:
    """The text of the list's own lines (header first), without the scrollbar."""
    height = image_list.scrollable_content_region.height
    return [image_list.render_line(y).text for y in range(height)]


def matches(images: list[ImageSummary], text: str) -> list[ImageSummary]:
    """The filter, recomputed the slow obvious way."""
    needle = text.casefold()
    return [
        image
        for image in images
        if any(
            needle in field.casefold()
            for field in (image.name, image.id, image.status, image.os, *image.extras.values())
        )
    ]


# -- Rendering ----------------------------------------------------------------


async def test_renders_header_and_only_the_visible_rows() -> None:
    images = glance_images(1_000)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.pause()
        lines = screen_lines(app)
        header = lines[0].split()
        assert header == ["Name", "Status", "Visibility", "Format", "Size", "Updated"]
        for row, image in enumerate(images[:19], start=1):
            cells = lines[row].split()
            assert cells[0] == image.name
            assert cells[1] == image.status
            assert cells[2] == image.extras["visibility"]
            assert cells[3] == image.extras["disk_format"]
            assert " ".join(cells[4:6]) == format_size(image.size)
            assert cells[6] == image.extras["updated_at"][:10]
        assert images[19].name not in "\n".join(lines)
        # Only what is on screen was rendered and cached.
        assert 0 < len(image_list._strip_cache) <= 19


async def test_columns_follow_the_provider() -> None:
    yandex = ImageSummary(
        "yandex",
        "fd8abc",
        "ubuntu-2204",
        "READY",
        created="2024-02-03T04:05:06Z",
        extras={"family": "ubuntu-2204-lts", "minDiskSize": str(5 * GiB)},
    )
    kusto = ImageSummary(
        "kusto",
        "/subscriptions/x/sandboxCustomImages/img1",
        "img1",
        "Succeeded",
        os="Python",
        extras={"languageVersion": "3.10.8"},
    )
    kusto_on_base = ImageSummary(
        "kusto", "/x/img2", "img2", "Creating", os="Python", extras={"baseImageName": "img1"}
    )
    cases = [
        ([yandex], ["Name", "Family", "Status", "Min disk", "Created"],
         ["ubuntu-2204", "ubuntu-2204-lts", "READY", "5.0 GiB", "2024-02-03"]),
        ([kusto, kusto_on_base], ["Name", "Language", "Version / base image", "State"],
         ["img1", "Python", "3.10.8", "Succeeded"]),
        (batch_images(), ["Node agent SKU", "Publisher/offer/sku", "OS", "Verification",
                          "End of life"],
         ["batch.node.ubuntu 20.04", "canonical/ubuntu/18_04-lts", "linux", "verified",
          "2020-06-30"]),
    ]
    for images, titles, first_row in cases:
        app = ListApp(images)
        async with app.run_test(size=(120, 10)) as pilot:
            await pilot.pause()
            image_list = app.query_one(ImageList)
            assert [column.title for column in image_list.visible_columns] == titles
            lines = list_lines(image_list)
            for title in titles:
                assert title in lines[0]
            position = 0
            for cell in first_row:
                position = lines[1].index(cell, position)
                position += len(cell)
    # A base image shows where a language version would.
    app = ListApp([kusto_on_base])
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        assert "img1" in list_lines(app.query_one(ImageList))[1]


def test_columns_fit_the_width_and_drop_the_least_important_first() -> None:
    from workbench.tui.widgets.image_list import PROVIDER_COLUMNS

    for provider, columns in PROVIDER_COLUMNS.items():
        for width in (40, 56, 78, 120, 200):
            layout = fit_columns(columns, width)
            used = 1 + sum(cell_width for _, cell_width in layout) + len(layout) - 1
            assert used <= width, (provider, width)
            assert all(cell_width >= column.min_width for column, cell_width in layout)
            kept = {column.key for column, _ in layout}
            dropped = [column for column in columns if column.key not in kept]
            if dropped:
                # Everything dropped mattered less than everything kept.
                assert min(c.priority for c in dropped) >= max(c.priority for c, _ in layout)
        wide = fit_columns(columns, 200)
        assert len(wide) == len(columns)
        assert 1 + sum(w for _, w in wide) + len(wide) - 1 == 200
    glance = fit_columns(PROVIDER_COLUMNS["glance"], 56)
    assert [column.key for column, _ in glance][:2] == ["name", "status"]
    assert "disk_format" not in [column.key for column, _ in glance]


async def test_cells_are_cropped_with_an_ellipsis_and_wide_characters_align() -> None:
    images = [
        ImageSummary("glance", "a", "x" * 200, "active", extras={"visibility": "public"}),
        ImageSummary("glance", "b", "镜像-" * 30, "active", extras={"visibility": "public"}),
        ImageSummary("glance", "c", "tab\there\nnew", "active", extras={"visibility": "private"}),
    ]
    app = ListApp(images)
    async with app.run_test(size=(80, 8)) as pilot:
        await pilot.pause()
        lines = list_lines(app.query_one(ImageList))
        assert {cell_len(line) for line in lines} == {80}

        def cell_of(line: str, text: str) -> int:
            return cell_len(line[: line.index(text)])

        status_cell = cell_of(lines[0], "Status")
        for line in lines[1:4]:
            # Every status sits under the header's, whatever the name's width.
            assert cell_of(line, "active") == status_cell
        assert lines[1].startswith(" " + "x" * (status_cell - 3) + "…")
        assert "…" in lines[2]
        assert lines[3].startswith(" tab here new ")


# -- Cursor and messages ------------------------------------------------------


async def test_cursor_keys_move_and_post_highlighted_then_enter_selects() -> None:
    images = glance_images(500)
    app = ListApp(images)
    async with app.run_test(size=(100, 22)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.pause()
        assert app.last(ImageList.Highlighted).summary is images[0]
        page = image_list.scrollable_content_region.height - 1

        await pilot.press("down", "down", "down", "up")
        assert image_list.cursor_row == 2
        assert app.last(ImageList.Highlighted).summary is images[2]

        await pilot.press("pagedown")
        assert image_list.cursor_row == 2 + page
        await pilot.press("pageup")
        assert image_list.cursor_row == 2

        await pilot.press("end")
        await pilot.pause()
        assert image_list.cursor_row == 499
        assert app.last(ImageList.Highlighted).summary is images[499]
        lines = screen_lines(app)
        assert lines[0].split()[0] == "Name"  # the header stays on top
        assert lines[21].split()[0] == images[499].name  # the cursor is in view

        await pilot.press("home", "down", "enter")
        await pilot.pause()
        selected = app.last(ImageList.Selected)
        assert selected.summary is images[1]
        assert selected.control is image_list
        assert screen_lines(app)[2].split()[0] == images[1].name

        await pilot.press("up", "up")  # already at the top: stays there
        assert image_list.cursor_row == 0


async def test_cursor_row_is_drawn_with_the_cursor_style() -> None:
    app = ListApp(glance_images(50))
    async with app.run_test(size=(100, 12)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.press("down")
        cursor_style = image_list.get_component_rich_style("image-list--cursor")
        row_styles = [image_list.render_line(y)._segments[0].style for y in (1, 2, 3)]
        assert row_styles[1].bgcolor == cursor_style.bgcolor
        assert row_styles[0].bgcolor != cursor_style.bgcolor
        assert row_styles[2] == row_styles[0]


async def test_mouse_click_moves_the_cursor_and_a_second_click_selects() -> None:
    images = glance_images(100)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.pause()
        await pilot.click(ImageList, offset=(5, 4))
        assert image_list.highlighted is images[3]
        assert not [m for m in app.messages if isinstance(m, ImageList.Selected)]
        await pilot.click(ImageList, offset=(5, 4))
        assert app.last(ImageList.Selected).summary is images[3]

        # The header sorts; a second click on the same column reverses.
        size_x = screen_lines(app)[0].index("Size")
        await pilot.click(ImageList, offset=(size_x, 0))
        await pilot.pause()
        assert (image_list.sort_key, image_list.sort_reverse) == ("size", False)
        assert "Size ▲" in screen_lines(app)[0]
        await pilot.click(ImageList, offset=(size_x, 0))
        await pilot.pause()
        assert (image_list.sort_key, image_list.sort_reverse) == ("size", True)
        assert "Size ▼" in screen_lines(app)[0]
        assert image_list.shown_images[0].size == max(image.size for image in images)


# -- Filtering ----------------------------------------------------------------


async def test_filter_is_case_insensitive_and_counts_shown_over_total() -> None:
    images = glance_images(2_000)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        for text in ("DEB", "deb", "debian-22", "PRIVATE", "qcow2", "2024-05-07", "0000-4000"):
            image_list.filter_text = text
            await pilot.pause()
            expected = matches(images, text)
            assert image_list.shown_images == expected, text
            assert image_list.count_text == f"{len(expected):,} / 2,000"
            message = app.last(ImageList.CountChanged)
            assert (message.shown, message.total) == (len(expected), 2_000)
        # An id pasted whole finds its image.
        image_list.filter_text = images[1234].id.upper()
        assert image_list.shown_images == [images[1234]]


async def test_a_longer_filter_only_searches_the_previous_matches() -> None:
    images = glance_images(3_000)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        shown: dict[str, int] = {}
        # (filter, how many images it must examine)
        steps = [
            ("d", 3_000),
            ("de", "d"),  # only the matches of "d"
            ("deb", "de"),
            ("debi", "deb"),
            ("deb", 0),  # erased back: remembered, nothing searched
            ("d", 0),
            ("dev", "d"),  # a different third letter: from the matches of "d"
            ("", 0),  # everything, nothing to search
            ("c", 3_000),
            ("xe", 3_000),  # not an extension: everything again
        ]
        for text, scans in steps:
            image_list.filter_text = text
            await pilot.pause()
            assert image_list.shown_images == matches(images, text), text
            expected_scans = shown[scans] if isinstance(scans, str) else scans
            assert image_list.scanned == expected_scans, text
            shown[text] = image_list.shown_count
        # Sorting or loading more forgets the remembered results.
        image_list.filter_text = "de"
        image_list.filter_text = "deb"
        image_list.append_images(glance_images(10, start=3_000))
        image_list.filter_text = "de"
        assert image_list.scanned == 3_010
        assert image_list.shown_images == matches(images + glance_images(10, start=3_000), "de")


async def test_filter_keeps_the_highlighted_image_when_it_still_matches() -> None:
    images = glance_images(400)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        target = images[201]  # debian
        image_list.move_cursor(201)
        image_list.filter_text = "debian"
        await pilot.pause()
        assert image_list.highlighted is target
        screen_row = 1 + image_list.cursor_row - image_list.scroll_offset.y
        assert target.name in screen_lines(app)[screen_row]
        image_list.filter_text = "windows"
        await pilot.pause()
        assert image_list.cursor_row == 0
        assert app.last(ImageList.Highlighted).summary is matches(images, "windows")[0]

        image_list.filter_text = "no such image"
        await pilot.pause()
        assert app.last(ImageList.Highlighted).summary is None
        assert image_list.highlighted is None
        assert image_list.count_text == "0 / 400"
        assert "No images match “no such image”" in screen_lines(app)[1]
        await pilot.press("enter", "down")  # nothing to select or move to
        assert not [m for m in app.messages if isinstance(m, ImageList.Selected)]


async def test_typing_in_the_pane_filter_drives_the_list() -> None:
    images = glance_images(1_000)
    app = PaneApp(images)
    async with app.run_test(size=(80, 24)) as pilot:
        image_list = app.query_one(ImageList)
        app.query_one(Input).focus()
        await pilot.press("r", "o", "c")
        await pilot.pause()
        assert image_list.filter_text == "roc"
        assert image_list.shown_images == matches(images, "roc")
        await pilot.press("backspace")
        await pilot.pause()
        assert image_list.shown_images == matches(images, "ro")


# -- Sorting ------------------------------------------------------------------


async def test_sort_by_each_column_and_back_to_insertion_order() -> None:
    images = glance_images(600)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)):
        image_list = app.query_one(ImageList)
        image_list.move_cursor(37)
        target = image_list.highlighted

        image_list.sort_by("size")
        assert [i.size for i in image_list.shown_images] == sorted(i.size for i in images)
        assert image_list.highlighted is target  # the cursor follows its image
        image_list.sort_by("name", reverse=True)
        assert [i.name for i in image_list.shown_images] == sorted(
            (i.name for i in images), key=str.casefold, reverse=True
        )
        image_list.sort_by("updated")
        updated = [i.extras["updated_at"] for i in image_list.shown_images]
        assert updated == sorted(updated)
        # Ties keep the order the images came in.
        same_day = [i for i in image_list.shown_images if i.extras["updated_at"] == updated[0]]
        assert same_day == [i for i in images if i.extras["updated_at"] == updated[0]]
        image_list.sort_by(None)
        assert image_list.shown_images == images
        with pytest.raises(ValueError, match="column_key: no column 'family'"):
            image_list.sort_by("family")


async def test_sort_keys_cycle_columns_and_reverse() -> None:
    images = glance_images(50)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.press("s")
        assert (image_list.sort_key, image_list.sort_reverse) == ("name", False)
        await pilot.press("s")
        assert image_list.sort_key == "status"
        await pilot.press("S")
        assert (image_list.sort_key, image_list.sort_reverse) == ("status", True)
        await pilot.pause()
        assert "Status ▼" in screen_lines(app)[0]
        assert image_list.shown_images[0].status == "queued"
        for _ in range(5):  # visibility, format, size, updated, then unsorted
            await pilot.press("s")
        assert image_list.sort_key is None
        assert image_list.shown_images == images


async def test_sort_and_filter_combine() -> None:
    images = glance_images(1_000)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)):
        image_list = app.query_one(ImageList)
        image_list.filter_text = "gpu"
        image_list.sort_by("size", reverse=True)
        expected = sorted(matches(images, "gpu"), key=lambda i: i.size, reverse=True)
        assert [i.size for i in image_list.shown_images] == [i.size for i in expected]
        image_list.filter_text = "gpu-1"
        expected = sorted(matches(images, "gpu-1"), key=lambda i: i.size, reverse=True)
        assert [i.id for i in image_list.shown_images] == [i.id for i in expected]


# -- Loading more ---------------------------------------------------------------


async def test_append_while_filtered_keeps_filter_and_cursor() -> None:
    first, more = glance_images(500), glance_images(500, start=500)
    app = ListApp(first)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        image_list.filter_text = "centos"
        image_list.move_cursor(5)
        target = image_list.highlighted
        image_list.append_images(more)
        await pilot.pause()
        assert image_list.filter_text == "centos"
        assert image_list.highlighted is target
        assert image_list.cursor_row == 5
        assert image_list.shown_images == matches(first + more, "centos")
        assert image_list.count_text == f"{len(matches(first + more, 'centos')):,} / 1,000"
        assert app.last(ImageList.CountChanged).total == 1_000

        # Appending under a sort merges the new images into place.
        image_list.sort_by("size")
        image_list.append_images(glance_images(300, start=1_000))
        everything = first + more + glance_images(300, start=1_000)
        expected = sorted(matches(everything, "centos"), key=lambda i: i.size)
        assert [i.id for i in image_list.shown_images] == [i.id for i in expected]
        assert image_list.highlighted is target
        image_list.filter_text = ""
        assert [i.id for i in image_list.shown_images] == [
            i.id for i in sorted(everything, key=lambda i: i.size)
        ]
        assert image_list.total_count == 1_300


async def test_set_images_replaces_rendered_rows_and_keeps_the_cursor_by_id() -> None:
    images = glance_images(100)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.press("down", "down")
        await pilot.pause()
        assert images[0].name in screen_lines(app)[1]
        renamed = [
            ImageSummary(i.provider, i.id, f"renamed-{n}", i.status, extras=i.extras)
            for n, i in enumerate(images)
        ]
        image_list.set_images(renamed[::-1])  # a refresh: new objects, new order
        await pilot.pause()
        lines = screen_lines(app)
        assert image_list.highlighted.id == images[2].id
        screen_row = 1 + image_list.cursor_row - image_list.scroll_offset.y
        assert lines[screen_row].split()[0] == "renamed-2"
        assert lines[screen_row - 1].split()[0] == "renamed-3"
        assert not any(image.name in "\n".join(lines) for image in images)
        image_list.clear()
        await pilot.pause()
        assert "No images" in screen_lines(app)[1]
        assert image_list.count_text == "0 / 0"


async def test_update_image_refreshes_one_row_and_remove_image_drops_it() -> None:
    images = glance_images(300)
    app = ListApp(images)
    async with app.run_test(size=(100, 20)) as pilot:
        image_list = app.query_one(ImageList)
        image_list.filter_text = "ubuntu"
        image_list.sort_by("size")
        image_list.move_cursor(3)
        target = image_list.highlighted
        await pilot.pause()
        # An operation finished: the same image comes back renamed and bigger.
        fresh = ImageSummary(target.provider, target.id, "ubuntu-rebuilt", "active",
                             size=100 * GiB, extras=target.extras)
        image_list.update_image(fresh)
        await pilot.pause()
        assert image_list.highlighted is fresh
        assert app.last(ImageList.Highlighted).summary is fresh
        assert image_list.shown_images[-1] is fresh  # the largest now sorts last
        current = [fresh if i.id == fresh.id else i for i in images]
        assert image_list.shown_images == sorted(matches(current, "ubuntu"), key=lambda i: i.size)
        assert target.name not in "\n".join(screen_lines(app))

        # A renamed image that no longer matches leaves the filtered view.
        image_list.update_image(ImageSummary(fresh.provider, fresh.id, "gone", "active",
                                             extras={}))
        assert all(i.id != fresh.id for i in image_list.shown_images)
        assert image_list.total_count == 300
        # An unknown id is a new image.
        image_list.update_image(ImageSummary("glance", "new-id", "ubuntu-new", "queued", size=1))
        assert image_list.total_count == 301
        assert [i.id for i in image_list.shown_images[:2]] == [images[0].id, "new-id"]

        image_list.filter_text = ""
        image_list.move_cursor(10)
        keep = image_list.highlighted
        removed = image_list.shown_images[4]
        assert image_list.remove_image(removed.id)
        assert not image_list.remove_image(removed.id)
        assert image_list.highlighted is keep
        assert image_list.cursor_row == 9
        assert removed not in image_list.shown_images
        assert image_list.count_text == "300 / 300"
        image_list.remove_image(keep.id)
        await pilot.pause()
        assert image_list.cursor_row == 9
        assert app.last(ImageList.Highlighted).summary is image_list.highlighted
        image_list.sort_by(None)
        remaining = [i for i in current if i.id not in (removed.id, keep.id, fresh.id)]
        assert [i.id for i in image_list.shown_images if i.id not in (fresh.id, "new-id")] == [
            i.id for i in remaining
        ]


# -- Marks, layout, themes ----------------------------------------------------


async def test_batch_images_past_end_of_life_are_marked() -> None:
    app = ListApp(batch_images())
    async with app.run_test(size=(120, 10)) as pilot:
        image_list = app.query_one(ImageList)
        image_list.move_cursor(2)  # keep the cursor off the rows under test
        await pilot.pause()
        eol_style = image_list.get_component_rich_style("image-list--end-of-life")
        past, future, unknown = (image_list.render_line(y) for y in (1, 2, 3))
        assert past.text.startswith("!")
        assert past._segments[0].style.color == eol_style.color
        for line in (future, unknown):
            assert line.text.startswith(" ")
            assert line._segments[0].style.color != eol_style.color


async def test_usable_at_80x24_for_every_provider() -> None:
    yandex = [
        ImageSummary("yandex", f"fd8{i:05d}", f"image-{i}", "READY",
                     created="2024-01-01T00:00:00Z",
                     extras={"family": "ubuntu-2204-lts", "minDiskSize": str(GiB * 10)})
        for i in range(100)
    ]
    kusto = [
        ImageSummary("kusto", f"/k/{i}", f"custom-{i}", "Succeeded", os="Python",
                     extras={"languageVersion": "3.10.8"})
        for i in range(100)
    ]
    for images in (glance_images(3_000), yandex, kusto, batch_images() * 30):
        app = PaneApp(images)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            image_list = app.query_one(ImageList)
            lines = screen_lines(app)
            assert len(lines) == 24
            left = image_list.region.x
            right = image_list.region.x + image_list.scrollable_content_region.width
            header = lines[image_list.region.y][left:right]
            visible = image_list.visible_columns
            assert len(visible) >= 3
            for column in visible:
                shown = column.title if len(column.title) <= 12 else column.title[:8]
                assert shown in header, (images[0].provider, column.title, header)
            first_row = lines[image_list.region.y + 1][left:right]
            first_value = visible[0].value(image_list.shown_images[0])
            assert first_row[1:].startswith(first_value[:10])
            # The footer still shows the list's bindings.
            image_list.focus()
            await pilot.pause()
            assert "Sort" in screen_lines(app)[-1]


def contrast(style) -> float:
    """WCAG contrast ratio between a style's foreground and background."""

    def luminance(color: RichColor) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = color.get_truecolor()
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    lighter, darker = sorted((luminance(style.color), luminance(style.bgcolor)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_readable_in_dark_and_light_themes(theme: str) -> None:
    images = batch_images() * 3
    app = ListApp(images)
    async with app.run_test(size=(120, 12)) as pilot:
        app.theme = theme
        image_list = app.query_one(ImageList)
        image_list.move_cursor(1)
        await pilot.pause()
        header, eol_row, cursor_row, plain_row = (
            image_list.render_line(y)._segments[0].style for y in (0, 1, 2, 3)
        )
        for style in (header, eol_row, cursor_row, plain_row):
            assert contrast(style) >= 3.0, (theme, style)
        assert plain_row.bgcolor != cursor_row.bgcolor
        assert header.bgcolor != plain_row.bgcolor or header.bold
        image_list.blur()
        await pilot.pause()
        blurred_cursor = image_list.render_line(2)._segments[0].style
        assert contrast(blurred_cursor) >= 3.0
        assert blurred_cursor.bgcolor != plain_row.bgcolor


# -- Scale --------------------------------------------------------------------


async def test_one_hundred_thousand_rows() -> None:
    images = glance_images(100_000)
    app = ListApp(images)
    async with app.run_test(size=(100, 30)) as pilot:
        image_list = app.query_one(ImageList)
        await pilot.pause()
        assert image_list.count_text == "100,000 / 100,000"
        assert image_list.virtual_size.height == 100_001

        await pilot.press("end")
        await pilot.pause()
        assert screen_lines(app)[29].split()[0] == images[-1].name
        # Two screens were drawn (the top, then the end): nothing in between.
        assert len(image_list._strip_cache) <= 2 * 29

        for text in ("w", "wi", "win", "windows-23"):
            image_list.filter_text = text
        await pilot.pause()
        expected = matches(images, "windows-23")
        assert image_list.shown_images == expected
        assert image_list.count_text == f"{len(expected):,} / 100,000"
        assert screen_lines(app)[1].split()[0] == expected[0].name

        image_list.sort_by("size", reverse=True)
        await pilot.press("end")
        assert image_list.highlighted.size == min(i.size for i in expected)
        image_list.append_images(glance_images(1_000, start=100_000))
        assert image_list.total_count == 101_000
        assert image_list.shown_images == sorted(
            matches(images + glance_images(1_000, start=100_000), "windows-23"),
            key=lambda i: i.size,
            reverse=True,
        )
