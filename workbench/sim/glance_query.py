"""The query of ``GET /v2/images``: Glance's deserializer, then its controller.

Checks run in Glance's order, so the first bad parameter gets Glance's message;
the result is the page size, the marker, the sort order and a test per image.
"""

from __future__ import annotations

import csv
from typing import Callable

from workbench.providers.glance.models import SORT_KEYS
from workbench.sim.glance_errors import GlanceError
from workbench.sim.glance_state import Caller, parse_iso

DEFAULT_PAGE = 25  # Glance's limit_param_default
MAX_PAGE = 1000  # Glance's api_limit_max

#: filters that also take ``in:a,b`` and ``eq:a``
_IN_FILTERS = ("name", "id", "status", "container_format", "disk_format")
_TIME_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _split_filter_op(expression: str) -> tuple[str, str]:
    """``gt:2025-01-01T00:00:00Z`` -> ("gt", the time); a bare time, colons and all, is ``eq``."""
    left, sep, right = expression.partition(":")
    if not sep:
        return "eq", left
    try:
        parse_iso(expression)
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
                    threshold = parse_iso(value)
                except ValueError:
                    raise GlanceError(400, f'Bad "{stamp}" query filter format. Use ISO 8601 DateTime notation.') from None
                checks.append(lambda image, k=stamp, f=_TIME_OPS[op], t=threshold: f(parse_iso(image[k]), t))
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


__all__ = ["DEFAULT_PAGE", "ListQuery", "MAX_PAGE"]
