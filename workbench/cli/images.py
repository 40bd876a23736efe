"""``workbench images list|show|patch|create|put|delete``: images of one profile.

Which edits exist depends on the cloud: ``patch`` is Glance/IMS (JSON patch),
``create`` is Yandex (from an image, disk, snapshot or URI), ``put`` is Kusto
(a sandbox custom image), ``delete`` is everything but Batch (whose
supported-images API is read-only). Each edit is built as the driver's typed
request, so it is validated before anything is sent, and ``--dry-run`` prints
exactly that request as ``curl`` with secrets masked.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.cli.output import Column, JsonArrayWriter, JsonLinesWriter, Output, format_size, to_jsonable
from workbench.cli.session import EXIT_OK, EXIT_USAGE, CommandError, run_in_workspace

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.images import ImageSummary
    from workbench.profiles import Profile
    from workbench.providers.base import ApiRequest, Driver

__all__ = ["add_parser", "filters_for", "patch_value"]

PROFILE_ENV = "WORKBENCH_PROFILE"


# =========================================================================== parser
def _profile_option(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(PROFILE_ENV) or None
    parser.add_argument("--profile", "-p", default=default, required=default is None, metavar="NAME",
                        help=f"the profile to use (default: ${PROFILE_ENV})")


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def _change_options(parser: argparse.ArgumentParser, *, operation: bool) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="print the exact request as curl (secrets masked) and send nothing")
    if operation:
        parser.add_argument("--wait", action="store_true",
                            help="follow the operation with a live progress line until it ends "
                                 "(exit status 1 if it fails)")


def add_parser(subparsers: Any) -> None:
    images = subparsers.add_parser("images", help="list, show and change images",
                                   description="Images of one profile's account.")
    commands = images.add_subparsers(dest="images_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser(
        "list",
        help="list images (streamed: any number of them)",
        description="List images, following the provider's paging. --filter: Batch takes an OData $filter "
        "(osType eq 'linux'); Glance/IMS take KEY=VALUE pairs (name=cirros, status=active, visibility=public, "
        "...); Yandex takes its API filter (name=\"web-2\"); Kusto has no filters.",
    )
    _profile_option(listing)
    listing.add_argument("--filter", "-f", action="append", default=[], metavar="FILTER",
                         help="a filter (see above); repeatable")
    listing.add_argument("--limit", "-n", type=_positive_int, metavar="N", help="stop after N images")
    fmt = listing.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON array, streamed")
    fmt.add_argument("--jsonl", action="store_true", help="print JSON Lines: one image per line")
    listing.add_argument("--raw", action="store_true",
                         help="with --json/--jsonl: each image as the API returned it, besides the summary")
    listing.set_defaults(run=run_list)

    show = commands.add_parser("show", help="show one image in full")
    _profile_option(show)
    show.add_argument("image_id", metavar="ID", help="the image's id (Kusto: its name)")
    _json(show)
    show.set_defaults(run=run_show)

    patch = commands.add_parser(
        "patch",
        help="change a Glance/IMS image with JSON-patch operations",
        description="Send a JSON patch to a Glance/IMS image. PATH is an attribute (name, min_disk, tags, "
        "or a custom property) or its JSON pointer (/name). VALUE is text; min_disk/min_ram take a number, "
        "protected true/false, tags a JSON list or comma-separated words.",
    )
    _profile_option(patch)
    patch.add_argument("image_id", metavar="ID")
    patch.add_argument("--replace", nargs=2, action=_TaggedAppend, metavar=("PATH", "VALUE"), dest="patch_ops",
                       default=[], help="replace an attribute (repeatable)")
    patch.add_argument("--add", nargs=2, action=_TaggedAppend, metavar=("PATH", "VALUE"), dest="patch_ops",
                       help="add an attribute (repeatable)")
    patch.add_argument("--remove", nargs=1, action=_TaggedAppend, metavar="PATH", dest="patch_ops",
                       help="remove a custom attribute (repeatable)")
    patch.add_argument("--dialect", choices=("v2.1", "v2.0"), default=None,
                       help="the patch media type (default: the profile's patch_dialect, v2.1)")
    _change_options(patch, operation=False)
    _json(patch)
    patch.set_defaults(run=run_patch)

    create = commands.add_parser("create", help="create a Yandex image (an operation)")
    _profile_option(create)
    create.add_argument("--name", required=True, help="the image name ([a-z]([-a-z0-9]{0,61}[a-z0-9])?)")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--source-image", metavar="ID", help="copy an image")
    source.add_argument("--source-disk", metavar="ID", help="from a disk")
    source.add_argument("--source-snapshot", metavar="ID", help="from a snapshot")
    source.add_argument("--source-uri", metavar="URI", help="from an Object Storage URI")
    create.add_argument("--description")
    create.add_argument("--family")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    create.add_argument("--min-disk-size", type=int, metavar="BYTES")
    create.add_argument("--os-type", choices=("linux", "windows"))
    create.add_argument("--product-id", action="append", default=[], metavar="ID", help="repeatable")
    create.add_argument("--pooled", action="store_true", help="keep the image pooled for fast disk creation")
    _change_options(create, operation=True)
    _json(create)
    create.set_defaults(run=run_create)

    put = commands.add_parser("put", help="create or update a Kusto sandbox custom image (an operation)")
    _profile_option(put)
    put.add_argument("name", metavar="NAME", help="the image name")
    base = put.add_mutually_exclusive_group(required=True)
    base.add_argument("--language-version", metavar="VERSION", help="Python version, such as 3.10.8")
    base.add_argument("--base-image", metavar="NAME", help="a managed or custom base image")
    put.add_argument("--requirements", metavar="FILE", help="a pip requirements file to install")
    _change_options(put, operation=True)
    _json(put)
    put.set_defaults(run=run_put)

    delete = commands.add_parser("delete", help="delete an image (Kusto, Glance/IMS, Yandex)")
    _profile_option(delete)
    delete.add_argument("image_id", metavar="ID")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _change_options(delete, operation=True)
    _json(delete)
    delete.set_defaults(run=run_delete)


class _TaggedAppend(argparse.Action):
    """``--replace P V`` / ``--add P V`` / ``--remove P`` appended to one list, in command-line order,
    each tagged with its operation: ``["add", P, V]``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.append([option_string.lstrip("-") if option_string else "", *values])
        setattr(namespace, self.dest, items)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# =========================================================================== filters and values
def filters_for(provider: str, items: list[str]) -> dict[str, Any]:
    """The ``list_images`` keyword filters for ``--filter`` arguments of ``provider``."""
    if not items:
        return {}
    if provider == "batch":
        text = items[0] if len(items) == 1 else " and ".join(f"({item})" for item in items)
        return {"filter": text}
    if provider in ("glance", "ims"):
        filters: dict[str, Any] = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--filter {item!r}: Glance/IMS filters are KEY=VALUE, such as name=cirros or "
                                   "status=active", status=EXIT_USAGE)
            filters[key.strip()] = value
        return filters
    if provider == "yandex":
        # `family=web` (unquoted) is a keyword condition the driver quotes; anything else is the
        # API's own expression (name="web-2", status IN ("READY")); all of them must hold.
        filters = {}
        expressions = []
        for item in items:
            match = _YANDEX_SIMPLE.fullmatch(item.strip())
            if match and match.group(1) not in filters:
                filters[match.group(1)] = match.group(2)
            else:
                expressions.append(item.strip())
        if expressions:
            filters["filter"] = " AND ".join(expressions)
        return filters
    raise CommandError(f"--filter: the {provider} list API has no filters", status=EXIT_USAGE)


_YANDEX_SIMPLE = re.compile(r'(id|name|family|status)\s*=\s*([^"\s][^"]*)')
_INTEGER_ATTRIBUTES = frozenset({"min_disk", "min_ram"})


def patch_value(attribute: str, text: str) -> Any:
    """A command-line VALUE as the JSON value the attribute takes."""
    if attribute in _INTEGER_ATTRIBUTES:
        try:
            return int(text)
        except ValueError:
            raise CommandError(f"{attribute}: must be a whole number (of {'GB' if attribute == 'min_disk' else 'MB'})"
                               f", got {text!r}", status=EXIT_USAGE) from None
    if attribute == "protected":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise CommandError(f"protected: must be true or false, got {text!r}", status=EXIT_USAGE)
        return lowered == "true"
    if attribute == "tags":
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise CommandError(f"tags: not a JSON list ({exc})", status=EXIT_USAGE) from None
            return value
        return [tag.strip() for tag in stripped.split(",") if tag.strip()]
    return text


def _attribute_of(path: str) -> str:
    from workbench.providers.glance.models import decode_pointer

    return decode_pointer(path) if path.startswith("/") else path


def _pointer_of(path: str) -> str:
    from workbench.providers.glance.models import encode_pointer

    return path if path.startswith("/") else encode_pointer(path)


# =========================================================================== rows and columns
_COLUMNS: dict[str, list[Column]] = {
    "kusto": [Column("name", "NAME", 40), Column("status", "STATE", 12), Column("language", "LANGUAGE", 8),
              Column("languageVersion", "VERSION", 10), Column("baseImageName", "BASE IMAGE", 40)],
    "glance": [Column("id", "ID", 36), Column("name", "NAME", 40), Column("status", "STATUS", 14),
               Column("visibility", "VISIBILITY", 10), Column("disk_format", "FORMAT", 8),
               Column("size_text", "SIZE", 10, right=True), Column("updated_at", "UPDATED", 20)],
    "batch": [Column("publisher", "PUBLISHER", 24), Column("offer", "OFFER", 32), Column("sku", "SKU", 24),
              Column("osType", "OS", 7), Column("verificationType", "VERIFIED", 10),
              Column("nodeAgentSKUId", "NODE AGENT SKU", 32), Column("batchSupportEndOfLife", "END OF LIFE", 20)],
    "yandex": [Column("id", "ID", 20), Column("name", "NAME", 40), Column("family", "FAMILY", 24),
               Column("status", "STATUS", 9), Column("os", "OS", 7), Column("size_text", "SIZE", 10, right=True),
               Column("created", "CREATED", 20)],
}
_COLUMNS["ims"] = _COLUMNS["glance"]


def _row(image: ImageSummary) -> dict[str, Any]:
    row = image.as_dict()
    row["size_text"] = format_size(image.size)
    return row


def _json_item(image: ImageSummary, raw: bool) -> dict[str, Any]:
    item = image.as_dict()
    if raw:
        item["raw"] = to_jsonable(image.raw)
    return item


# =========================================================================== list / show
def run_list(args: argparse.Namespace, output: Output) -> int:
    if args.raw and not (args.json or args.jsonl):
        raise CommandError("--raw needs --json or --jsonl", status=EXIT_USAGE)

    async def body(workspace: Workspace) -> int:
        profile = workspace.profile(args.profile)
        filters = filters_for(profile.provider, args.filter)
        driver = workspace.driver(profile)
        images = driver.list_images(limit=args.limit, **filters)
        if args.json or args.jsonl:
            writer: Any = JsonArrayWriter(output.out) if args.json else JsonLinesWriter(output.out)
            try:
                async for image in images:
                    writer.add(_json_item(image, args.raw))
            finally:
                writer.close()  # a failure mid-way still leaves valid JSON for what was printed
            output.note(f"{writer.count} image(s)")
            return EXIT_OK
        table = output.table(_COLUMNS.get(profile.provider, _COLUMNS["glance"]))
        try:
            async for image in images:
                table.add(_row(image))
        finally:
            count = table.close()
        output.note(f"{count} image(s)" + (f" (limit {args.limit})" if args.limit and count >= args.limit else ""))
        return EXIT_OK

    return run_in_workspace(args, output, body)


def run_show(args: argparse.Namespace, output: Output) -> int:
    async def body(workspace: Workspace) -> int:
        driver = workspace.driver(args.profile)
        image = await driver.get_image(args.image_id)
        raw = to_jsonable(image.raw)
        if output.json:
            output.data({**image.as_dict(), "raw": raw})
            return EXIT_OK
        pairs = [(key, value) for key, value in image.as_dict().items() if value not in (None, "")]
        pairs = [(k, format_size(v) + f" ({v} bytes)" if k == "size" else v) for k, v in pairs]
        output.fields(pairs)
        output.line()
        output.line(json.dumps(raw, ensure_ascii=False, indent=2))
        return EXIT_OK

    return run_in_workspace(args, output, body)


# =========================================================================== edits
def _need(profile: Profile, providers: tuple[str, ...], command: str) -> None:
    if profile.provider not in providers:
        names = "/".join(p.capitalize() if p != "ims" else "IMS" for p in providers)
        raise CommandError(f"`images {command}` is for {names} profiles; profile '{profile.name}' is "
                           f"{profile.provider}", status=EXIT_USAGE)


async def _send_or_preview(
    workspace: Workspace,
    profile: Profile,
    driver: Driver,
    request: ApiRequest,
    args: argparse.Namespace,
    output: Output,
    *,
    describe: Callable[[Any], None] | None = None,
) -> int:
    """``--dry-run``: print ``request`` (curl, or JSON); otherwise send it and report the outcome."""
    from workbench.cli import ops
    from workbench.core.operations import Operation

    if args.dry_run:
        resolve = getattr(driver, "resolve_endpoint", None)
        if resolve is not None:
            # Glance/IMS may read the image endpoint from Keystone's catalog (a token request, no change).
            await resolve()
        preview = driver.preview(request)
        if output.json:
            output.data({"dry_run": True, "summary": request.summary(), "request": preview.to_dict(),
                         "curl": preview.to_curl()})
        else:
            output.note(f"dry run: {request.summary()} — nothing is sent; the request would be:")
            output.line(preview.to_curl(multiline=True))
        return EXIT_OK
    result = await driver.send(request)
    if isinstance(result, Operation):
        return await ops.follow(workspace, result, output, profile=profile.name, wait=getattr(args, "wait", False))
    if result is None:  # done, and the API answers nothing (a Glance delete)
        if output.json:
            output.data({"done": request.summary()})
        else:
            output.line(f"done: {request.summary()}")
    elif describe is not None:
        describe(result)
    elif output.json:
        output.data({"result": to_jsonable(result)})
    else:
        output.line(f"done: {request.summary()}")
    return EXIT_OK


def _describe_image(output: Output, verb: str) -> Callable[[Any], None]:
    def describe(result: Any) -> None:
        from workbench.core.images import ImageSummary

        if isinstance(result, ImageSummary):
            data = {**result.as_dict(), "raw": to_jsonable(result.raw)}
            if output.json:
                output.data(data)
            else:
                output.line(f"{verb} image {result.id} ({result.name}): status {result.status}")
        elif output.json:
            output.data({"result": to_jsonable(result)})
        else:
            output.line(f"{verb}: {json.dumps(to_jsonable(result), ensure_ascii=False)}")

    return describe


def run_patch(args: argparse.Namespace, output: Output) -> int:
    if not args.patch_ops:
        raise CommandError("give at least one of --replace PATH VALUE, --add PATH VALUE, --remove PATH",
                           status=EXIT_USAGE)

    async def body(workspace: Workspace) -> int:
        profile = workspace.profile(args.profile)
        _need(profile, ("glance", "ims"), "patch")
        operations = []
        for item in args.patch_ops:
            op, path, text = item[0], item[1], (item[2] if len(item) > 2 else None)
            attribute = _attribute_of(path)
            entry: dict[str, Any] = {"op": op, "path": _pointer_of(path)}
            if text is not None:
                entry["value"] = patch_value(attribute, text)
            operations.append(entry)
        driver = workspace.driver(profile)
        dialect = args.dialect or profile.settings.patch_dialect
        request = driver.patch_request(args.image_id, operations, dialect=dialect)
        return await _send_or_preview(workspace, profile, driver, request, args, output,
                                      describe=_describe_image(output, "patched"))

    return run_in_workspace(args, output, body)


def parse_labels(items: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--label {item!r}: expected KEY=VALUE", status=EXIT_USAGE)
        labels[key] = value
    return labels


def run_create(args: argparse.Namespace, output: Output) -> int:
    async def body(workspace: Workspace) -> int:
        profile = workspace.profile(args.profile)
        _need(profile, ("yandex",), "create")
        driver = workspace.driver(profile)
        fields: dict[str, Any] = {"name": args.name}
        for option, field in (("source_image", "image_id"), ("source_disk", "disk_id"),
                              ("source_snapshot", "snapshot_id"), ("source_uri", "uri")):
            if getattr(args, option) is not None:
                fields[field] = getattr(args, option)
        if args.description is not None:
            fields["description"] = args.description
        if args.family is not None:
            fields["family"] = args.family
        if args.label:
            fields["labels"] = parse_labels(args.label)
        if args.min_disk_size is not None:
            fields["min_disk_size"] = args.min_disk_size
        if args.os_type is not None:
            fields["os"] = {"type": args.os_type.upper()}
        if args.product_id:
            fields["product_ids"] = args.product_id
        if args.pooled:
            fields["pooled"] = True
        request = driver.create_image_request(**fields)  # type: ignore[attr-defined]
        return await _send_or_preview(workspace, profile, driver, request, args, output)

    return run_in_workspace(args, output, body)


def run_put(args: argparse.Namespace, output: Output) -> int:
    async def body(workspace: Workspace) -> int:
        profile = workspace.profile(args.profile)
        _need(profile, ("kusto",), "put")
        driver = workspace.driver(profile)
        request = driver.create_or_update(  # type: ignore[attr-defined]
            args.name,
            language_version=args.language_version,
            base_image_name=args.base_image,
            requirements_file=args.requirements,
        )
        return await _send_or_preview(workspace, profile, driver, request, args, output)

    return run_in_workspace(args, output, body)


def _delete_request(profile: Profile, driver: Any, image_id: str) -> ApiRequest:
    if profile.provider == "kusto":
        return driver.delete(image_id)
    if profile.provider == "yandex":
        from workbench.providers.yandex.requests import DeleteImage

        return DeleteImage(image_id=image_id)
    from workbench.providers.glance.requests import DeleteImage as GlanceDeleteImage

    return GlanceDeleteImage(image_id=image_id)


def run_delete(args: argparse.Namespace, output: Output) -> int:
    async def body(workspace: Workspace) -> int:
        import sys

        profile = workspace.profile(args.profile)
        _need(profile, ("kusto", "glance", "ims", "yandex"), "delete")
        driver = workspace.driver(profile)
        request = _delete_request(profile, driver, args.image_id)
        if not args.dry_run and not args.yes:
            if not sys.stdin.isatty():
                raise CommandError(f"deleting image {args.image_id} cannot be undone; add --yes to confirm "
                                   "(stdin is not a terminal to ask on)", status=EXIT_USAGE)
            answer = input(f"{request.summary()}? This cannot be undone. [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                output.note("not deleted")
                return EXIT_OK
        return await _send_or_preview(workspace, profile, driver, request, args, output)

    return run_in_workspace(args, output, body)
