"""The notebook API's own exceptions and warning."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.notebook.operations import Operation


class WorkbenchWarning(UserWarning):
    """A profile warning (TLS verification off, plain http, ...) shown where the call was made."""


class UnsupportedAction(ValueError):
    """The profile's cloud has no such action (a JSON patch on Kusto, a create on Batch, ...)."""


class OperationFailed(RuntimeError):
    """An operation ended failed or canceled (or its deadline passed). ``operation`` has it all."""

    def __init__(self, operation: Operation) -> None:
        op = operation.operation
        super().__init__(f"{op.kind} {op.target or op.id} ({op.provider}) {op.status.value}: "
                         f"{op.error or 'no reason given'}")
        self.operation = operation
