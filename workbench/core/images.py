"""The common summary of an image, whatever cloud it lives on.

Lists of 100,000 images are normal, so this is a slotted dataclass rather than
a pydantic model: building one costs a fraction of a microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ImageSummary:
    #: "kusto", "glance", "ims", "batch" or "yandex"
    provider: str
    id: str
    name: str
    #: The provider's own status word (active, READY, Succeeded, verified, ...)
    status: str
    #: Operating system or language, as the provider names it ("linux", "Python", ...)
    os: str = ""
    #: Size in bytes where the provider reports one
    size: int | None = None
    #: Creation time as the provider reports it (RFC 3339), "" if unknown
    created: str = ""
    #: Provider-specific columns for the images pane, in display order
    extras: dict[str, str] = field(default_factory=dict)
    #: The provider's full image as returned by the API (a dict or pydantic model)
    raw: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON/CSV export (without ``raw``)."""
        return {
            "provider": self.provider,
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "os": self.os,
            "size": self.size,
            "created": self.created,
            **self.extras,
        }
