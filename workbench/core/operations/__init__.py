"""Long-running operations: one model for every cloud, pollers, and a tracker.

- ``Operation`` (``model``) is what a driver's ``send`` returns for work that
  finishes later (a Kusto image build, a Yandex image create, a Glance
  upload). It is plain data, serialisable to JSON with everything needed to
  resume polling.
- A ``Poller`` (``poller``) knows one provider's way to ask "done yet?":
  ``ArmAsyncPoller`` (``arm``: Azure-AsyncOperation, then Location, then
  provisioningState, as azure-core's ARM polling does),
  ``YandexOperationPoller`` (``yandex``: the Operation service's ``done``)
  and ``GlanceStatusPoller`` (``glance``: the image's ``status``).
- ``OperationTracker`` (``tracker``) polls many operations concurrently on
  one event loop, one task each, each on its own schedule: never earlier than
  the server's ``Retry-After``, otherwise backing off 1 s, 2 s, 4 s ... up to
  a cap. It emits an ``OperationEvent`` (``events``) on every change, cancels
  where the API can, stops at a deadline, and saves/resumes unfinished
  operations across restarts (the file: ``statefile``).

A driver's part is small::

    response = await http.send(request, provider="kusto", auth=auth, expect=(200, 201))
    op = poller.start(response, kind="create", target=name)   # an Operation
    tracker.track(op)                                         # polled from now on
"""

from workbench.core.operations.arm import ArmAsyncPoller
from workbench.core.operations.events import EventCallback, EventStream, OperationEvent
from workbench.core.operations.glance import GlanceStatusPoller
from workbench.core.operations.model import Operation, OperationStatus, PollRecord
from workbench.core.operations.poller import Poller, PollOutcome
from workbench.core.operations.statefile import (
    SAVED_POLL_RECORDS,
    STATE_VERSION,
    read_state_file,
)
from workbench.core.operations.tracker import CancelNotSupported, OperationTracker
from workbench.core.operations.yandex import YandexOperationPoller, YandexResource

__all__ = [
    "Operation",
    "OperationStatus",
    "OperationEvent",
    "OperationTracker",
    "EventCallback",
    "EventStream",
    "PollOutcome",
    "PollRecord",
    "Poller",
    "ArmAsyncPoller",
    "YandexOperationPoller",
    "YandexResource",
    "GlanceStatusPoller",
    "CancelNotSupported",
    "SAVED_POLL_RECORDS",
    "STATE_VERSION",
    "read_state_file",
]
