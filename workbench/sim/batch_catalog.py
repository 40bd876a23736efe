"""The supported-images catalog of the simulated Azure Batch account.

The official example response first and verbatim, then the images Batch lists
today, then any number of generated ones (plain dicts, 100,000 in well under a
second). The API has no writes: the catalog is read-only once seeded.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from workbench.providers.batch.odata import Predicate
from workbench.sim.config import SimConfig

# The official example response (specs/azure-batch/AccountListSupportedImages*.json and
# the seed), first and verbatim, so that its request gets its answer field for field.
_EXAMPLE_IMAGES: tuple[dict, ...] = (
    {"nodeAgentSKUId": "batch.node.centos 7",
     "imageReference": {"publisher": "OpenLogic", "offer": "CentOS", "sku": "7.2", "version": "latest"},
     "verificationType": "verified", "capabilities": ["DockerCompatible", "NvidiaTeslaDriverInstalled"],
     "osType": "linux"},
    {"nodeAgentSKUId": "batch.node.centos 7",
     "imageReference": {"publisher": "OpenLogic", "offer": "CentOS", "sku": "7.1", "version": "latest"},
     "verificationType": "unverified", "osType": "linux", "batchSupportEndOfLife": "2019-11-01T00:00:00.0Z"},
    {"nodeAgentSKUId": "batch.node.debian 8",
     "imageReference": {"publisher": "Credativ", "offer": "Debian", "sku": "8", "version": "latest"},
     "verificationType": "verified", "osType": "linux"},
    {"nodeAgentSKUId": "batch.node.windows amd64",
     "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                        "sku": "2012-R2-Datacenter", "version": "latest"},
     "verificationType": "verified", "osType": "windows"},
    {"nodeAgentSKUId": "batch.node.windows amd64",
     "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                        "sku": "2012-Datacenter", "version": "latest"},
     "verificationType": "verified", "osType": "windows"},
)

_DOCKER = ("DockerCompatible",)
_GPU = ("DockerCompatible", "NvidiaTeslaDriverInstalled")
_HPC = ("DockerCompatible", "NvidiaTeslaDriverInstalled", "SupportsRDMAOnVmSizeFamily_HBv3",
        "SupportsRDMAOnVmSizeFamily_NDv4")

# (nodeAgentSKUId, publisher, offer, sku, osType, verificationType, capabilities, batchSupportEndOfLife)
_CATALOG: tuple[tuple, ...] = (
    ("batch.node.ubuntu 18.04", "Canonical", "UbuntuServer", "18.04-LTS", "linux", "verified", None,
     "2024-05-31T00:00:00Z"),
    ("batch.node.ubuntu 20.04", "Canonical", "0001-com-ubuntu-server-focal", "20_04-lts", "linux", "verified", None,
     "2025-04-30T00:00:00Z"),
    ("batch.node.ubuntu 20.04", "Canonical", "0001-com-ubuntu-server-focal", "20_04-lts-gen2", "linux", "verified",
     None, "2025-04-30T00:00:00Z"),
    ("batch.node.ubuntu 22.04", "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "linux", "verified", None,
     None),
    ("batch.node.ubuntu 22.04", "Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "linux", "verified",
     None, None),
    ("batch.node.ubuntu 20.04", "microsoft-azure-batch", "ubuntu-server-container", "20-04-lts", "linux", "verified",
     _GPU, None),
    ("batch.node.centos 7", "microsoft-azure-batch", "centos-container", "7-8", "linux", "verified", _GPU,
     "2024-06-30T00:00:00Z"),
    ("batch.node.centos 7", "OpenLogic", "CentOS", "7_9", "linux", "verified", None, "2024-06-30T00:00:00Z"),
    ("batch.node.centos 7", "OpenLogic", "CentOS-HPC", "7_9-gen2", "linux", "verified", _HPC,
     "2024-06-30T00:00:00Z"),
    ("batch.node.el 8", "almalinux", "almalinux", "8-gen1", "linux", "unverified", None, None),
    ("batch.node.el 8", "almalinux", "almalinux", "8-gen2", "linux", "unverified", None, None),
    ("batch.node.el 9", "almalinux", "almalinux", "9-gen2", "linux", "unverified", None, None),
    ("batch.node.el 8", "resf", "rockylinux-x86_64", "8-base", "linux", "unverified", None, None),
    ("batch.node.el 9", "resf", "rockylinux-x86_64", "9-base", "linux", "unverified", None, None),
    ("batch.node.debian 10", "Debian", "debian-10", "10", "linux", "verified", None, "2024-06-30T00:00:00Z"),
    ("batch.node.debian 11", "Debian", "debian-11", "11", "linux", "verified", None, None),
    ("batch.node.debian 11", "Debian", "debian-11", "11-gen2", "linux", "verified", None, None),
    ("batch.node.debian 12", "Debian", "debian-12", "12", "linux", "unverified", None, None),
    ("batch.node.ubuntu 20.04", "microsoft-dsvm", "ubuntu-hpc", "2004", "linux", "verified", _HPC, None),
    ("batch.node.ubuntu 22.04", "microsoft-dsvm", "ubuntu-hpc", "2204", "linux", "verified", _HPC, None),
    ("batch.node.ubuntu 20.04", "microsoft-dsvm", "ubuntu-2004", "2004-gen2", "linux", "verified", _GPU, None),
    ("batch.node.windows amd64", "microsoft-dsvm", "dsvm-win-2019", "server-2019", "windows", "verified",
     ("NvidiaTeslaDriverInstalled",), None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter-smalldisk",
     "windows", "verified", None, "2023-10-10T00:00:00Z"),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", "windows", "verified",
     None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-smalldisk", "windows",
     "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-with-Containers",
     "windows", "verified", _DOCKER, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter", "windows", "verified",
     None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter-Core", "windows",
     "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter-gensecond", "windows",
     "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter-with-Containers",
     "windows", "verified", _DOCKER, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter", "windows", "verified",
     None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition",
     "windows", "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-core", "windows",
     "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-g2", "windows",
     "verified", None, None),
    ("batch.node.windows amd64", "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-smalldisk-g2",
     "windows", "verified", None, None),
)

# Generated scale-test images cycle through these.
_GEN_AGENTS = (
    ("batch.node.ubuntu 22.04", "linux", "ubuntu"),
    ("batch.node.ubuntu 20.04", "linux", "ubuntu"),
    ("batch.node.el 9", "linux", "rhel"),
    ("batch.node.debian 12", "linux", "debian"),
    ("batch.node.windows amd64", "windows", "windows"),
)
_GEN_PUBLISHERS = ("contoso", "fabrikam", "northwind", "tailspin", "woodgrove")
_GEN_EOL = "2024-12-31T00:00:00Z"


def _image(row: tuple) -> dict:
    agent, publisher, offer, sku, os_type, verification, capabilities, end_of_life = row
    image: dict = {
        "nodeAgentSKUId": agent,
        "imageReference": {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"},
        "verificationType": verification,
        "osType": os_type,
    }
    if capabilities:
        image["capabilities"] = list(capabilities)
    if end_of_life:
        image["batchSupportEndOfLife"] = end_of_life
    return image


def generated_images(count: int) -> list[dict]:
    """``count`` distinct, plausible images, built as plain dicts (100,000 in well under a second)."""
    images: list[dict] = []
    append = images.append
    docker = ["DockerCompatible"]  # shared: the catalog is never mutated
    for i in range(count):
        agent, os_type, family = _GEN_AGENTS[i % 5]
        image = {
            "nodeAgentSKUId": agent,
            "imageReference": {
                "publisher": _GEN_PUBLISHERS[(i // 5) % 5],
                "offer": f"{family}-hpc-{i // 25:05d}",
                "sku": f"{i % 25 + 1}-gen2",
                "version": "latest",
            },
            "verificationType": "unverified" if i % 3 == 0 else "verified",
            "osType": os_type,
        }
        if i % 4 == 0:
            image["capabilities"] = docker
        if i % 10 == 9:
            image["batchSupportEndOfLife"] = _GEN_EOL
        append(image)
    return images


def _dotnet_ticks(moment: datetime) -> int:
    return (moment - datetime(1, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) * 10


class BatchState:
    """The supported-images catalog of one simulator instance.

    The API has no writes, so the catalog is read-only once seeded and
    concurrent requests share it without a lock.
    """

    def __init__(self, images: list[dict]) -> None:
        self._images = images
        self.last_modified = datetime.now(timezone.utc).replace(microsecond=0)
        # Batch ETags look like 0x8DC2B1C8E9F0A12: the modification time in .NET ticks.
        self.etag = f"0x{_dotnet_ticks(self.last_modified):X}"

    @classmethod
    def seeded(cls, config: SimConfig) -> "BatchState":
        images = [json.loads(json.dumps(image)) for image in _EXAMPLE_IMAGES]
        images.extend(_image(row) for row in _CATALOG)
        images.extend(generated_images(config.seed_images))
        return cls(images)

    @property
    def images(self) -> list[dict]:
        return self._images

    def page(self, predicate: Predicate | None, start: int, limit: int) -> tuple[list[dict], int | None]:
        """Up to ``limit`` matching images from index ``start``, and where the next page starts."""
        images = self._images
        total = len(images)
        if predicate is None:
            end = min(start + limit, total)
            return images[start:end], (end if end < total else None)
        found: list[dict] = []
        index = start
        while index < total and len(found) < limit:
            if predicate(images[index]):
                found.append(images[index])
            index += 1
        # Look ahead so that the last page carries no nextLink.
        while index < total and not predicate(images[index]):
            index += 1
        return found, (index if index < total else None)


__all__ = ["BatchState", "generated_images"]
