"""The images of one Glance (or IMS) endpoint, and who may see them.

Bulk-seeded images are stored as read-only rows (``PackedImage``) to keep
100,000 of them small; an image that changes is unpacked into a dict first.
"""

from __future__ import annotations

import bisect
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from workbench.sim.context import SimContext
from workbench.sim.glance_errors import GlanceError
from workbench.sim.glance_schema import image_schema

if TYPE_CHECKING:
    from workbench.sim.glance_query import ListQuery


# -- time as Glance writes it -------------------------------------------------------
def now_iso() -> str:
    """The time now as Glance writes it (whole seconds, UTC)."""
    return iso(time.time())


def iso(ts: float) -> str:
    """``ts`` (seconds since the epoch) as Glance writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (UTC unless it says otherwise)."""
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


# -- image records ------------------------------------------------------------------
class PackedImage(tuple):
    """A bulk-seeded image as a read-only row: a tuple is a fifth of a dict's
    size, which matters at 100,000 images. It answers ``[key]``, ``get`` and
    ``in`` like the dict it stands for; writes go to ``to_dict()``'s copy."""

    __slots__ = ()
    KEYS: tuple[str, ...] = ()
    INDEX: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.INDEX[key])
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        index = self.INDEX.get(key)
        return default if index is None else tuple.__getitem__(self, index)

    def __contains__(self, key: object) -> bool:  # type: ignore[override]
        return key in self.INDEX

    def to_dict(self) -> dict:
        image = dict(zip(self.KEYS, self))
        image["tags"] = list(image["tags"])
        return image


def _packed(keys: tuple[str, ...]) -> type[PackedImage]:
    return type("PackedImage", (PackedImage,), {"__slots__": (), "KEYS": keys,
                                                 "INDEX": {key: i for i, key in enumerate(keys)}})


GLANCE_ROW = _packed((
    "os_distro", "name", "disk_format", "container_format", "visibility", "size", "virtual_size", "status",
    "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden", "os_hash_algo", "os_hash_value", "id",
    "created_at", "updated_at", "tags", "self", "file", "schema"))
IMS_ROW = _packed((
    "file", "owner", "id", "size", "self", "schema", "status", "tags", "visibility", "name", "checksum",
    "protected", "container_format", "min_ram", "updated_at", "__os_bit", "disk_format", "__isregistered",
    "__platform", "__os_type", "min_disk", "virtual_env_type", "__image_source_type", "__imagetype",
    "created_at", "virtual_size", "__image_size"))


def snapshot(image: dict | PackedImage) -> dict:
    """A copy safe to serialise outside the lock (the only nested value is ``tags``)."""
    if isinstance(image, PackedImage):
        return image.to_dict()
    return {**image, "tags": list(image.get("tags", ()))}


def image_links(image_id: str) -> dict[str, str]:
    """The relative links every image carries."""
    return {"self": f"/v2/images/{image_id}", "file": f"/v2/images/{image_id}/file", "schema": "/v2/schemas/image"}


# -- who sees what, and the state ----------------------------------------------------
class Caller:
    """Who is calling: a member of a project (Keystone token), never an admin."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id

    def can_see(self, image: dict) -> bool:
        return image["visibility"] in ("public", "community") or image.get("owner") == self.project_id

    def owns(self, image: dict) -> bool:
        return image.get("owner") == self.project_id


class GlanceState:
    """The images of one Glance (or IMS) endpoint; every mutation holds ``lock``."""

    def __init__(self, flavour: str, ctx: SimContext) -> None:
        self.flavour = flavour
        self.ctx = ctx
        self.schema = image_schema(flavour)
        self.lock = threading.Lock()
        self.images: dict[str, dict | PackedImage] = {}
        #: creation time (fine-grained) of each image, for ordering
        self.created: dict[str, float] = {}
        #: (created, id) ascending: the default list order, kept sorted
        self.order: list[tuple[float, str]] = []
        #: uploaded files (seeded images hold none)
        self.files: dict[str, bytes] = {}
        self._clock = 0.0
        #: bumped by every change; sorted orders computed before a change are stale
        self.version = 0
        self._orders: dict[tuple, tuple[int, list[str], dict[str, int]]] = {}

    # -- bookkeeping --------------------------------------------------------------
    def _stamp(self) -> float:
        """A creation time strictly after the previous one (ordering stays total)."""
        ts = max(time.time(), self._clock + 1e-6)
        self._clock = ts
        return ts

    def touch(self) -> None:
        """Record a change (call with the lock held)."""
        self.version += 1

    def add(self, image: dict, created: float) -> None:
        self.images[image["id"]] = image
        self.created[image["id"]] = created
        bisect.insort(self.order, (created, image["id"]))
        self.touch()

    def replace(self, image: dict) -> None:
        self.images[image["id"]] = image
        self.touch()

    def writable(self, image_id: str) -> dict:
        """The stored image as a dict that may be changed in place (unpacks a row)."""
        image = self.images[image_id]
        if isinstance(image, PackedImage):
            image = self.images[image_id] = image.to_dict()
        return image

    def drop(self, image_id: str) -> None:
        created = self.created.pop(image_id)
        del self.images[image_id]
        index = bisect.bisect_left(self.order, (created, image_id))
        del self.order[index]
        self.files.pop(image_id, None)
        self.touch()

    def bulk_load(self, images: list[dict], created: list[float]) -> None:
        """Add many images at once (seeding): one sort instead of many inserts."""
        for image, ts in zip(images, created):
            self.images[image["id"]] = image
            self.created[image["id"]] = ts
        self.order = sorted(self.order + [(ts, image["id"]) for image, ts in zip(images, created)])
        if created:
            self._clock = max(self._clock, max(created))
        self.touch()

    # -- new images -------------------------------------------------------------
    def new_image(self, image_id: str, owner: str, core: dict, props: dict, tags: list[str]) -> dict:
        ts = self._stamp()
        stamp = iso(ts)
        if self.flavour == "ims":
            image = {
                **props,
                "file": f"/v2/images/{image_id}/file", "owner": owner, "id": image_id, "size": None,
                "self": f"/v2/images/{image_id}", "schema": "/v2/schemas/image", "status": "queued",
                "tags": tags, "visibility": core.get("visibility", "private"), "name": core.get("name"),
                "checksum": None, "protected": core.get("protected", False),
                "container_format": core.get("container_format"), "min_ram": core.get("min_ram", 0),
                "updated_at": stamp, "disk_format": core.get("disk_format"), "min_disk": core.get("min_disk", 0),
                "created_at": stamp, "virtual_size": None,
            }
            for key, value in (("__imagetype", "private"), ("__isregistered", "true"),
                               ("__image_source_type", "uds"), ("virtual_env_type", "FusionCompute")):
                image.setdefault(key, value)
        else:
            image = {
                **props,
                "name": core.get("name"), "disk_format": core.get("disk_format"),
                "container_format": core.get("container_format"), "visibility": core.get("visibility", "shared"),
                "size": None, "virtual_size": None, "status": "queued", "checksum": None,
                "protected": core.get("protected", False), "min_ram": core.get("min_ram", 0),
                "min_disk": core.get("min_disk", 0), "owner": owner, "os_hidden": core.get("os_hidden", False),
                "os_hash_algo": None, "os_hash_value": None, "id": image_id, "created_at": stamp,
                "updated_at": stamp, "tags": tags, **image_links(image_id),
            }
        self.add(image, ts)
        return image

    # -- listing ------------------------------------------------------------------
    def page(self, caller: Caller, query: "ListQuery") -> tuple[list[dict], str | None]:
        """One page of images and the next marker (when the page is full)."""
        with self.lock:
            marker = self.images.get(query.marker) if query.marker is not None else None
            if query.marker is not None and (marker is None or not caller.can_see(marker)):
                raise GlanceError(400, f"No image found with ID {query.marker}")
            accept = query.predicate(caller)
            if query.limit == 0:
                return [], None
            if query.default_order:
                page = self._walk_default(query, accept)
            else:
                page = self._sorted_page(query, accept)
            chosen = [snapshot(image) for image in page]
        next_marker = chosen[-1]["id"] if chosen and len(chosen) == query.limit else None
        return chosen, next_marker

    def _walk_default(self, query: "ListQuery", accept: Callable[[dict], bool]) -> list[dict]:
        # Creation order (and id) is kept sorted: walk from the marker, no sorting.
        descending = query.directions[0] == "desc"
        if query.marker is None:
            index = len(self.order) - 1 if descending else 0
        else:
            position = bisect.bisect_left(self.order, (self.created[query.marker], query.marker))
            index = position - 1 if descending else position + 1
        step = -1 if descending else 1
        page: list[dict] = []
        while 0 <= index < len(self.order) and len(page) < query.limit:
            image = self.images[self.order[index][1]]
            if accept(image):
                page.append(image)
            index += step
        return page

    def _sorted_page(self, query: "ListQuery", accept: Callable[[dict], bool]) -> list[dict]:
        # The whole catalog in this order, cached until the next change, so
        # paging through 100,000 images sorts once, not once per page. The
        # marker has its place even when the filters exclude it, as in SQL.
        ids, position = self._sorted_ids(tuple(query.keys), tuple(query.directions))
        index = position[query.marker] + 1 if query.marker is not None else 0
        page: list[dict] = []
        images = self.images
        while index < len(ids) and len(page) < query.limit:
            image = images[ids[index]]
            if accept(image):
                page.append(image)
            index += 1
        return page

    def _sorted_ids(self, keys: tuple[str, ...], directions: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
        cached = self._orders.get((keys, directions))
        if cached is not None and cached[0] == self.version:
            return cached[1], cached[2]
        rows = list(self.images.values())
        if len(set(directions)) == 1:
            getters = [self._sort_value(key) for key in keys]
            rows.sort(key=lambda image: tuple(get(image) for get in getters), reverse=directions[0] == "desc")
        else:
            # Stable sorts from the least significant key: mixed directions work.
            for key, direction in reversed(list(zip(keys, directions))):
                rows.sort(key=self._sort_value(key), reverse=direction == "desc")
        ids = [image["id"] for image in rows]
        position = {image_id: index for index, image_id in enumerate(ids)}
        self._orders = {(keys, directions): (self.version, ids, position)}  # keep one order: memory stays flat
        return ids, position

    def _sort_value(self, key: str) -> Callable[[dict], tuple]:
        if key == "created_at":
            created = self.created
            return lambda image: (1, created[image["id"]])
        # NULL sorts first, as in the database.
        return lambda image: (0, "") if image.get(key) is None else (1, image[key])



__all__ = ["Caller", "GLANCE_ROW", "GlanceState", "IMS_ROW", "PackedImage", "image_links", "iso", "now_iso",
           "parse_iso", "snapshot"]
