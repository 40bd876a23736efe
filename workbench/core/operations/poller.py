"""The poller protocol: how one provider's operations are asked "done yet?"."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from workbench.core.operations.model import Operation, OperationStatus


@dataclass(slots=True)
class PollOutcome:
    status: OperationStatus
    progress: float | None = None
    #: Seconds the server asked to wait before the next poll.
    retry_after: float | None = None
    raw: Any = None
    error: str | None = None
    #: Entries to merge into ``Operation.poll_state`` (a new Location, ...).
    state: dict[str, Any] | None = None


class Poller(ABC):
    """How to poll one provider's operations. Stateless: all state lives in
    ``Operation.poll_state``, so one poller serves any number of operations."""

    provider: str = ""

    @abstractmethod
    async def poll(self, op: Operation) -> PollOutcome:
        """Ask once how ``op`` is doing."""

    async def cancel(self, op: Operation) -> PollOutcome | None:
        """Ask the provider to cancel ``op``; raise ``NotImplementedError`` if it cannot."""
        raise NotImplementedError

    async def final(self, op: Operation) -> Any:
        """The resource's final state after ``op`` succeeded (default: the last answer)."""
        return op.raw

    @property
    def can_cancel(self) -> bool:
        return type(self).cancel is not Poller.cancel
