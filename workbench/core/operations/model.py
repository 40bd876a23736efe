"""The Operation: what a driver's ``send`` returns for work that finishes later.

Plain data, serialisable to JSON with everything needed to resume polling.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any


class OperationStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self is not OperationStatus.RUNNING


@dataclass(slots=True)
class PollRecord:
    """One poll: when it was sent and answered, and what the server asked."""

    #: When the poll was sent (epoch seconds).
    at: float
    #: When its answer (or failure) arrived.
    answered: float
    #: The wait the server asked for in that answer (Retry-After), if any.
    retry_after: float | None
    #: The earliest moment the previous answer allowed this poll, if it set one.
    allowed_at: float | None
    #: The status after this poll ("running", ..., or "error").
    status: str

    @property
    def early(self) -> bool:
        return self.allowed_at is not None and self.at < self.allowed_at


@dataclass
class Operation:
    id: str
    provider: str
    #: What is being done: "create", "update", "delete", "upload", ...
    kind: str
    #: What it is done to: a resource id, image id or name.
    target: str
    status: OperationStatus = OperationStatus.RUNNING
    #: 0.0 .. 1.0 when the provider reports it.
    progress: float | None = None
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    last_poll: float | None = None
    next_poll_at: float | None = None
    #: The earliest moment the server allows the next poll (from Retry-After).
    not_before: float | None = None
    polls: int = 0
    #: Why it failed, or a note on the last poll that failed while it runs.
    error: str | None = None
    #: The last answer's decoded body.
    raw: Any = None
    #: The final resource, fetched once the operation succeeded.
    result: Any = None
    #: What the poller needs to resume (URLs, ids); JSON-serialisable.
    poll_state: dict[str, Any] = field(default_factory=dict)
    #: Profile name, to find the right poller when two accounts share a provider.
    profile: str = ""
    description: str = ""
    #: Stop polling at this moment (epoch seconds).
    deadline: float | None = None
    timed_out: bool = False
    cancel_requested: bool = False
    poll_log: list[PollRecord] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status.terminal

    @property
    def early_polls(self) -> int:
        """Polls sent before the server's Retry-After allowed them (must be 0)."""
        return sum(1 for record in self.poll_log if record.early)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        missing = {"id", "provider", "kind", "target"} - values.keys()
        if missing:
            raise ValueError(f"operation record: missing {sorted(missing)}")
        values["status"] = OperationStatus(values.get("status", "running"))
        values["poll_log"] = [PollRecord(**record) for record in values.get("poll_log") or []]
        return cls(**values)

    def snapshot(self) -> Operation:
        """A copy for events: later polls do not change what a subscriber got."""
        copy = Operation(**{f.name: getattr(self, f.name) for f in fields(self)})
        copy.poll_state = dict(self.poll_state)
        copy.poll_log = list(self.poll_log)
        return copy
