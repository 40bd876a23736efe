"""Simulated OpenStack Glance v2, and the same API in Huawei IMS flavour.

Behaviour follows a real Glance 33 server (probed with the requests the tests
repeat against it), not only the API reference:

- version discovery: ``GET /`` answers 300 with the versions document, whose
  ``self`` links carry this simulator's host, port and service prefix;
- list paging with ``limit``/``marker`` and a *relative* ``next`` link
  (``/v2/images?...``), default page 25, at most 1000; a marker that names no
  image is a 400, a marker after the last image a 200 with an empty page;
- ``PATCH`` with both JSON-patch media types, validated op by op like Glance's
  request deserializer, then applied atomically;
- errors are webob pages negotiated on ``Accept``: JSON
  ``{"message", "code", "title"}`` for ``application/json``, HTML for ``*/*``
  and ``text/html``, plain text when there is no ``Accept`` header;
- ``X-Auth-Token`` must be a token from the simulator's Keystone (401 in
  keystonemiddleware's JSON shape otherwise); the caller is a *member* of the
  token's project, not an admin.

The IMS flavour (its own prefix and state) serves images with Huawei's
extension attributes and enforces IMS's rule for the native PATCH: only custom
attributes, the name and ``__description`` may change.
"""

from __future__ import annotations

import bisect
import csv
import gc
import hashlib
import html
import json
import random
import re
import struct
import threading
import time
import uuid
from datetime import datetime, timezone
from pprint import pformat
from textwrap import indent
from typing import Any, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench.providers.glance.models import (
    CONTAINER_FORMATS,
    CORE_ATTRIBUTES,
    DISK_FORMATS,
    IMS_DISK_FORMATS,
    PATCH_MEDIA_TYPES,
    READ_ONLY_ATTRIBUTES,
    RESERVED_ATTRIBUTES,
    RESERVED_NAMESPACE,
    SORT_KEYS,
    UUID_PATTERN,
    ims_may_change,
)
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DEFAULT_PAGE = 25  # Glance's limit_param_default
MAX_PAGE = 1000  # Glance's api_limit_max
OPERATOR_PROJECT = "5ef70662f8b34079a6eddb8da9d75fe8"  # owns the public catalog (as in the spec samples)
IMS_PUBLIC_PROJECT = "c7a8d2f5e1b34b0f9e6d3a2c1b0a9f8e"
NOT_HELD = "The simulator holds no file for this seeded image; upload to an image created here to download it."

# Version documents exactly as the reference servers list them.
_GLANCE_VERSIONS = [("v2.15", "SUPPORTED")] + [(f"v2.{n}", "SUPPORTED") for n in range(13, 7, -1)] + [
    ("v2.17", "CURRENT")] + [(f"v2.{n}", "SUPPORTED") for n in range(7, -1, -1)]
_IMS_VERSIONS = [("v2.2", "CURRENT"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED"),
                 ("v1.1", "DEPRECATED"), ("v1.0", "DEPRECATED")]


# --------------------------------------------------------------------------------
# Schemas (what GET /v2/schemas/image answers, and what values are checked against)
# --------------------------------------------------------------------------------

def _nullable(kind: str) -> list[str]:
    return ["null", kind]


def image_schema(flavour: str) -> dict:
    """The image schema of a Glance 33 server (IMS: its extra disk formats)."""
    disk_formats = IMS_DISK_FORMATS if flavour == "ims" else DISK_FORMATS
    props: dict[str, dict] = {
        "id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
        "name": {"type": _nullable("string"), "description": "Descriptive name for the image", "maxLength": 255},
        "status": {"type": "string", "readOnly": True, "description": "Status of the image",
                   "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
                            "pending_delete", "deactivated"]},
        "visibility": {"type": "string", "description": "Scope of image accessibility",
                       "enum": ["community", "public", "private", "shared"]},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
        "checksum": {"type": _nullable("string"), "readOnly": True, "description": "md5 hash of image contents.",
                     "maxLength": 32},
        "os_hash_algo": {"type": _nullable("string"), "readOnly": True,
                         "description": "Algorithm to calculate the os_hash_value", "maxLength": 64},
        "os_hash_value": {"type": _nullable("string"), "readOnly": True,
                          "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
                          "maxLength": 128},
        "owner": {"type": _nullable("string"), "description": "Owner of the image", "maxLength": 255},
        "size": {"type": _nullable("integer"), "readOnly": True, "description": "Size of image file in bytes"},
        "virtual_size": {"type": _nullable("integer"), "readOnly": True, "description": "Virtual size of image in bytes"},
        "container_format": {"type": _nullable("string"), "description": "Format of the container",
                             "enum": [None, *CONTAINER_FORMATS]},
        "disk_format": {"type": _nullable("string"), "description": "Format of the disk", "enum": [None, *disk_formats]},
        "created_at": {"type": "string", "readOnly": True, "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": True, "description": "Date and time of the last image modification"},
        "tags": {"type": "array", "description": "List of strings related to the image",
                 "items": {"type": "string", "maxLength": 255}},
        "direct_url": {"type": "string", "readOnly": True,
                       "description": "URL to access the image file kept in external store"},
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {"type": "string", "readOnly": True,
                   "description": "Store in which image data resides.  Only present when the operator has enabled "
                                  "multiple stores.  May be a comma-separated list of store identifiers."},
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "url": {"type": "string", "maxLength": 255},
                "metadata": {"type": "object"},
                "validation_data": {
                    "description": "Values to be used to populate the corresponding image properties. If the image "
                                   "status is not 'queued', values must exactly match those already contained in "
                                   "the image properties.",
                    "type": "object", "writeOnly": True, "additionalProperties": False,
                    "properties": {"checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                                   "os_hash_algo": {"type": "string", "maxLength": 64},
                                   "os_hash_value": {"type": "string", "maxLength": 128}},
                    "required": ["os_hash_algo", "os_hash_value"]}},
            "required": ["url", "metadata"]},
            "description": "A set of URLs to access the image file kept in external store"},
    }
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def images_schema(flavour: str) -> dict:
    return {
        "name": "images",
        "properties": {"images": {"type": "array", "items": image_schema(flavour)},
                       "schema": {"type": "string"}, "next": {"type": "string"}, "first": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _check(schema: dict, value: Any) -> tuple[str, str] | None:
    """The first (message, keyword) jsonschema would report for ``value``, if any."""
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_JSON_TYPES[name](value) for name in names):
            return f"{value!r} is not of type {', '.join(repr(n) for n in names)}", "type"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']!r}", "enum"
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{value!r} is too long", "maxLength"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{value!r} does not match {schema['pattern']!r}", "pattern"
    return None


def _pretty(thing: Any) -> str:
    return indent(pformat(thing, width=72, sort_dicts=False), " " * 4).lstrip()


def schema_violation(schema: dict, obj: dict) -> str | None:
    """Glance's message for the first schema violation in ``obj`` (None if valid)."""
    for key, value in obj.items():
        prop = schema["properties"].get(key)
        where = f"schema['properties'][{key!r}]" if prop is not None else "schema['additionalProperties']"
        sub = prop if prop is not None else schema["additionalProperties"]
        found = _check(sub, value)
        instance_path, bad = f"instance[{key!r}]", value
        if found is None and prop is not None and prop.get("type") == "array" and isinstance(value, list):
            for index, item in enumerate(value):
                found = _check(prop["items"], item)
                if found:
                    where, sub = f"{where}['items']", prop["items"]
                    instance_path, bad = f"{instance_path}[{index}]", item
                    break
        if found:
            message, keyword = found
            reason = (f"{message}\n\nFailed validating {keyword!r} in {where}:\n    {_pretty(sub)}\n\n"
                      f"On {instance_path}:\n    {_pretty(bad)}")
            return f"Provided object does not match schema 'image': {reason}"
    return None


# --------------------------------------------------------------------------------
# Errors: webob's pages, negotiated on Accept exactly as Glance does
# --------------------------------------------------------------------------------

_STATUS = {
    400: ("Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."),
    401: ("Unauthorized", "This server could not verify that you are authorized to access the document you requested."),
    403: ("Forbidden", "Access was denied to this resource."),
    404: ("Not Found", "The resource could not be found."),
    405: ("Method Not Allowed", "The method is not allowed for this resource."),
    409: ("Conflict", "There was a conflict when trying to complete your request."),
    410: ("Gone", "This resource is no longer available.  No forwarding address is given."),
    413: ("Request Entity Too Large", "The request is larger than the server is willing or able to process."),
    415: ("Unsupported Media Type", "The request media type is not supported by this server."),
    429: ("Too Many Requests", "The client has sent too many requests in a given amount of time."),
    500: ("Internal Server Error", "The server has either erred or is incapable of performing the requested operation."),
    503: ("Service Unavailable", "The server is currently unavailable. Please try again at a later time."),
}


class GlanceError(Exception):
    """An HTTP error as Glance raises it: webob's ``explanation`` and ``detail``."""

    def __init__(self, status: int, explanation: str | None = None, detail: str = "",
                 headers: dict[str, str] | None = None, body: str | None = None) -> None:
        super().__init__(explanation or detail)
        self.status = status
        self.explanation = explanation if explanation is not None else _STATUS[status][1]
        self.detail = detail
        self.headers = headers or {}
        self.body = body  # a non-default webob template, already filled in (415, 405)

    def message(self, escape: Callable[[str], str]) -> str:
        if self.body is not None:
            return self.body
        return f"{escape(self.explanation)}<br /><br />\n{escape(self.detail)}\n\n"


def unsupported_media_type(content_type: str | None, detail: str, headers: dict[str, str] | None = None) -> GlanceError:
    # webob fills the media type from the environ, or leaves the template variable.
    shown = content_type or "${CONTENT_TYPE}"
    body = f"The request media type {shown} is not supported by this server.\n<br /><br />\n{detail}"
    return GlanceError(415, detail=detail, headers=headers, body=body)


def _accepted_type(accept: str | None) -> str:
    """Which page webob renders: 'html', 'json', or 'plain' (no acceptable offer)."""
    if not accept or not accept.strip():
        return "plain"
    best: dict[str, tuple[float, int]] = {}
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for offer in ("text/html", "application/json"):
            kind = offer.partition("/")[0]
            specificity = 3 if media == offer else 2 if media == f"{kind}/*" else 1 if media == "*/*" else 0
            if specificity and specificity > best.get(offer, (0.0, 0))[1]:
                best[offer] = (q, specificity)
    ranked = [(q, -order, offer) for order, offer in enumerate(("text/html", "application/json"))
              if (q := best.get(offer, (0.0, 0))[0]) > 0]
    if not ranked:
        return "plain"
    return {"text/html": "html", "application/json": "json"}[max(ranked)[2]]


_BR = re.compile(r"<br.*?>", re.I | re.S)
_TAG = re.compile(r"<.*?>", re.S)


def render_glance_error(request: Request, error: GlanceError) -> Response:
    title, _ = _STATUS.get(error.status, ("Error", ""))
    status_line = f"{error.status} {title}"
    kind = _accepted_type(request.headers.get("accept"))
    headers = {**error.headers, "x-openstack-request-id": _request_id()}
    if kind == "json":
        body = json.dumps({"message": error.message(str), "code": status_line, "title": title})
        return Response(body, error.status, headers=headers, media_type="application/json")
    if kind == "html":
        text = (f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n"
                f"  {error.message(html.escape)}\n </body>\n</html>")
        return Response(text, error.status, headers=headers, media_type="text/html; charset=UTF-8")
    plain = _TAG.sub("", _BR.sub("\n", error.message(str).replace("\n", " ").replace("\r", "")))
    return Response(f"{status_line}\n\n{plain}", error.status, headers=headers, media_type="text/plain; charset=UTF-8")


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Glance's serializer: json.dumps with the default separators.
    return Response(json.dumps(body), status, headers={"x-openstack-request-id": _request_id(), **(headers or {})},
                    media_type="application/json")


def _empty(status: int = 204) -> Response:
    # Glance's empty answers carry webob's default content type.
    response = Response(b"", status, headers={"x-openstack-request-id": _request_id()})
    response.headers["content-type"] = "text/html; charset=UTF-8"
    return response


# --------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------

def _now() -> tuple[float, str]:
    ts = time.time()
    return ts, _iso(ts)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _parse_iso(text: str) -> float:
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


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


_GLANCE_ROW = _packed((
    "os_distro", "name", "disk_format", "container_format", "visibility", "size", "virtual_size", "status",
    "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden", "os_hash_algo", "os_hash_value", "id",
    "created_at", "updated_at", "tags", "self", "file", "schema"))
_IMS_ROW = _packed((
    "file", "owner", "id", "size", "self", "schema", "status", "tags", "visibility", "name", "checksum",
    "protected", "container_format", "min_ram", "updated_at", "__os_bit", "disk_format", "__isregistered",
    "__platform", "__os_type", "min_disk", "virtual_env_type", "__image_source_type", "__imagetype",
    "created_at", "virtual_size", "__image_size"))


def snapshot(image: dict | PackedImage) -> dict:
    """A copy safe to serialise outside the lock (the only nested value is ``tags``)."""
    if isinstance(image, PackedImage):
        return image.to_dict()
    return {**image, "tags": list(image.get("tags", ()))}


def _image_links(image_id: str) -> dict[str, str]:
    return {"self": f"/v2/images/{image_id}", "file": f"/v2/images/{image_id}/file", "schema": "/v2/schemas/image"}


def _service_root(request: Request) -> str:
    """This service's root URL as the client reached it (scheme, host, port, prefix)."""
    return str(request.url.replace(path=request.scope.get("root_path", ""), query="")).rstrip("/")


def inspect_disk(data: bytes) -> tuple[str, int | None]:
    """The format a stream really has and its virtual size (Glance's format inspector, in small)."""
    if data[:4] == b"QFI\xfb" and len(data) >= 32:
        return "qcow2", struct.unpack(">Q", data[24:32])[0]
    if data[:8] == b"vhdxfile":
        return "vhdx", None
    if len(data) >= 512 and (data[:8] == b"conectix" or data[-512:-504] == b"conectix"):
        footer = data[:512] if data[:8] == b"conectix" else data[-512:]
        return "vhd", struct.unpack(">Q", footer[48:56])[0]
    if data[:4] == b"KDMV" and len(data) >= 20:
        return "vmdk", struct.unpack("<Q", data[12:20])[0] * 512
    if len(data) >= 0x178 and data[0x40:0x44] == b"\x7f\x10\xda\xbe":
        return "vdi", struct.unpack("<Q", data[0x170:0x178])[0]
    if data[0x8001:0x8006] == b"CD001":
        blocks = struct.unpack("<I", data[0x8050:0x8054])[0]
        block_size = struct.unpack("<H", data[0x8080:0x8082])[0]
        return "iso", blocks * block_size
    return "raw", len(data) or None


# Formats Glance inspects (require_image_format_match): the data must be of that format.
_INSPECTED_FORMATS = frozenset({"qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso"})


# --------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------

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
        stamp = _iso(ts)
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
                "updated_at": stamp, "tags": tags, **_image_links(image_id),
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


# --------------------------------------------------------------------------------
# GET /v2/images query parsing (Glance's deserializer, then its controller)
# --------------------------------------------------------------------------------

_IN_FILTERS = ("name", "id", "status", "container_format", "disk_format")
_TIME_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _split_filter_op(expression: str) -> tuple[str, str]:
    left, sep, right = expression.partition(":")
    if not sep:
        return "eq", left
    try:
        _parse_iso(expression)
        return "eq", expression
    except ValueError:
        return left, right


class ListQuery:
    """The validated query of one ``GET /v2/images``, in Glance's order of checks."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        params: list[tuple[str, str]] = list(items)

        def pop(name: str) -> str | None:
            for index, (key, value) in enumerate(params):
                if key == name:
                    del params[index]
                    return value
            return None

        limit = pop("limit")
        self.marker = pop("marker")
        member_status = pop("member_status") or "accepted"
        self.tags = []
        while (tag := pop("tag")) is not None:
            self.tags.append(tag.strip())
        filters = dict(params)
        visibility = filters.get("visibility")
        if visibility and visibility not in ("community", "public", "private", "shared", "all"):
            raise GlanceError(400, f"Invalid visibility value: {visibility}")
        if filters.get("changes-since"):
            raise GlanceError(400, 'The "changes-since" filter is no longer available on v2.')
        if member_status not in ("pending", "accepted", "rejected", "all"):
            raise GlanceError(400, f"Invalid status: {member_status}")
        if limit is not None:
            try:
                self.limit = int(limit)
            except ValueError:
                raise GlanceError(400, "limit param must be an integer") from None
            if self.limit < 0:
                raise GlanceError(400, "limit param must be positive")
        else:
            self.limit = DEFAULT_PAGE
        self.limit = min(self.limit, MAX_PAGE)
        self.keys, self.directions = self._sorting(params)
        self.filters = {k: v for k, v in params if k not in ("sort", "sort_key", "sort_dir")}
        os_hidden = self.filters.get("os_hidden")
        if os_hidden is not None and os_hidden.lower() not in ("true", "false"):
            raise GlanceError(400, f"Invalid value '{os_hidden.lower()}' for 'os_hidden' filter. "
                                   "Valid values are 'true' or 'false'.")
        protected = self.filters.get("protected")
        if protected is not None and protected not in ("true", "false"):
            raise GlanceError(400, f"Invalid value '{protected}' for 'protected' filter. "
                                   "Valid values are 'true' or 'false'.")
        # Creation order is kept sorted, so the default order needs no sorting.
        self.default_order = self.keys == ["created_at", "id"] and self.directions[0] == self.directions[1]

    @staticmethod
    def _sorting(params: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        names = [key for key, _ in params]
        keys: list[str] = []
        dirs: list[str] = []

        def valid_key(key: str) -> str:
            if key not in SORT_KEYS:
                raise GlanceError(400, f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}.")
            return key

        def valid_dir(direction: str) -> str:
            if direction not in ("asc", "desc"):
                raise GlanceError(400, f"Invalid sort direction: {direction}")
            return direction

        if "sort" in names:
            if "sort_key" in names or "sort_dir" in names:
                raise GlanceError(400, "Old and new sorting syntax cannot be combined")
            value = next(v for k, v in params if k == "sort")
            for part in value.strip().split(","):
                key, _, direction = part.partition(":")
                keys.append(valid_key(key.strip()))
                dirs.append(valid_dir((direction or "desc").strip()))
        else:
            keys = [valid_key(v.strip()) for k, v in params if k == "sort_key"]
            dirs = [valid_dir(v.strip()) for k, v in params if k == "sort_dir"]
            if len(dirs) > 1 and len(dirs) != len(keys):
                raise GlanceError(400, "Number of sort dirs does not match the number of sort keys")
        keys = keys or ["created_at"]
        dirs = dirs or ["desc"]
        # The database layer: one direction applies to every key, and
        # created_at then id break ties in the (first) direction.
        default_dir = dirs[0] if len(dirs) == 1 else "desc"
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        for tie_breaker in ("created_at", "id"):
            if tie_breaker not in keys:
                keys.append(tie_breaker)
                dirs.append(default_dir)
        return keys, dirs

    def predicate(self, caller: Caller) -> Callable[[dict], bool]:
        """A test for each image: visibility, hidden images, tags and every filter."""
        checks: list[Callable[[dict], bool]] = []
        filters = dict(self.filters)
        visibility = filters.pop("visibility", None)
        if visibility in (None, ""):
            checks.append(lambda image: image["visibility"] == "public" or caller.owns(image))
        elif visibility == "all":
            checks.append(caller.can_see)
        else:
            checks.append(lambda image: image["visibility"] == visibility and caller.can_see(image))
        hidden = filters.pop("os_hidden", "false").lower() == "true"
        checks.append(lambda image: bool(image.get("os_hidden", False)) == hidden)
        if "protected" in filters:
            protected = filters.pop("protected") == "true"
            checks.append(lambda image: image.get("protected") is protected)
        if self.tags:
            wanted = set(self.tags)
            checks.append(lambda image: wanted.issubset(image.get("tags", ())))
        for bound, compare in (("size_min", lambda s, n: s >= n), ("size_max", lambda s, n: s <= n)):
            if bound in filters:
                try:
                    number = int(filters.pop(bound))
                except ValueError:
                    raise GlanceError(400, "Unable to filter on a range with a non-numeric value.") from None
                checks.append(lambda image, n=number, f=compare: image.get("size") is not None and f(image["size"], n))
        for stamp in ("created_at", "updated_at"):
            if stamp in filters:
                op, value = _split_filter_op(filters.pop(stamp))
                if op not in _TIME_OPS:
                    raise GlanceError(400, "Unable to filter on a unknown operator.")
                try:
                    threshold = _parse_iso(value)
                except ValueError:
                    raise GlanceError(400, f'Bad "{stamp}" query filter format. Use ISO 8601 DateTime notation.') from None
                checks.append(lambda image, k=stamp, f=_TIME_OPS[op], t=threshold: f(_parse_iso(image[k]), t))
        for key, value in filters.items():
            checks.append(_equality(key, value))

        def accept(image: dict) -> bool:
            for check in checks:
                if not check(image):
                    return False
            return True

        return accept


def _equality(key: str, value: str) -> Callable[[dict], bool]:
    if key in _IN_FILTERS and value.startswith("in:"):
        wanted = {v.strip() for v in next(csv.reader([value[3:]], skipinitialspace=True), [])}
        return lambda image: image.get(key) in wanted
    if key in _IN_FILTERS and value.startswith("eq:"):
        value = value[3:]

    def test(image: dict) -> bool:
        actual = image.get(key)
        if isinstance(actual, bool):
            return str(actual).lower() == value.lower()
        return actual is not None and str(actual) == value

    return test


# --------------------------------------------------------------------------------
# PATCH: Glance's request deserializer, then its controller
# --------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------
# The HTTP service
# --------------------------------------------------------------------------------

_CREATE_READ_ONLY = ("created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size",
                     "virtual_size", "direct_url", "self", "file", "schema", "stores")
_CREATE_RESERVED = ("location", "deleted", "deleted_at", "locations")


class GlanceService:
    """The request handlers of one endpoint (Glance or IMS) over its state."""

    def __init__(self, ctx: SimContext, state: GlanceState, prefix: str) -> None:
        self.ctx = ctx
        self.state = state
        self.prefix = prefix
        self.versions = _IMS_VERSIONS if state.flavour == "ims" else _GLANCE_VERSIONS

    # -- plumbing -----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, Callable]] = [
            ("/", self.versions_root),
            ("/versions", self.versions_list),
            ("/v2/images", self._dispatch({"GET": self.list_images, "POST": self.create_image})),
            ("/v2/images/{image_id}", self._dispatch(
                {"GET": self.show_image, "PATCH": self.update_image, "DELETE": self.delete_image})),
            ("/v2/images/{image_id}/file", self._dispatch({"GET": self.download, "PUT": self.upload})),
            ("/v2/images/{image_id}/tags/{tag}", self._dispatch({"PUT": self.add_tag, "DELETE": self.delete_tag})),
            ("/v2/schemas/image", self._dispatch({"GET": self.image_schema})),
            ("/v2/schemas/images", self._dispatch({"GET": self.images_schema})),
            ("/{path:path}", self.fallback),
        ]
        # Every method reaches the handler, which answers 405 the way Glance does.
        return [Route(path, endpoint, methods=ALL_METHODS) for path, endpoint in table]

    def _dispatch(self, handlers: dict[str, Callable]) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                caller = self._authenticate(request)
                handler = handlers.get(request.method)
                if handler is None:
                    allowed = ", ".join(handlers)
                    raise GlanceError(405, headers={"Allow": allowed},
                                      body=f"The method {request.method} is not allowed for this resource. <br /><br />\n")
                return await handler(request, caller)
            except GlanceError as error:
                return self.error_response(request, error)
        return endpoint

    def _authenticate(self, request: Request) -> Caller:
        token = self.ctx.tokens.check("keystone", request.headers.get("x-auth-token"))
        if token is None or not token.project_id:
            raise _Unauthorized()
        return Caller(token.project_id)

    def error_response(self, request: Request, error: GlanceError) -> Response:
        if isinstance(error, _Unauthorized):
            # keystonemiddleware answers before Glance: always JSON.
            root = _service_root(request).removesuffix(self.prefix)
            body = {"error": {"code": 401, "title": "Unauthorized",
                              "message": "The request you have made requires authentication."}}
            return Response(json.dumps(body), 401, media_type="application/json; charset=UTF-8",
                            headers={"WWW-Authenticate": f'Keystone uri="{root}{PREFIXES["keystone"]}"'})
        return render_glance_error(request, error)

    def render_fault(self, request: Request, status: int, code: str, message: str) -> Response:
        return render_glance_error(request, GlanceError(status, message))

    def _visible(self, image_id: str, caller: Caller, missing: GlanceError | None = None) -> dict:
        image = self.state.images.get(image_id)
        if image is None or not caller.can_see(image):
            raise missing or GlanceError(404, f"No image found with ID {image_id}")
        return image

    def _may_modify(self, image: dict, caller: Caller, action: str = "modify_image") -> None:
        if not caller.owns(image):
            raise GlanceError(403, f"You are not authorized to complete {action} action.")

    # -- version discovery ----------------------------------------------------------
    def versions_document(self, root: str) -> dict:
        return {"versions": [
            {"id": vid, "status": status, "links": [{"rel": "self", "href": f"{root}/{vid.split('.')[0]}/"}]}
            for vid, status in self.versions]}

    async def versions_root(self, request: Request) -> Response:
        return _json(self.versions_document(_service_root(request)), 300)

    async def versions_list(self, request: Request) -> Response:
        return _json(self.versions_document(_service_root(request)), 200)

    async def fallback(self, request: Request) -> Response:
        path = request.path_params["path"]
        root = _service_root(request)
        if re.fullmatch(r"v2(\.\d+)?", path):
            return Response(b"", 302, headers={"Location": f"{root}/v2/", "x-openstack-request-id": _request_id()},
                            media_type="text/plain; charset=utf8")
        if re.match(r"v\d", path) and not path.startswith("v2/"):
            return _json(self.versions_document(root), 300)
        try:
            self._authenticate(request)
            raise GlanceError(404)
        except GlanceError as error:
            return self.error_response(request, error)

    # -- schemas ----------------------------------------------------------------------
    async def image_schema(self, request: Request, caller: Caller) -> Response:
        return _json(self.state.schema)

    async def images_schema(self, request: Request, caller: Caller) -> Response:
        return _json(images_schema(self.state.flavour))

    # -- images -------------------------------------------------------------------------
    async def list_images(self, request: Request, caller: Caller) -> Response:
        items = list(request.query_params.multi_items())
        query = ListQuery(items)
        images, next_marker = self.state.page(caller, query)
        # first/next keep every parameter (the last value of repeated ones), marker aside
        params = dict(items)
        params.pop("marker", None)
        encoded = urlencode(params)
        body: dict[str, Any] = {"images": images, "first": "/v2/images" + (f"?{encoded}" if encoded else ""),
                                "schema": "/v2/schemas/images"}
        if next_marker:
            body["next"] = "/v2/images?" + urlencode({**params, "marker": next_marker})
        return _json(body)

    async def show_image(self, request: Request, caller: Caller) -> Response:
        with self.state.lock:
            image = snapshot(self._visible(request.path_params["image_id"], caller))
        return _json(image)

    async def create_image(self, request: Request, caller: Caller) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise GlanceError(400, "Request body must be a JSON object.")
        for key in body:
            if key in _CREATE_READ_ONLY:
                raise GlanceError(403, f"Attribute '{key}' is read-only.")
            if key in _CREATE_RESERVED or key.startswith(RESERVED_NAMESPACE):
                raise GlanceError(403, detail=f"Attribute '{key}' is reserved.")
        if problem := schema_violation(self.state.schema, body):
            raise GlanceError(400, problem)
        props = dict(body)
        tags = list(dict.fromkeys(props.pop("tags", [])))
        image_id = props.pop("id", None) or str(uuid.uuid4())
        core = {key: props.pop(key) for key in list(props) if key in CORE_ATTRIBUTES}
        for key in ("min_ram", "min_disk"):
            if core.get(key, 0) < 0:
                raise GlanceError(400, f"Invalid value '{core[key]}' for parameter '{key}': Cannot be a negative value")
        if core.get("visibility") == "public":
            raise GlanceError(403, "You are not authorized to complete publicize_image action.")
        owner = core.pop("owner", None) or caller.project_id
        if owner != caller.project_id:
            raise GlanceError(403, f"You are not permitted to create images owned by '{owner}'.")
        with self.state.lock:
            if image_id in self.state.images:
                raise GlanceError(409, f"Image ID {image_id} already exists!")
            image = snapshot(self.state.new_image(image_id, owner, core, props, tags))
        location = f"{_service_root(request)}/v2/images/{image_id}"
        return _json(image, 201, headers={"Location": location, "OpenStack-image-store-ids": "fs"})

    async def update_image(self, request: Request, caller: Caller) -> Response:
        versions = {PATCH_MEDIA_TYPES[0]: 4, PATCH_MEDIA_TYPES[1]: 10}
        content_type = request.headers.get("content-type")
        media_type = content_type.split(";")[0].strip().lower() if content_type else None
        if media_type not in versions:
            raise unsupported_media_type(
                media_type, "Image PATCH expects Content-Type one of: " + ", ".join(PATCH_MEDIA_TYPES),
                headers={"Accept-Patch": ", ".join(PATCH_MEDIA_TYPES)})
        raw = await _json_body(request)
        changes = parse_patch(raw, versions[media_type], self.state)
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller)
            self._may_modify(image, caller)
            patched = apply_patch(image, changes, self.state.flavour)
            if changes:
                patched["updated_at"] = _now()[1]
            self.state.replace(patched)
            result = snapshot(patched)
        return _json(result)

    async def delete_image(self, request: Request, caller: Caller) -> Response:
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller, GlanceError(404, f"Failed to find image {image_id} to delete"))
            self._may_modify(image, caller, "delete_image")
            if image.get("protected"):
                raise GlanceError(403, f"Image {image_id} is protected and cannot be deleted.")
            self.state.drop(image_id)
        return _empty()

    # -- image data ---------------------------------------------------------------------
    async def upload(self, request: Request, caller: Caller) -> Response:
        content_type = request.headers.get("content-type")
        media_type = content_type.split(";")[0].strip().lower() if content_type else None
        if media_type != "application/octet-stream":
            raise unsupported_media_type(media_type, f"Invalid content type {media_type}")
        image_id = request.path_params["image_id"]
        state = self.state
        with state.lock:
            self._may_modify(self._visible(image_id, caller), caller, "upload_image")
            image = state.writable(image_id)
            if image["status"] != "queued":
                raise GlanceError(409, f"Image status transition from {image['status']} to saving is not allowed")
            if not image.get("disk_format") or not image.get("container_format"):
                raise GlanceError(400, "Properties disk_format, container_format must be set prior to saving data.")
            image["status"] = "saving"  # visible to other callers while the data streams in
            state.touch()
        data = bytearray()
        try:
            async for chunk in request.stream():
                data.extend(chunk)
        except BaseException:
            with state.lock:
                if image_id in state.images:
                    state.images[image_id]["status"] = "queued"
                    state.touch()
            raise
        found, virtual_size = inspect_disk(bytes(data))
        declared = image["disk_format"]
        with state.lock:
            current = state.images.get(image_id)
            if current is None:
                raise GlanceError(410, f"Image {image_id} could not be found after upload. "
                                       "The image may have been deleted during the upload.")
            state.touch()
            if declared in _INSPECTED_FORMATS and found != declared:
                current["status"] = "queued"
                raise unsupported_media_type(media_type, f"Image disk_format {declared} does not match stream data {found}")
            if declared not in _INSPECTED_FORMATS and declared != "raw":
                virtual_size = None  # formats Glance does not inspect report no virtual size
            current.update(size=len(data), virtual_size=virtual_size, checksum=hashlib.md5(data).hexdigest(),
                           status="active", updated_at=_now()[1])
            if state.flavour == "ims":
                current["__image_size"] = str(len(data))
            else:
                current.update(os_hash_algo="sha512", os_hash_value=hashlib.sha512(data).hexdigest(), stores="fs")
            state.files[image_id] = bytes(data)
        return _empty()

    async def download(self, request: Request, caller: Caller) -> Response:
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller)
            data = self.state.files.get(image_id)
            status = image["status"]
            checksum = image.get("checksum")
        if status == "deactivated":
            raise GlanceError(403, "The requested image has been deactivated. Image data download is forbidden.")
        if status == "queued" or (status != "active" and data is None):
            return Response(b"", 204, headers={"x-openstack-request-id": _request_id()})
        if data is None:
            raise GlanceError(404, detail=NOT_HELD)
        return Response(data, 200, media_type="application/octet-stream",
                        headers={"Content-MD5": checksum or "", "x-openstack-request-id": _request_id()})

    # -- tags -----------------------------------------------------------------------------
    async def add_tag(self, request: Request, caller: Caller) -> Response:
        image_id, tag = request.path_params["image_id"], request.path_params["tag"]
        with self.state.lock:
            self._may_modify(self._visible(image_id, caller, GlanceError(404, f"Image {image_id} not found.")), caller)
            if problem := schema_violation(self.state.schema, {"tags": [tag]}):
                raise GlanceError(400, problem)
            image = self.state.writable(image_id)
            if tag not in image["tags"]:
                image["tags"].append(tag)
            image["updated_at"] = _now()[1]
            self.state.touch()
        return _empty()

    async def delete_tag(self, request: Request, caller: Caller) -> Response:
        image_id, tag = request.path_params["image_id"], request.path_params["tag"]
        with self.state.lock:
            self._may_modify(self._visible(image_id, caller, GlanceError(404, f"Image {image_id} not found.")), caller)
            image = self.state.writable(image_id)
            if tag not in image["tags"]:
                raise GlanceError(404)
            image["tags"].remove(tag)
            image["updated_at"] = _now()[1]
            self.state.touch()
        return _empty()


class _Unauthorized(GlanceError):
    def __init__(self) -> None:
        super().__init__(401)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise GlanceError(400, "Body expected in request.")
    try:
        return json.loads(raw)
    except ValueError:
        raise GlanceError(400, "Malformed JSON in request body.") from None


class _ServiceRoot:
    """Serves the service root without a trailing slash (``/glance``) as ``/glance/``."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope, root_path=scope.get("root_path", "") + self.prefix, path=scope["path"] + "/")
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------------
# Seed catalogs
# --------------------------------------------------------------------------------

def _seed_glance(state: GlanceState, ctx: SimContext) -> None:
    demo = ctx.demo.keystone_project_id
    spec_sample_hash = ("073b4523583784fbe01daff81eba092a262ec37ba6d04dd3f52e4cd5c93eb8258af44881345ecda0e49f3d8cc6d2"
                        "df6b050ff3e72681d723234aff9d17d0cf09")
    # The two images of the API reference's list sample, verbatim.
    catalog: list[tuple[dict, dict]] = [
        ({"id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "name": "cirros-0.3.2-x86_64-disk", "status": "active",
          "visibility": "public", "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare",
          "size": 13167616, "virtual_size": None, "checksum": "64d7c1cd2b6f60c92c14662941cb7913",
          "os_hash_value": spec_sample_hash,
          "created_at": "2014-11-07T17:07:06Z", "updated_at": "2014-11-07T17:19:09Z"}, {}),
        ({"id": "781b3762-9469-4cec-b58d-3349e5de4e9c", "name": "F17-x86_64-cfntools", "status": "active",
          "visibility": "public", "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare",
          "size": 476704768, "virtual_size": None, "checksum": "afab0f79bac770d61d24b4d0560b5f70",
          "os_hash_value": "ea3e20140df1cc65f53d4c5b9ee3b38d0d6868f61bbe2230417b0f98cef0e0c7c37f0ebc5c6456fa47f013de"
                           "48b452617d56c15fdba25e100379bd0e81ee15ec",
          "created_at": "2014-10-30T08:23:39Z", "updated_at": "2014-11-03T16:40:10Z"}, {}),
    ]
    distros = [
        ("ubuntu-24.04-server-cloudimg-amd64", "ubuntu", "24.04", 612368384, 3758096384, 10, 512, ["ubuntu", "lts"]),
        ("ubuntu-22.04-server-cloudimg-amd64", "ubuntu", "22.04", 676855808, 2361393152, 10, 512, ["ubuntu", "lts"]),
        ("debian-12-genericcloud-amd64", "debian", "12", 350289920, 2147483648, 5, 512, ["debian"]),
        ("CentOS-Stream-GenericCloud-9", "centos", "9", 1203765248, 10737418240, 10, 1024, ["centos", "stream"]),
        ("Rocky-9-GenericCloud-Base-9.5", "rocky", "9.5", 609484800, 10737418240, 10, 1024, ["rocky"]),
        ("Fedora-Cloud-Base-Generic-41", "fedora", "41", 558718976, 5368709120, 5, 1024, ["fedora"]),
        ("cirros-0.6.2-x86_64-disk", "cirros", "0.6.2", 21430272, 117440512, 1, 128, ["cirros", "test"]),
    ]
    for index, (name, distro, version, size, vsize, min_disk, min_ram, tags) in enumerate(distros):
        catalog.append(({"name": name, "status": "active", "visibility": "public", "owner": OPERATOR_PROJECT,
                         "disk_format": "qcow2", "container_format": "bare", "size": size, "virtual_size": vsize,
                         "min_disk": min_disk, "min_ram": min_ram, "tags": tags,
                         "created_at": f"2025-0{1 + index % 9}-1{index}T08:00:00Z"},
                        {"os_distro": distro, "os_version": version, "architecture": "x86_64",
                         "hw_disk_bus": "virtio", "hw_qemu_guest_agent": "yes",
                         "os_admin_user": "root" if distro == "cirros" else distro}))
    catalog += [
        ({"name": "Windows Server 2022 Standard Evaluation", "status": "active", "visibility": "public",
          "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare", "size": 9663676416,
          "virtual_size": 42949672960, "min_disk": 40, "min_ram": 2048, "tags": ["windows"],
          "created_at": "2025-03-02T10:30:00Z"},
         {"os_distro": "windows", "os_version": "2022", "os_type": "windows", "architecture": "x86_64",
          "hw_firmware_type": "uefi", "hw_machine_type": "q35", "os_require_quiesce": "yes"}),
        ({"name": "app-server-golden-2025-10", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 2147942400, "virtual_size": 21474836480,
          "min_disk": 20, "min_ram": 2048, "tags": ["golden", "app"], "created_at": "2025-10-14T09:12:44Z"},
         {"os_distro": "ubuntu", "os_version": "24.04", "architecture": "x86_64", "build_pipeline": "packer",
          "app_version": "4.12.0"}),
        ({"name": "ubuntu-22.04-hardened-cis", "status": "active", "visibility": "shared", "owner": demo,
          "disk_format": "raw", "container_format": "bare", "size": 3221225472, "virtual_size": 3221225472,
          "min_disk": 10, "tags": ["hardened", "cis"], "created_at": "2025-09-01T12:00:00Z"},
         {"os_distro": "ubuntu", "os_version": "22.04", "architecture": "x86_64", "cis_level": "2"}),
        ({"name": "build-agent-snapshot", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 5368709120, "virtual_size": 42949672960,
          "min_disk": 40, "created_at": "2025-11-02T18:45:10Z"},
         {"image_type": "snapshot", "instance_uuid": "9f3c2b1a-6d5e-4f7a-8b9c-0d1e2f3a4b5c",
          "base_image_ref": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "owner_user_name": "demo"}),
        ({"name": "legacy-win2016-protected", "status": "active", "visibility": "community", "owner": demo,
          "disk_format": "vhd", "container_format": "bare", "size": 13958643712, "virtual_size": 136365211648,
          "min_disk": 127, "min_ram": 4096, "protected": True, "created_at": "2024-06-20T07:30:00Z"},
         {"os_distro": "windows", "os_version": "2016", "os_type": "windows"}),
        ({"name": "staging-upload-pending", "status": "queued", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "created_at": "2025-11-20T16:05:00Z"},
         {"upload_ticket": "CHG-20451"}),
        ({"name": "debian-12-with-gpu-drivers", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 2684354560, "virtual_size": 21474836480,
          "min_disk": 20, "os_hidden": True, "tags": ["gpu"], "created_at": "2025-08-11T11:11:11Z"},
         {"os_distro": "debian", "os_version": "12", "nvidia_driver": "550.127"}),
    ]
    rng = random.Random(20251123)
    images, created = [], []
    for core, props in catalog:
        image_id = core.get("id") or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        size = core.get("size")
        checksum = core.get("checksum") or (hashlib.md5(image_id.encode()).hexdigest() if size else None)
        os_hash = core.get("os_hash_value") or (hashlib.sha512(image_id.encode()).hexdigest() if size else None)
        image = {
            **props, "name": core["name"], "disk_format": core["disk_format"],
            "container_format": core["container_format"], "visibility": core["visibility"], "size": size,
            "virtual_size": core.get("virtual_size"), "status": core["status"], "checksum": checksum,
            "protected": core.get("protected", False), "min_ram": core.get("min_ram", 0),
            "min_disk": core.get("min_disk", 0), "owner": core["owner"], "os_hidden": core.get("os_hidden", False),
            "os_hash_algo": "sha512" if size else None, "os_hash_value": os_hash, "id": image_id,
            "created_at": core["created_at"], "updated_at": core.get("updated_at", core["created_at"]),
            "tags": core.get("tags", []), **_image_links(image_id),
        }
        if size:
            image["stores"] = "fs"
        images.append(image)
        created.append(_parse_iso(image["created_at"]))
    state.bulk_load(images, created)


def _seed_ims(state: GlanceState, ctx: SimContext) -> None:
    demo = ctx.demo.keystone_project_id
    # The documented example of the native PATCH answer, attribute for attribute.
    example = {
        "file": "/v2/images/33ad552d-1149-471c-8190-ff6776174a00/file", "owner": demo,
        "id": "33ad552d-1149-471c-8190-ff6776174a00", "size": 2,
        "self": "/v2/images/33ad552d-1149-471c-8190-ff6776174a00", "schema": "/v2/schemas/image",
        "status": "active", "tags": [], "visibility": "private", "name": "ims_test",
        "checksum": "99914b932bd37a50b983c5e7c90ae93b", "protected": False, "container_format": "bare",
        "min_ram": 0, "updated_at": "2015-12-08T02:30:49Z", "__os_bit": "64",
        "__os_version": "Ubuntu 14.04 server 64bit", "__description": "ims test", "disk_format": "vhd",
        "__isregistered": "true", "__platform": "Ubuntu", "__os_type": "Linux", "min_disk": 40,
        "virtual_env_type": "FusionCompute", "__image_source_type": "uds", "__imagetype": "private",
        "created_at": "2015-12-04T09:45:33Z", "virtual_size": 0,
        "__originalimagename": "33ad552d-1149-471c-8190-ff6776174a00", "__backup_id": "", "__productcode": "",
        "__image_size": "449261568", "__data_origin": None, "hw_firmware_type": "bios",
    }
    public = [
        ("Ubuntu 22.04 server 64bit", "Ubuntu", "Linux", "Ubuntu 22.04 server 64bit", 2361393152, 40, "bios"),
        ("Ubuntu 24.04 server 64bit", "Ubuntu", "Linux", "Ubuntu 24.04 server 64bit", 2469396480, 40, "uefi"),
        ("CentOS 7.9 64bit", "CentOS", "Linux", "CentOS 7.9 64bit", 1442840576, 40, "bios"),
        ("Debian 12.0.0 64bit", "Debian", "Linux", "Debian GNU/Linux 12.0.0 64bit", 1183842304, 40, "bios"),
        ("Huawei Cloud EulerOS 2.0 Standard 64 bit", "EulerOS", "Linux", "Huawei Cloud EulerOS 2.0 64bit",
         1825361920, 40, "bios"),
        ("Windows Server 2019 Datacenter 64bit English", "Windows", "Windows",
         "Windows Server 2019 Datacenter 64bit English", 11274289152, 40, "uefi"),
    ]
    rng = random.Random(20151204)
    images, created = [example], [_parse_iso(example["created_at"])]
    for index, (name, platform, os_type, os_version, image_size, min_disk, firmware) in enumerate(public):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp = f"2025-0{index + 1}-15T02:00:00Z"
        images.append({
            "file": f"/v2/images/{image_id}/file", "owner": IMS_PUBLIC_PROJECT, "id": image_id, "size": 0,
            "self": f"/v2/images/{image_id}", "schema": "/v2/schemas/image", "status": "active", "tags": [],
            "visibility": "public", "name": name, "checksum": "d41d8cd98f00b204e9800998ecf8427e",
            "protected": True, "container_format": "bare", "min_ram": 1024 if os_type == "Windows" else 0,
            "updated_at": stamp, "__os_bit": "64", "__os_version": os_version, "__description": "",
            "disk_format": "zvhd2", "__isregistered": "true", "__platform": platform, "__os_type": os_type,
            "min_disk": min_disk, "virtual_env_type": "FusionCompute", "__image_source_type": "uds",
            "__imagetype": "gold", "created_at": stamp, "virtual_size": 0, "__originalimagename": "",
            "__backup_id": "", "__productcode": "", "__image_size": str(image_size), "__data_origin": None,
            "hw_firmware_type": firmware, "__support_kvm": "true", "__support_xen": "false",
            "__support_agent_list": "hss,ces", "__lazyloading": "true", "hw_vif_multiqueue_enabled": "true",
        })
        created.append(_parse_iso(stamp))
    private = [
        ("web-server-backup-2025", "private", "ECS system disk image of web-01", "Ubuntu", "Linux", "FusionCompute",
         {"app": "nginx", "team": "web"}),
        ("mysql-data-disk", "private", "data disk image of db-01", "Other", "Other", "DataImage", {"team": "db"}),
        ("partner-hardened-centos", "shared", "shared by a partner account", "CentOS", "Linux", "FusionCompute",
         {"partner": "acme"}),
        ("rescue-tools-iso", "private", "rescue ISO", "Other", "Linux", "IsoImage", {}),
    ]
    for index, (name, visibility, description, platform, os_type, env, custom) in enumerate(private):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp = f"2025-1{index % 2}-2{index}T10:20:30Z"
        images.append({
            "file": f"/v2/images/{image_id}/file", "owner": demo, "id": image_id, "size": 0,
            "self": f"/v2/images/{image_id}", "schema": "/v2/schemas/image", "status": "active", "tags": [],
            "visibility": visibility, "name": name, "checksum": hashlib.md5(image_id.encode()).hexdigest(),
            "protected": False, "container_format": "bare", "min_ram": 0, "updated_at": stamp,
            "__os_bit": "64", "__description": description, "disk_format": "iso" if env == "IsoImage" else "zvhd2",
            "__isregistered": "true", "__platform": platform, "__os_type": os_type, "min_disk": 40,
            "virtual_env_type": env, "__image_source_type": "uds",
            "__imagetype": "shared" if visibility == "shared" else "private", "created_at": stamp,
            "virtual_size": 0, "__originalimagename": "", "__backup_id": "", "__productcode": "",
            "__image_size": str(1073741824 * (index + 1)), "__data_origin": f"instance,{uuid.UUID(int=index + 1)}"
            if env == "FusionCompute" else None, **custom,
        })
        created.append(_parse_iso(stamp))
    state.bulk_load(images, created)


_SECONDS = tuple(f"{second:02d}Z" for second in range(60))


def seed_bulk(state: GlanceState, count: int, owner: str) -> None:
    """``count`` more images, fast (100,000 in well under a second on a quiet
    machine): plain dict literals, string concatenation, timestamps formatted
    once per minute, the garbage collector paused, one sort at the end."""
    if count <= 0:
        return
    bits = random.Random(count).getrandbits
    distros = ("ubuntu", "debian", "centos", "rocky", "fedora", "windows")
    platforms = ("Ubuntu", "Debian", "CentOS", "Rocky", "Fedora", "Windows")
    tags = tuple((distro,) for distro in distros)  # shared: rows are read-only
    formats = ("zvhd2", "qcow2", "vhd") if state.flavour == "ims" else ("qcow2", "raw", "vhd")
    newest = 1_700_000_000  # 2023-11-14T22:13:20Z; one image per 10 s back from there
    ims = state.flavour == "ims"
    images, created = [], []
    minute_prefix, minute_of = "", -1
    paused = gc.isenabled()
    gc.disable()
    try:
        for index in range(count):
            h = "%032x" % bits(128)
            image_id = h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
            ts = newest - 10 * index
            if ts // 60 != minute_of:
                minute_of = ts // 60
                minute_prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(ts))
            stamp = minute_prefix + _SECONDS[ts % 60]
            kind = index % 6
            distro = distros[kind]
            name = "scale-" + distro + "-" + str(index)
            visibility = "shared" if index % 5 == 0 else "private"
            self_link = "/v2/images/" + image_id
            checksum = "%032x" % bits(128)
            if ims:
                image = _IMS_ROW((
                    self_link + "/file", owner, image_id, 0, self_link, "/v2/schemas/image", "active",
                    tags[kind], visibility, name, checksum, False, "bare", 0, stamp, "64", formats[index % 3],
                    "true", platforms[kind], "Windows" if kind == 5 else "Linux", 40, "FusionCompute", "uds",
                    "shared" if index % 5 == 0 else "private", stamp, 0, str(1073741824 + index)))
            else:
                image = _GLANCE_ROW((
                    distro, name, formats[index % 3], "bare", visibility, 1073741824 + index, None, "active",
                    checksum, False, 0, 0, owner, False, "sha512", checksum * 4, image_id, stamp, stamp,
                    tags[kind], self_link, self_link + "/file", "/v2/schemas/image"))
            images.append(image)
            created.append(float(ts))
        state.bulk_load(images, created)
    finally:
        if paused:
            gc.enable()


# --------------------------------------------------------------------------------
# Mounting
# --------------------------------------------------------------------------------

class _RequestIdFallback:
    """Adds ``x-openstack-request-id`` to answers that lack one (faults, 404s)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-openstack-request-id" for name, _ in headers):
                    headers.append((b"x-openstack-request-id", _request_id().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _service(ctx: SimContext, key: str, flavour: str) -> list[BaseRoute]:
    state = GlanceState(flavour, ctx)
    (_seed_ims if flavour == "ims" else _seed_glance)(state, ctx)
    seed_bulk(state, ctx.config.seed_images, ctx.demo.keystone_project_id)
    ctx.states[key] = state
    prefix = PREFIXES[key]
    service = GlanceService(ctx, state, prefix)
    app = _RequestIdFallback(ctx.faults.wrap(Router(routes=service.routes()), service.render_fault))
    return [Route(prefix, _ServiceRoot(app, prefix)), Mount(prefix, app=app)]


def mounts(ctx: SimContext) -> list[BaseRoute]:
    """Glance at PREFIXES["glance"] and the IMS flavour at PREFIXES["ims"] (separate state)."""
    return _service(ctx, "glance", "glance") + _service(ctx, "ims", "ims")


__all__ = ["GlanceError", "GlanceService", "GlanceState", "ListQuery", "apply_patch", "image_schema",
           "images_schema", "inspect_disk", "mounts", "parse_patch", "render_glance_error", "schema_violation"]
