"""The state behind Yandex Compute images and the Operation service.

Images (canonical proto3 JSON dicts, replaced rather than changed), their
indexes per folder, name and family, the disks and snapshots images are made
from, the long-running operations and the idempotency keys that replay them.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import Code
from workbench.sim.demo import DemoIdentity
from workbench.sim.yandex_filter import Condition
from workbench.sim.yandex_gateway import ANY, YandexApiError, timestamp

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Compute images and their operations have ids like ``fd8`` + 17 characters
IMAGE_ID_PREFIX = "fd8"
OPERATION_ID_PREFIX = "fd8"
GIB = 1024**3


# -- ids ---------------------------------------------------------------------------------
class IdGenerator:
    """Ids that look like Yandex's: a 3-character prefix and 17 of ``[a-z0-9]``."""

    def __init__(self, seed: str | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else random.SystemRandom()

    def new(self, prefix: str) -> str:
        return prefix + "".join(self._random.choices(ID_ALPHABET, k=20 - len(prefix)))

    def many(self, prefix: str, count: int) -> list[str]:
        # one draw of random bytes mapped onto the alphabet: fast for 100,000 ids
        width = 20 - len(prefix)
        chars = self._random.randbytes(width * count).translate(_BYTE_TO_ID_CHAR).decode()
        return [prefix + chars[i:i + width] for i in range(0, width * count, width)]


_BYTE_TO_ID_CHAR = bytes(ord(ID_ALPHABET[b % len(ID_ALPHABET)]) for b in range(256))


# -- state ------------------------------------------------------------------------------
@dataclass
class SimOperation:
    """A long-running operation on one image; done after ``polls_needed`` polls."""

    id: str
    description: str
    kind: str  # "create", "update" or "delete"
    image_id: str
    metadata_type: str
    created_at: float
    created_by: str
    polls_needed: int
    will_fail: bool = False
    modified_at: float = 0.0
    polls: int = 0
    done: bool = False
    error: dict | None = None
    response: dict | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "createdAt": timestamp(self.created_at),
            "createdBy": self.created_by,
            "modifiedAt": timestamp(self.modified_at or self.created_at),
            "done": self.done,  # the REST gateway states done even when false
            "metadata": {"@type": ANY + self.metadata_type, "imageId": self.image_id},
        }
        if self.error is not None:
            wire["error"] = self.error
        elif self.response is not None:
            wire["response"] = self.response
        if not wire["createdBy"]:
            del wire["createdBy"]
        return wire


@dataclass
class _View:
    """A folder's matching image ids in list order, with their sort keys (for page tokens)."""

    version: int
    keys: list
    ids: list[str]


@dataclass
class YandexComputeState:
    """Images, disks, snapshots and operations of one simulator instance.

    Image records are canonical proto3 JSON dicts and are never mutated: a
    change replaces the record, so a reader holding one needs no lock.
    """

    demo: DemoIdentity
    lock: threading.Lock = field(default_factory=threading.Lock)
    images: dict[str, dict] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    folder_ids: dict[str, list[str]] = field(default_factory=dict)  # sorted ids per folder
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    families: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    tombstones: dict[str, dict] = field(default_factory=dict)  # deleted images, for page tokens
    pending_sizes: dict[str, dict] = field(default_factory=dict)  # sizes a CREATING image gets at READY
    disks: dict[str, dict] = field(default_factory=dict)
    snapshots: dict[str, dict] = field(default_factory=dict)
    operations: dict[str, SimOperation] = field(default_factory=dict)
    image_operations: dict[str, list[str]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)
    ids: IdGenerator = field(default_factory=IdGenerator)
    version: int = 0
    views: OrderedDict = field(default_factory=OrderedDict)

    @property
    def writable_folders(self) -> set[str]:
        return {self.demo.yandex_folder_id}

    # -- indexes (callers hold the lock) --------------------------------------------
    def add_image(self, image: dict, created: float) -> None:
        image_id, folder = image["id"], image["folderId"]
        self.images[image_id] = image
        self.created[image_id] = created
        bisect.insort(self.folder_ids.setdefault(folder, []), image_id)
        if image.get("name"):
            self.names[(folder, image["name"])] = image_id
        if image.get("family"):
            self.families.setdefault((folder, image["family"]), set()).add(image_id)
        self.version += 1

    def replace_image(self, image: dict) -> None:
        old = self.images[image["id"]]
        folder = old["folderId"]
        if old.get("name") != image.get("name"):
            if old.get("name"):
                self.names.pop((folder, old["name"]), None)
            if image.get("name"):
                self.names[(folder, image["name"])] = image["id"]
        self.images[image["id"]] = image
        self.version += 1

    def remove_image(self, image_id: str) -> None:
        image = self.images.pop(image_id)
        folder = image["folderId"]
        ids = self.folder_ids[folder]
        del ids[bisect.bisect_left(ids, image_id)]
        if image.get("name") and self.names.get((folder, image["name"])) == image_id:
            del self.names[(folder, image["name"])]
        if image.get("family"):
            self.families.get((folder, image["family"]), set()).discard(image_id)
        self.tombstones[image_id] = image
        self.version += 1

    def set_status(self, image_id: str, status: str, **changes: Any) -> dict:
        image = {**self.images[image_id], "status": status, **changes}
        self.replace_image(image)
        return image

    # -- listing -----------------------------------------------------------------------
    def sort_key(self, order: str, image_id: str, image: dict) -> Any:
        if order == "name":
            return (image.get("name", ""), image_id)
        if order == "createdAt":
            return (self.created[image_id], image_id)  # kept for deleted images too, for page tokens
        return image_id

    def view(self, folder: str, filter_text: str, conditions: tuple[Condition, ...], order: str) -> _View:
        """The folder's matching image ids in ascending ``order``, cached per state version."""
        if not conditions and order == "id":
            ids = self.folder_ids.get(folder, [])
            return _View(self.version, ids, ids)
        cache_key = (folder, filter_text, order)
        cached = self.views.get(cache_key)
        if cached is not None and cached.version == self.version:
            self.views.move_to_end(cache_key)
            return cached
        images = self.images
        ids = [i for i in self.folder_ids.get(folder, []) if all(c.matches(images[i]) for c in conditions)]
        if order == "id":
            keys = ids
        else:  # keys are (value, id) tuples: sorting them sorts the ids
            keys = sorted(self.sort_key(order, i, images[i]) for i in ids)
            ids = [key[1] for key in keys]
        view = _View(self.version, keys, ids)
        self.views[cache_key] = view
        while len(self.views) > 32:
            self.views.popitem(last=False)
        return view

    # -- operations --------------------------------------------------------------------
    def new_operation(self, kind: str, image_id: str, created_by: str, polls_needed: int,
                      will_fail: bool = False) -> SimOperation:
        description, metadata = {
            "create": ("Create image", "yandex.cloud.compute.v1.CreateImageMetadata"),
            "update": ("Update image", "yandex.cloud.compute.v1.UpdateImageMetadata"),
            "delete": ("Delete image", "yandex.cloud.compute.v1.DeleteImageMetadata"),
        }[kind]
        op = SimOperation(
            id=self.ids.new(OPERATION_ID_PREFIX), description=description, kind=kind, image_id=image_id,
            metadata_type=metadata, created_at=time.time(), created_by=created_by,
            polls_needed=polls_needed, will_fail=will_fail,
        )
        self.operations[op.id] = op
        self.image_operations.setdefault(image_id, []).append(op.id)
        if polls_needed <= 0:
            self.finish(op)
        return op

    def poll(self, op: SimOperation) -> None:
        if not op.done:
            op.polls += 1
            if op.polls >= op.polls_needed:
                self.finish(op)

    def finish(self, op: SimOperation) -> None:
        op.done = True
        op.modified_at = time.time()
        if op.kind == "create":
            sizes = self.pending_sizes.pop(op.image_id, {})
            if op.will_fail:
                # A failed operation returns the system to its previous state.
                self.remove_image(op.image_id)
                op.error = {"code": int(Code.INTERNAL),
                            "message": f"Failed to create image {op.image_id}: the image data could not be imported"}
                return
            ready = self.set_status(op.image_id, "READY", **sizes)
            op.response = {"@type": ANY + ym.Image.PROTO_NAME, **ready}
        elif op.kind == "update":
            op.response = {"@type": ANY + ym.Image.PROTO_NAME, **self.images[op.image_id]}
        else:
            self.remove_image(op.image_id)
            op.response = {"@type": ANY + ym.Empty.PROTO_NAME}

    def cancel(self, op: SimOperation) -> None:
        if op.done:
            raise YandexApiError(Code.FAILED_PRECONDITION, f"Operation {op.id} is already done")
        if op.kind != "create":
            raise YandexApiError(Code.FAILED_PRECONDITION, f"Operation {op.id} cannot be cancelled")
        self.pending_sizes.pop(op.image_id, None)
        self.remove_image(op.image_id)
        op.done = True
        op.modified_at = time.time()
        op.error = {"code": int(Code.CANCELLED), "message": "Operation was cancelled"}

    # -- idempotency -------------------------------------------------------------------
    def replay(self, key: str | None, fingerprint: str) -> SimOperation | None:
        """The operation a previous call with this key started, if any."""
        if not key or key not in self.idempotency:
            return None
        known_fingerprint, op_id = self.idempotency[key]
        if known_fingerprint != fingerprint:
            raise YandexApiError(
                Code.INVALID_ARGUMENT,
                f"Idempotency key {key} was already used with a different request",
            )
        return self.operations[op_id]

    def remember(self, key: str | None, fingerprint: str, op: SimOperation) -> None:
        if key:
            self.idempotency[key] = (fingerprint, op.id)


__all__ = ["GIB", "IMAGE_ID_PREFIX", "IdGenerator", "OPERATION_ID_PREFIX", "SimOperation", "YandexComputeState"]
