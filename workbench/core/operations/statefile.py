"""The saved-operations file: what ``OperationTracker.save`` writes and ``load`` reads
(``workbench.core.opstate`` shares it between processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.operations.model import Operation

#: Version of the file ``OperationTracker.save`` writes.
STATE_VERSION = 1
#: Poll records kept per operation in a saved file (the newest).
SAVED_POLL_RECORDS = 20


def read_state_file(path: Path) -> list[dict[str, Any]]:
    """The operation records in a file ``OperationTracker.save`` wrote ([] if
    there is no file), every one checked to be a valid ``Operation``.

    A file that is not such a file, or holds a record that is not an operation,
    raises ``ValueError`` naming the file: it is damaged, and nothing of it is used.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise ValueError(f"{path}: not a saved operations file ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: unsupported operations file (expected version {STATE_VERSION})")
    records = document.get("operations") or []
    if not isinstance(records, list):
        raise ValueError(f"{path}: not a saved operations file ('operations' is not a list)")
    for number, record in enumerate(records, 1):
        try:
            if not isinstance(record, dict):
                raise ValueError("not an object")
            Operation.from_dict(record)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: damaged operation record #{number} ({exc})") from None
    return records
