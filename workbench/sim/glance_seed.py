"""The images a Glance or IMS endpoint starts with.

A realistic catalog (the API reference's samples verbatim, public distro images
of the operator, the demo project's own images; for IMS, Huawei's documented
example and its public and private images), then any number of generated
images, fast: 100,000 in well under a second.
"""

from __future__ import annotations

import gc
import hashlib
import random
import time
import uuid

from workbench.sim.context import SimContext
from workbench.sim.glance_state import GLANCE_ROW, IMS_ROW, GlanceState, image_links, parse_iso

OPERATOR_PROJECT = "5ef70662f8b34079a6eddb8da9d75fe8"  # owns the public catalog (as in the spec samples)
IMS_PUBLIC_PROJECT = "c7a8d2f5e1b34b0f9e6d3a2c1b0a9f8e"


def seed(state: GlanceState, ctx: SimContext) -> None:
    """The endpoint's catalog, then ``ctx.config.seed_images`` generated images owned by the demo project."""
    (seed_ims if state.flavour == "ims" else seed_glance)(state, ctx)
    seed_bulk(state, ctx.config.seed_images, ctx.demo.keystone_project_id)


def seed_glance(state: GlanceState, ctx: SimContext) -> None:
    """The API reference's sample images, the operator's public images and the demo project's own."""
    demo = ctx.demo.keystone_project_id
    spec_sample_hash = ("073b4523583784fbe01daff81eba092a262ec37ba6d04dd3f52e4cd5c93eb8258af44881345ecda0e49f3d8cc6d2"
                        "df6b050ff3e72681d723234aff9d17d0cf09")
    # The two images of the API reference's list sample, verbatim.
    catalog: list[tuple[dict, dict]] = [
        ({"id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "name": "cirros-0.3.2-x86_64-disk", "status": "active",
          "visibility": "public", "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare",
          "size": 13167616, "virtual_size": None, "checksum": "64d7c1cd2b6f60c92c14662941cb7913",
          "os_hash_value": spec_sample_hash,
          "created_at": "2014-11-07T17:07:06Z", "updated_at": "2014-11-07T17:19:09Z"}, {}),
        ({"id": "781b3762-9469-4cec-b58d-3349e5de4e9c", "name": "F17-x86_64-cfntools", "status": "active",
          "visibility": "public", "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare",
          "size": 476704768, "virtual_size": None, "checksum": "afab0f79bac770d61d24b4d0560b5f70",
          "os_hash_value": "ea3e20140df1cc65f53d4c5b9ee3b38d0d6868f61bbe2230417b0f98cef0e0c7c37f0ebc5c6456fa47f013de"
                           "48b452617d56c15fdba25e100379bd0e81ee15ec",
          "created_at": "2014-10-30T08:23:39Z", "updated_at": "2014-11-03T16:40:10Z"}, {}),
    ]
    distros = [
        ("ubuntu-24.04-server-cloudimg-amd64", "ubuntu", "24.04", 612368384, 3758096384, 10, 512, ["ubuntu", "lts"]),
        ("ubuntu-22.04-server-cloudimg-amd64", "ubuntu", "22.04", 676855808, 2361393152, 10, 512, ["ubuntu", "lts"]),
        ("debian-12-genericcloud-amd64", "debian", "12", 350289920, 2147483648, 5, 512, ["debian"]),
        ("CentOS-Stream-GenericCloud-9", "centos", "9", 1203765248, 10737418240, 10, 1024, ["centos", "stream"]),
        ("Rocky-9-GenericCloud-Base-9.5", "rocky", "9.5", 609484800, 10737418240, 10, 1024, ["rocky"]),
        ("Fedora-Cloud-Base-Generic-41", "fedora", "41", 558718976, 5368709120, 5, 1024, ["fedora"]),
        ("cirros-0.6.2-x86_64-disk", "cirros", "0.6.2", 21430272, 117440512, 1, 128, ["cirros", "test"]),
    ]
    for index, (name, distro, version, size, vsize, min_disk, min_ram, tags) in enumerate(distros):
        catalog.append(({"name": name, "status": "active", "visibility": "public", "owner": OPERATOR_PROJECT,
                         "disk_format": "qcow2", "container_format": "bare", "size": size, "virtual_size": vsize,
                         "min_disk": min_disk, "min_ram": min_ram, "tags": tags,
                         "created_at": f"2025-0{1 + index % 9}-1{index}T08:00:00Z"},
                        {"os_distro": distro, "os_version": version, "architecture": "x86_64",
                         "hw_disk_bus": "virtio", "hw_qemu_guest_agent": "yes",
                         "os_admin_user": "root" if distro == "cirros" else distro}))
    catalog += [
        ({"name": "Windows Server 2022 Standard Evaluation", "status": "active", "visibility": "public",
          "owner": OPERATOR_PROJECT, "disk_format": "qcow2", "container_format": "bare", "size": 9663676416,
          "virtual_size": 42949672960, "min_disk": 40, "min_ram": 2048, "tags": ["windows"],
          "created_at": "2025-03-02T10:30:00Z"},
         {"os_distro": "windows", "os_version": "2022", "os_type": "windows", "architecture": "x86_64",
          "hw_firmware_type": "uefi", "hw_machine_type": "q35", "os_require_quiesce": "yes"}),
        ({"name": "app-server-golden-2025-10", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 2147942400, "virtual_size": 21474836480,
          "min_disk": 20, "min_ram": 2048, "tags": ["golden", "app"], "created_at": "2025-10-14T09:12:44Z"},
         {"os_distro": "ubuntu", "os_version": "24.04", "architecture": "x86_64", "build_pipeline": "packer",
          "app_version": "4.12.0"}),
        ({"name": "ubuntu-22.04-hardened-cis", "status": "active", "visibility": "shared", "owner": demo,
          "disk_format": "raw", "container_format": "bare", "size": 3221225472, "virtual_size": 3221225472,
          "min_disk": 10, "tags": ["hardened", "cis"], "created_at": "2025-09-01T12:00:00Z"},
         {"os_distro": "ubuntu", "os_version": "22.04", "architecture": "x86_64", "cis_level": "2"}),
        ({"name": "build-agent-snapshot", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 5368709120, "virtual_size": 42949672960,
          "min_disk": 40, "created_at": "2025-11-02T18:45:10Z"},
         {"image_type": "snapshot", "instance_uuid": "9f3c2b1a-6d5e-4f7a-8b9c-0d1e2f3a4b5c",
          "base_image_ref": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "owner_user_name": "demo"}),
        ({"name": "legacy-win2016-protected", "status": "active", "visibility": "community", "owner": demo,
          "disk_format": "vhd", "container_format": "bare", "size": 13958643712, "virtual_size": 136365211648,
          "min_disk": 127, "min_ram": 4096, "protected": True, "created_at": "2024-06-20T07:30:00Z"},
         {"os_distro": "windows", "os_version": "2016", "os_type": "windows"}),
        ({"name": "staging-upload-pending", "status": "queued", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "created_at": "2025-11-20T16:05:00Z"},
         {"upload_ticket": "CHG-20451"}),
        ({"name": "debian-12-with-gpu-drivers", "status": "active", "visibility": "private", "owner": demo,
          "disk_format": "qcow2", "container_format": "bare", "size": 2684354560, "virtual_size": 21474836480,
          "min_disk": 20, "os_hidden": True, "tags": ["gpu"], "created_at": "2025-08-11T11:11:11Z"},
         {"os_distro": "debian", "os_version": "12", "nvidia_driver": "550.127"}),
    ]
    rng = random.Random(20251123)
    images, created = [], []
    for core, props in catalog:
        image_id = core.get("id") or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        size = core.get("size")
        checksum = core.get("checksum") or (hashlib.md5(image_id.encode()).hexdigest() if size else None)
        os_hash = core.get("os_hash_value") or (hashlib.sha512(image_id.encode()).hexdigest() if size else None)
        image = {
            **props, "name": core["name"], "disk_format": core["disk_format"],
            "container_format": core["container_format"], "visibility": core["visibility"], "size": size,
            "virtual_size": core.get("virtual_size"), "status": core["status"], "checksum": checksum,
            "protected": core.get("protected", False), "min_ram": core.get("min_ram", 0),
            "min_disk": core.get("min_disk", 0), "owner": core["owner"], "os_hidden": core.get("os_hidden", False),
            "os_hash_algo": "sha512" if size else None, "os_hash_value": os_hash, "id": image_id,
            "created_at": core["created_at"], "updated_at": core.get("updated_at", core["created_at"]),
            "tags": core.get("tags", []), **image_links(image_id),
        }
        if size:
            image["stores"] = "fs"
        images.append(image)
        created.append(parse_iso(image["created_at"]))
    state.bulk_load(images, created)


def seed_ims(state: GlanceState, ctx: SimContext) -> None:
    """IMS's documented example image, public (gold) images and the demo project's private ones."""
    demo = ctx.demo.keystone_project_id
    # The documented example of the native PATCH answer, attribute for attribute.
    example = {
        "file": "/v2/images/33ad552d-1149-471c-8190-ff6776174a00/file", "owner": demo,
        "id": "33ad552d-1149-471c-8190-ff6776174a00", "size": 2,
        "self": "/v2/images/33ad552d-1149-471c-8190-ff6776174a00", "schema": "/v2/schemas/image",
        "status": "active", "tags": [], "visibility": "private", "name": "ims_test",
        "checksum": "99914b932bd37a50b983c5e7c90ae93b", "protected": False, "container_format": "bare",
        "min_ram": 0, "updated_at": "2015-12-08T02:30:49Z", "__os_bit": "64",
        "__os_version": "Ubuntu 14.04 server 64bit", "__description": "ims test", "disk_format": "vhd",
        "__isregistered": "true", "__platform": "Ubuntu", "__os_type": "Linux", "min_disk": 40,
        "virtual_env_type": "FusionCompute", "__image_source_type": "uds", "__imagetype": "private",
        "created_at": "2015-12-04T09:45:33Z", "virtual_size": 0,
        "__originalimagename": "33ad552d-1149-471c-8190-ff6776174a00", "__backup_id": "", "__productcode": "",
        "__image_size": "449261568", "__data_origin": None, "hw_firmware_type": "bios",
    }
    public = [
        ("Ubuntu 22.04 server 64bit", "Ubuntu", "Linux", "Ubuntu 22.04 server 64bit", 2361393152, 40, "bios"),
        ("Ubuntu 24.04 server 64bit", "Ubuntu", "Linux", "Ubuntu 24.04 server 64bit", 2469396480, 40, "uefi"),
        ("CentOS 7.9 64bit", "CentOS", "Linux", "CentOS 7.9 64bit", 1442840576, 40, "bios"),
        ("Debian 12.0.0 64bit", "Debian", "Linux", "Debian GNU/Linux 12.0.0 64bit", 1183842304, 40, "bios"),
        ("Huawei Cloud EulerOS 2.0 Standard 64 bit", "EulerOS", "Linux", "Huawei Cloud EulerOS 2.0 64bit",
         1825361920, 40, "bios"),
        ("Windows Server 2019 Datacenter 64bit English", "Windows", "Windows",
         "Windows Server 2019 Datacenter 64bit English", 11274289152, 40, "uefi"),
    ]
    rng = random.Random(20151204)
    images, created = [example], [parse_iso(example["created_at"])]
    for index, (name, platform, os_type, os_version, image_size, min_disk, firmware) in enumerate(public):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp = f"2025-0{index + 1}-15T02:00:00Z"
        images.append({
            "file": f"/v2/images/{image_id}/file", "owner": IMS_PUBLIC_PROJECT, "id": image_id, "size": 0,
            "self": f"/v2/images/{image_id}", "schema": "/v2/schemas/image", "status": "active", "tags": [],
            "visibility": "public", "name": name, "checksum": "d41d8cd98f00b204e9800998ecf8427e",
            "protected": True, "container_format": "bare", "min_ram": 1024 if os_type == "Windows" else 0,
            "updated_at": stamp, "__os_bit": "64", "__os_version": os_version, "__description": "",
            "disk_format": "zvhd2", "__isregistered": "true", "__platform": platform, "__os_type": os_type,
            "min_disk": min_disk, "virtual_env_type": "FusionCompute", "__image_source_type": "uds",
            "__imagetype": "gold", "created_at": stamp, "virtual_size": 0, "__originalimagename": "",
            "__backup_id": "", "__productcode": "", "__image_size": str(image_size), "__data_origin": None,
            "hw_firmware_type": firmware, "__support_kvm": "true", "__support_xen": "false",
            "__support_agent_list": "hss,ces", "__lazyloading": "true", "hw_vif_multiqueue_enabled": "true",
        })
        created.append(parse_iso(stamp))
    private = [
        ("web-server-backup-2025", "private", "ECS system disk image of web-01", "Ubuntu", "Linux", "FusionCompute",
         {"app": "nginx", "team": "web"}),
        ("mysql-data-disk", "private", "data disk image of db-01", "Other", "Other", "DataImage", {"team": "db"}),
        ("partner-hardened-centos", "shared", "shared by a partner account", "CentOS", "Linux", "FusionCompute",
         {"partner": "acme"}),
        ("rescue-tools-iso", "private", "rescue ISO", "Other", "Linux", "IsoImage", {}),
    ]
    for index, (name, visibility, description, platform, os_type, env, custom) in enumerate(private):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stamp = f"2025-1{index % 2}-2{index}T10:20:30Z"
        images.append({
            "file": f"/v2/images/{image_id}/file", "owner": demo, "id": image_id, "size": 0,
            "self": f"/v2/images/{image_id}", "schema": "/v2/schemas/image", "status": "active", "tags": [],
            "visibility": visibility, "name": name, "checksum": hashlib.md5(image_id.encode()).hexdigest(),
            "protected": False, "container_format": "bare", "min_ram": 0, "updated_at": stamp,
            "__os_bit": "64", "__description": description, "disk_format": "iso" if env == "IsoImage" else "zvhd2",
            "__isregistered": "true", "__platform": platform, "__os_type": os_type, "min_disk": 40,
            "virtual_env_type": env, "__image_source_type": "uds",
            "__imagetype": "shared" if visibility == "shared" else "private", "created_at": stamp,
            "virtual_size": 0, "__originalimagename": "", "__backup_id": "", "__productcode": "",
            "__image_size": str(1073741824 * (index + 1)), "__data_origin": f"instance,{uuid.UUID(int=index + 1)}"
            if env == "FusionCompute" else None, **custom,
        })
        created.append(parse_iso(stamp))
    state.bulk_load(images, created)


_SECONDS = tuple(f"{second:02d}Z" for second in range(60))


def seed_bulk(state: GlanceState, count: int, owner: str) -> None:
    """``count`` more images, fast (100,000 in well under a second on a quiet
    machine): plain dict literals, string concatenation, timestamps formatted
    once per minute, the garbage collector paused, one sort at the end."""
    if count <= 0:
        return
    bits = random.Random(count).getrandbits
    distros = ("ubuntu", "debian", "centos", "rocky", "fedora", "windows")
    platforms = ("Ubuntu", "Debian", "CentOS", "Rocky", "Fedora", "Windows")
    tags = tuple((distro,) for distro in distros)  # shared: rows are read-only
    formats = ("zvhd2", "qcow2", "vhd") if state.flavour == "ims" else ("qcow2", "raw", "vhd")
    newest = 1_700_000_000  # 2023-11-14T22:13:20Z; one image per 10 s back from there
    ims = state.flavour == "ims"
    images, created = [], []
    minute_prefix, minute_of = "", -1
    paused = gc.isenabled()
    gc.disable()
    try:
        for index in range(count):
            h = "%032x" % bits(128)
            image_id = h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
            ts = newest - 10 * index
            if ts // 60 != minute_of:
                minute_of = ts // 60
                minute_prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(ts))
            stamp = minute_prefix + _SECONDS[ts % 60]
            kind = index % 6
            distro = distros[kind]
            name = "scale-" + distro + "-" + str(index)
            visibility = "shared" if index % 5 == 0 else "private"
            self_link = "/v2/images/" + image_id
            checksum = "%032x" % bits(128)
            if ims:
                image = IMS_ROW((
                    self_link + "/file", owner, image_id, 0, self_link, "/v2/schemas/image", "active",
                    tags[kind], visibility, name, checksum, False, "bare", 0, stamp, "64", formats[index % 3],
                    "true", platforms[kind], "Windows" if kind == 5 else "Linux", 40, "FusionCompute", "uds",
                    "shared" if index % 5 == 0 else "private", stamp, 0, str(1073741824 + index)))
            else:
                image = GLANCE_ROW((
                    distro, name, formats[index % 3], "bare", visibility, 1073741824 + index, None, "active",
                    checksum, False, 0, 0, owner, False, "sha512", checksum * 4, image_id, stamp, stamp,
                    tags[kind], self_link, self_link + "/file", "/v2/schemas/image"))
            images.append(image)
            created.append(float(ts))
        state.bulk_load(images, created)
    finally:
        if paused:
            gc.enable()


__all__ = ["IMS_PUBLIC_PROJECT", "OPERATOR_PROJECT", "seed", "seed_bulk", "seed_glance", "seed_ims"]
