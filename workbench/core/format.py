"""Plain-data helpers shared by the faces: the app, the command line and the notebook API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_size(size: int | None) -> str:
    """Bytes in binary units, short enough for a narrow column: ``512 B``, ``1.5 KiB``,
    ``10 GiB`` (a decimal below 10 only); None or negative -> ``""`` (unknown).
    Rounded to what is shown: 1023.7 KiB is ``1.0 MiB``, 9.97 GiB is ``10 GiB``."""
    if size is None or size < 0:
        return ""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in _SIZE_UNITS:
        if round(value) < 1024 or unit == _SIZE_UNITS[-1]:
            break
        value /= 1024
    return f"{value:.1f} {unit}" if round(value, 1) < 10 else f"{value:.0f} {unit}"


def format_duration(seconds: float) -> str:
    """``4.2s`` below ten seconds (tenths matter for fast operations), then ``42s``,
    ``3m05s``, ``2h04m``. Rounded to what is shown: 59.7 seconds is ``1m00s``, not ``60s``."""
    seconds = max(0.0, seconds)
    if round(seconds, 1) < 10:
        return f"{seconds:.1f}s"
    if round(seconds) < 3600:
        minutes, secs = divmod(round(seconds), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m"


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: pydantic models by their API aliases, enums by value."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    enum_value = getattr(value, "value", None)
    if enum_value is not None and isinstance(enum_value, (str, int)):
        return enum_value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    return str(value)
