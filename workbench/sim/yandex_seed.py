"""The images, disks and snapshots a Yandex Compute folder starts with.

Yandex's public families (several versions each), the demo folder's own images
made from its disks, then any number of generated images, fast: plain dicts,
shared nested values, one sort.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from workbench.sim.yandex_gateway import timestamp
from workbench.sim.yandex_state import GIB, IMAGE_ID_PREFIX, IdGenerator, YandexComputeState

# family, name prefix, description, os, storage GB, min disk GiB, version dates, extras
_CATALOG: tuple[tuple, ...] = (
    ("ubuntu-2404-lts", "ubuntu-24-04-lts", "ubuntu 24.04 lts", "LINUX", 3.9, 8,
     ("20240812", "20241028", "20250120"), {"pci": "PCI_TOPOLOGY_V2", "pooled": True}),
    ("ubuntu-2204-lts", "ubuntu-22-04-lts", "ubuntu 22.04 lts", "LINUX", 3.5, 8,
     ("20240311", "20240610", "20240916"), {"pooled": True}),
    ("ubuntu-2004-lts", "ubuntu-20-04-lts", "ubuntu 20.04 lts", "LINUX", 3.1, 5,
     ("20231211", "20240318", "20240617"), {}),
    ("debian-12", "debian-12", "debian 12 bookworm", "LINUX", 2.2, 8,
     ("20240415", "20240715", "20241021"), {}),
    ("debian-11", "debian-11", "debian 11 bullseye", "LINUX", 2.0, 5, ("20231106", "20240205"), {}),
    ("centos-stream-9", "centos-stream-9", "centos stream 9", "LINUX", 2.6, 10, ("20240408", "20240902"), {}),
    ("almalinux-9", "almalinux-9", "almalinux 9", "LINUX", 2.4, 10, ("20240520", "20240923"), {}),
    ("windows-2022-dc-gvlk", "windows-2022-dc-gvlk", "windows server 2022 datacenter", "WINDOWS", 12.8, 50,
     ("20240515", "20240814"), {"licences": 2}),
    ("windows-2019-dc-gvlk", "windows-2019-dc-gvlk", "windows server 2019 datacenter", "WINDOWS", 11.9, 50,
     ("20231213", "20240313"), {"licences": 2}),
    ("ubuntu-2204-lts-gpu", "ubuntu-22-04-lts-gpu", "ubuntu 22.04 lts with nvidia drivers", "LINUX", 9.7, 20,
     ("20240423", "20240827"), {"nvidia": "535.104.12"}),
    ("container-optimized-image", "container-optimized-image", "container optimized image", "LINUX", 1.9, 30,
     ("20240610", "20241007"), {"gen2": True}),
)

# name, family, description, labels, status, source disk index
_CUSTOM: tuple[tuple, ...] = (
    ("web-frontend-v2", "web-frontend", "frontend build 2", {"env": "prod", "team": "web"}, "READY", 0),
    ("web-frontend-v3", "web-frontend", "frontend build 3", {"env": "prod", "team": "web"}, "READY", 0),
    ("ci-runner-base", "", "base image for ci runners", {"env": "ci"}, "READY", 2),
    ("legacy-import", "", "import from object storage failed", {"env": "dev"}, "ERROR", 1),
)


def _hardware(pci: str = "PCI_TOPOLOGY_V1", gen2: bool = False) -> dict:
    return {"generation2Features": {}} if gen2 else {"legacyFeatures": {"pciTopology": pci}}


def seed(state: YandexComputeState, extra_images: int) -> None:
    """The demo folder's catalog, its disks and snapshots, then ``extra_images`` more."""
    demo, folder = state.demo, state.demo.yandex_folder_id
    ids = IdGenerator(seed="workbench-yandex-catalog")  # stable ids from run to run
    linux_licence = ids.new("f2e")
    for family, prefix, description, os_type, storage_gb, min_gib, dates, extra in _CATALOG:
        licences = [ids.new("f2e") for _ in range(extra.get("licences", 1))]
        for index, date in enumerate(dates):
            created = datetime(int(date[:4]), int(date[4:6]), int(date[6:]), 10, 52, 46 - index, tzinfo=timezone.utc)
            storage = int(storage_gb * 1e9) + index * 37_748_736
            os_value: dict[str, Any] = {"type": os_type}
            if "nvidia" in extra:
                os_value["nvidia"] = {"driver": extra["nvidia"]}
            image = {
                "id": ids.new(IMAGE_ID_PREFIX), "folderId": folder, "createdAt": timestamp(created.timestamp()),
                "name": f"{prefix}-v{date}", "description": description, "family": family,
                "size": str(storage + 524_288_000), "storageSize": str(storage), "minDiskSize": str(min_gib * GIB),
                "productIds": licences, "status": "READY", "os": os_value,
                "hardwareGeneration": _hardware(extra.get("pci", "PCI_TOPOLOGY_V1"), extra.get("gen2", False)),
            }
            if extra.get("pooled") and index == len(dates) - 1:
                image["pooled"] = True
            state.add_image(image, created.timestamp())

    disk_specs = (  # size GiB, used bytes, os, licence, hardware
        (20, 3_221_225_472, "LINUX", linux_licence, _hardware()),
        (50, 13_958_643_712, "WINDOWS", ids.new("f2e"), _hardware()),
        (10, 1_610_612_736, "LINUX", linux_licence, _hardware(gen2=True)),
    )
    for disk_id, (size, used, os_type, licence, hardware) in zip(demo.yandex_disk_ids, disk_specs):
        state.disks[disk_id] = {"folderId": folder, "size": size * GIB, "used": used, "os": {"type": os_type},
                                "productIds": [licence], "hardwareGeneration": hardware}
    for snapshot_id, (size, used) in zip(demo.yandex_snapshot_ids, ((20, 3_019_898_880), (8, 1_124_073_472))):
        state.snapshots[snapshot_id] = {"folderId": folder, "size": size * GIB, "used": used,
                                        "productIds": [linux_licence], "hardwareGeneration": _hardware()}

    base = datetime(2024, 11, 4, 9, 15, 0, tzinfo=timezone.utc).timestamp()
    disk_ids = list(demo.yandex_disk_ids)
    for index, (name, family, description, labels, status, disk) in enumerate(_CUSTOM):
        source = state.disks[disk_ids[disk]]
        created = base + index * 86_400 * 9
        image = {
            "id": ids.new(IMAGE_ID_PREFIX), "folderId": folder, "createdAt": timestamp(created), "name": name,
            "description": description, "labels": labels, "family": family,
            "size": str(source["used"]), "storageSize": str(source["used"]), "minDiskSize": str(source["size"]),
            "productIds": source["productIds"], "status": status, "os": source["os"],
            "hardwareGeneration": source["hardwareGeneration"],
        }
        state.add_image({k: v for k, v in image.items() if v}, created)

    if extra_images:
        seed_bulk(state, folder, extra_images)


def seed_bulk(state: YandexComputeState, folder: str, count: int) -> None:
    """``count`` READY images, fast: plain dicts, shared nested values, one sort.

    One image a minute from 2023-01-01, a hundred families.
    """
    families = 100
    ids = IdGenerator(seed=f"workbench-yandex-bulk-{count}").many(IMAGE_ID_PREFIX, count)
    base = datetime(2023, 1, 1, tzinfo=timezone.utc)
    times_of_day = [f"{m // 60:02d}:{m % 60:02d}:00Z" for m in range(1440)]
    sizes = [str(2_147_483_648 + step * 4_194_304) for step in range(512)]
    family_names = [f"bulk-family-{f:02d}" for f in range(families)]
    os_value, hardware, min_disk = {"type": "LINUX"}, _hardware(), str(10 * GIB)
    images, created, names = state.images, state.created, state.names
    base_seconds = base.timestamp()
    day = ""
    for index, image_id in enumerate(ids):
        if image_id in images:  # astronomically unlikely; keep ids unique anyway
            image_id = ids[index] = state.ids.new(IMAGE_ID_PREFIX)
        minute = index % 1440
        if minute == 0:
            day = datetime.fromtimestamp(base_seconds + index * 60, timezone.utc).strftime("%Y-%m-%dT")
        name = f"bulk-image-{index:06d}"
        size = sizes[index % 512]
        images[image_id] = {
            "id": image_id, "folderId": folder, "createdAt": day + times_of_day[minute], "name": name,
            "family": family_names[index % families], "size": size, "storageSize": size,
            "minDiskSize": min_disk, "status": "READY", "os": os_value, "hardwareGeneration": hardware,
        }
        created[image_id] = base_seconds + index * 60
        names[(folder, name)] = image_id
    folder_list = state.folder_ids.setdefault(folder, [])
    folder_list.extend(ids)
    folder_list.sort()
    for number, family in enumerate(family_names):
        state.families.setdefault((folder, family), set()).update(ids[number::families])
    state.version += 1


__all__ = ["seed", "seed_bulk"]
