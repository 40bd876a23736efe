"""The Glance image schema: what ``GET /v2/schemas/image`` answers, and the
checks values are put through, with the messages Glance's jsonschema gives."""

from __future__ import annotations

import re
from pprint import pformat
from textwrap import indent
from typing import Any, Callable

from workbench.providers.glance.models import CONTAINER_FORMATS, DISK_FORMATS, IMS_DISK_FORMATS, UUID_PATTERN


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



__all__ = ["image_schema", "images_schema", "schema_violation"]
