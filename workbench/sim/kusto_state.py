"""Subscriptions, resource groups, Kusto clusters, their sandbox custom images
and the long-running operations on them.

An operation moves one step per status poll: ``provisioningState`` goes
Accepted -> Creating -> Succeeded (or Failed) over ``operation_polls`` polls,
and a newer request on the same image cancels the one still running.
"""

from __future__ import annotations

import bisect
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from workbench.providers.kusto.models import RESOURCE_TYPE
from workbench.sim.context import SimContext
from workbench.sim.kusto_arm import ArmError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP_CHARS = re.compile(r"^[-\w.()]+$")
_NOT_FOUND_FIX = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"

#: status of an operation
IN_PROGRESS, SUCCEEDED, FAILED, CANCELED = "InProgress", "Succeeded", "Failed", "Canceled"
#: operationKind of the operations this service runs
CREATE_OR_UPDATE, UPDATE, DELETE = (
    "SandboxCustomImageCreateOrUpdate",
    "SandboxCustomImageUpdate",
    "SandboxCustomImageDelete",
)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})


def _now() -> str:
    """The time now as ARM writes it (ISO 8601, microseconds, UTC)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Cluster:
    """A Kusto cluster and its sandbox custom images."""

    subscription: str
    resource_group: str
    name: str
    location: str
    #: lower-cased image name -> {"name": display name, "properties": {...}, "operation": id | None}
    images: dict[str, dict] = field(default_factory=dict)
    #: the keys of ``images``, sorted: list order and $skiptoken continuation
    order: list[str] = field(default_factory=list)

    def image_body(self, record: dict) -> dict:
        return {
            "id": (
                f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Kusto/Clusters/{self.name}/SandboxCustomImages/{record['name']}"
            ),
            "name": f"{self.name}/{record['name']}",
            "type": RESOURCE_TYPE,
            "properties": dict(record["properties"]),
        }

    def add(self, key: str, record: dict) -> None:
        if key not in self.images:
            bisect.insort(self.order, key)
        self.images[key] = record

    def remove(self, key: str) -> None:
        if self.images.pop(key, None) is not None:
            index = bisect.bisect_left(self.order, key)
            if index < len(self.order) and self.order[index] == key:
                del self.order[index]


@dataclass
class Operation:
    """A long-running operation on one image, as its ``operationResults`` URL reports it."""

    id: str
    #: CREATE_OR_UPDATE, UPDATE or DELETE
    kind: str
    subscription: str
    location: str
    cluster: Cluster
    image_key: str
    polls_needed: int
    will_fail: bool
    start_time: str = field(default_factory=_now)
    polls_seen: int = 0
    status: str = IN_PROGRESS
    #: the image's provisioningState as this operation last left it
    provisioning_state: str = "Accepted"
    end_time: str | None = None
    error: dict | None = None

    @property
    def path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/providers/Microsoft.Kusto"
            f"/locations/{self.location}/operationResults/{self.id}"
        )

    def percent_complete(self) -> float:
        if self.status in TERMINAL or self.polls_needed <= 0:
            return 100.0
        return round(100.0 * self.polls_seen / self.polls_needed, 1)

    def body(self) -> dict:
        properties = {
            "operationKind": self.kind,
            "provisioningState": self.provisioning_state,
            "operationState": self.status,
        }
        body: dict[str, Any] = {
            "id": self.path,
            "name": self.id,
            "status": self.status,
            "startTime": self.start_time,
        }
        if self.end_time is not None:
            body["endTime"] = self.end_time
        body["percentComplete"] = self.percent_complete()
        body["properties"] = properties
        if self.error is not None:
            body["error"] = self.error
        return body


class KustoState:
    """Subscriptions, resource groups, clusters, their images and the operations on them."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.subscriptions: set[str] = set()
        self.resource_groups: set[tuple[str, str]] = set()
        self.clusters: dict[tuple[str, str, str], Cluster] = {}
        self.operations: dict[str, Operation] = {}

    # -- catalog -----------------------------------------------------------
    def add_cluster(self, subscription: str, resource_group: str, name: str, location: str) -> Cluster:
        cluster = Cluster(subscription, resource_group, name, location)
        with self.lock:
            self.subscriptions.add(subscription.lower())
            self.resource_groups.add((subscription.lower(), resource_group.lower()))
            self.clusters[(subscription.lower(), resource_group.lower(), name.lower())] = cluster
        return cluster

    def find_cluster(self, subscription: str, resource_group: str, name: str) -> Cluster:
        """The cluster, or the ARM error for the first part of the path that is wrong."""
        if not _GUID.match(subscription):
            raise ArmError(
                400, "InvalidSubscriptionId", f"The provided subscription identifier '{subscription}' is malformed or invalid."
            )
        if not 1 <= len(resource_group) <= 90:
            raise ArmError(
                400, "InvalidResourceGroup",
                f"The provided resource group name '{resource_group}' is {len(resource_group)} characters long. "
                "A resource group name must be between 1 and 90 characters.",
                target="resourceGroupName",
            )
        if not _RESOURCE_GROUP_CHARS.match(resource_group) or resource_group.endswith("."):
            raise ArmError(
                400, "InvalidResourceGroup",
                f"The provided resource group name '{resource_group}' has invalid characters. The name can only be "
                "a letter, digit, '-', '.', '(', ')' or '_', and cannot end with '.'.",
                target="resourceGroupName",
            )
        sub, rg = subscription.lower(), resource_group.lower()
        if sub not in self.subscriptions:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
        if (sub, rg) not in self.resource_groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")
        cluster = self.clusters.get((sub, rg, name.lower()))
        if cluster is None:
            raise ArmError(
                404, "ResourceNotFound",
                f"The Resource 'Microsoft.Kusto/clusters/{name}' under resource group '{resource_group}' "
                f"was not found. {_NOT_FOUND_FIX}",
            )
        return cluster

    @staticmethod
    def image_not_found(cluster: Cluster, name: str) -> ArmError:
        return ArmError(
            404, "ResourceNotFound",
            f"The Resource 'Microsoft.Kusto/clusters/{cluster.name}/sandboxCustomImages/{name}' under resource "
            f"group '{cluster.resource_group}' was not found. {_NOT_FOUND_FIX}",
        )

    # -- operations (call with the lock held) --------------------------------
    def start_operation(self, cluster: Cluster, key: str, kind: str) -> Operation:
        record = cluster.images[key]
        self._supersede(record)
        op = Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            subscription=cluster.subscription,
            location=cluster.location,
            cluster=cluster,
            image_key=key,
            polls_needed=self.ctx.config.operation_polls,
            will_fail=self.ctx.faults.operation_should_fail(),
        )
        self.operations[op.id] = op
        record["operation"] = op.id
        op.provisioning_state = record["properties"]["provisioningState"]
        if op.polls_needed <= 0:
            self._finish(op)
        return op

    def _supersede(self, record: dict) -> None:
        """A new request on an image cancels the operation still running on it."""
        previous = self.operations.get(record.get("operation") or "")
        if previous is not None and previous.status not in TERMINAL:
            previous.status = previous.provisioning_state = CANCELED
            previous.end_time = _now()
            previous.error = {
                "code": "OperationCanceled",
                "message": f"The operation was canceled: a newer request on sandbox custom image "
                f"'{record['name']}' superseded it.",
            }
        record["operation"] = None

    def poll(self, op: Operation) -> None:
        """One status poll: the operation moves one step toward its end."""
        if op.status in TERMINAL:
            return
        op.polls_seen += 1
        if op.polls_seen >= op.polls_needed:
            self._finish(op)
            return
        record = op.cluster.images.get(op.image_key)
        if record is not None and record.get("operation") == op.id and op.kind != DELETE:
            record["properties"]["provisioningState"] = op.provisioning_state = "Creating"

    def _finish(self, op: Operation) -> None:
        op.end_time = _now()
        record = op.cluster.images.get(op.image_key)
        current = record is not None and record.get("operation") == op.id
        if op.will_fail:
            op.status = FAILED
            action = "deleting" if op.kind == DELETE else "building"
            name = record["name"] if record else op.image_key
            op.error = {
                "code": "SandboxCustomImageOperationFailed",
                "message": f"{action.capitalize()} sandbox custom image '{name}' failed "
                "(a failure injected by the simulator).",
            }
            op.provisioning_state = "Failed"
            if current:
                record["properties"]["provisioningState"] = "Failed"
                record["operation"] = None
            return
        op.status = op.provisioning_state = SUCCEEDED
        if current and op.kind == DELETE:
            op.cluster.remove(op.image_key)
        elif current:
            record["properties"]["provisioningState"] = "Succeeded"
            record["operation"] = None


__all__ = ["CANCELED", "CREATE_OR_UPDATE", "Cluster", "DELETE", "FAILED", "IN_PROGRESS", "KustoState", "Operation",
           "SUCCEEDED", "TERMINAL", "UPDATE"]
