"""``PATCH /v2/images/{id}``: Glance's request deserializer, then its controller.

Both JSON-patch dialects (``openstack-images-v2.1-json-patch``, version 10,
with ``op``/``path``; ``v2.0``, version 4, with the op as the member name) are
validated op by op, the first bad op answering 400 or 403; the valid ops are
then applied to a copy, so a failing op leaves the image untouched. IMS's
native PATCH lets only custom attributes, the name and ``__description`` change.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.providers.glance.models import (
    CORE_ATTRIBUTES,
    READ_ONLY_ATTRIBUTES,
    RESERVED_ATTRIBUTES,
    RESERVED_NAMESPACE,
    ims_may_change,
)
from workbench.sim.glance_errors import GlanceError
from workbench.sim.glance_schema import schema_violation
from workbench.sim.glance_state import GlanceState, snapshot

_D10_OPS = ("add", "remove", "replace")


def _decode_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise GlanceError(400, f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise GlanceError(400, f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise GlanceError(400, f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() == "/":
        raise GlanceError(400, f"Pointer `{pointer}` does not contains valid token.")
    if re.search(r"~[^01]", pointer) or pointer.endswith("~"):
        raise GlanceError(400, f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.')
    return [part.replace("~1", "/").replace("~0", "~").strip() for part in pointer.lstrip("/").split("/")]


def parse_patch(raw: Any, version: int, state: GlanceState) -> list[dict]:
    """Validate a PATCH body op by op (400/403 on the first bad op), as Glance does."""
    if not isinstance(raw, list):
        raise GlanceError(400, "Request body must be a JSON array of operation objects.")
    changes = []
    for raw_change in raw:
        if not isinstance(raw_change, dict):
            raise GlanceError(400, "Operations must be JSON objects.")
        if version == 10:
            op = raw_change.get("op")
            if op is None:
                raise GlanceError(400, "Unable to find `op` in JSON Schema change. It must be one of the following: "
                                       "add, remove, replace.")
            if op not in _D10_OPS:
                raise GlanceError(400, f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace.")
            if "path" not in raw_change:
                raise GlanceError(400, "Unable to find 'path' in JSON Schema change")
            pointer = raw_change["path"]
        else:
            members = [name for name in _D10_OPS if name in raw_change]
            if len(members) > 1:
                raise GlanceError(400, 'Operation objects must contain only one member named "add", "remove", or "replace".')
            if not members:
                raise GlanceError(400, 'Operation objects must contain exactly one member named "add", "remove", or "replace".')
            op = members[0]
            pointer = raw_change[op]
        path = _decode_pointer(pointer)
        root = path[0]
        depth = {"add": 2, "remove": 2, "replace": 1}[op] if root == "locations" else 1
        if len(path) != depth:
            raise GlanceError(400, f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
        change: dict[str, Any] = {"op": op, "path": path, "version": version}
        if op != "remove":
            if "value" not in raw_change:
                raise GlanceError(400, f'Operation "{op}" requires a member named "value".')
            change["value"] = raw_change["value"]
        if root in READ_ONLY_ATTRIBUTES:
            raise GlanceError(403, f"Attribute '{root}' is read-only.")
        if root in RESERVED_ATTRIBUTES or root.startswith(RESERVED_NAMESPACE):
            raise GlanceError(403, f"Attribute '{root}' is reserved.")
        if op != "remove":
            partial = {root: change["value"]} if len(path) == 1 else (
                {root: [change["value"]]} if root in ("locations", "tags") else None)
            if partial is not None and (problem := schema_violation(state.schema, partial)):
                raise GlanceError(400, problem)
        if state.flavour == "ims" and not ims_may_change(root):
            raise GlanceError(403, f"Attribute '{root}' cannot be modified: the native OpenStack API of IMS only "
                                   "lets custom attributes, name and __description change.")
        changes.append(change)
    return changes


def _set_core(image: dict, root: str, value: Any) -> None:
    """Glance's domain setters: what each core attribute accepts."""
    if root in ("min_ram", "min_disk") and value < 0:
        raise GlanceError(400, f"Invalid value '{value}' for parameter '{root}': Cannot be a negative value")
    if root in ("disk_format", "container_format") and image["status"] not in ("queued", "importing"):
        raise GlanceError(403, f"Attribute {root} can be only replaced for a queued image.")
    if root == "visibility" and value == "public":
        raise GlanceError(403, "You are not authorized to complete publicize_image action.")
    if root == "tags":
        value = list(dict.fromkeys(value))
    image[root] = value


def apply_patch(image: dict, changes: list[dict], flavour: str) -> dict:
    """The image after ``changes`` (a copy; the original is untouched if any op fails)."""
    patched = snapshot(image)
    core = CORE_ATTRIBUTES - ({"os_hidden"} if flavour == "ims" else set())
    for change in changes:
        op, root = change["op"], change["path"][0]
        if root == "locations":
            if op == "replace" and not change["value"]:
                raise GlanceError(403, detail="Cannot set locations to empty list.")
            verb = {"add": "add", "remove": "remove", "replace": "update"}[op]
            raise GlanceError(403, f"It's not allowed to {verb} locations if locations are invisible.")
        if op == "replace":
            if root == "owner":
                raise GlanceError(403, detail="Owner can't be updated by non admin.")
            if root in core:
                _set_core(patched, root, change["value"])
            elif root in patched:
                patched[root] = change["value"]
            else:
                raise GlanceError(409, detail=f"Property {root} does not exist.")
        elif op == "add":
            exists = root in core or root in patched
            if exists and change["version"] == 4:
                raise GlanceError(409, detail=f"Property {root} already present.")
            if root == "owner":
                raise GlanceError(403, detail="Owner can't be updated by non admin.")
            if root in core:
                _set_core(patched, root, change["value"])
            else:
                patched[root] = change["value"]
        else:
            if root in core:
                raise GlanceError(403, detail=f"Property {root} may not be removed.")
            if root not in patched:
                raise GlanceError(409, detail=f"Property {root} does not exist.")
            del patched[root]
    return patched


__all__ = ["apply_patch", "parse_patch"]
