"""openstacksdk, unchanged, against the simulated Glance: the outside judge of fidelity."""

from __future__ import annotations

import hashlib

import httpx
import pytest

openstack = pytest.importorskip("openstack")

pytestmark = [pytest.mark.sdk, pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]


def connect_with_token(endpoints: dict):
    """No Keystone: a ready token and the image endpoint as-is."""
    return openstack.connect(auth_type="admin_token",
                             auth={"token": endpoints["tokens"]["glance"], "endpoint": endpoints["glance"]},
                             image_endpoint_override=endpoints["glance"], region_name="RegionOne")


def connect_with_password(endpoints: dict):
    """Through the simulator's Keystone: discovery, password auth, the catalog."""
    credentials = endpoints["keystone_credentials"]
    return openstack.connect(auth_url=endpoints["keystone"], username=credentials["username"],
                             password=credentials["password"], project_name=credentials["project_name"],
                             user_domain_name=credentials["user_domain_name"],
                             project_domain_name=credentials["project_domain_name"],
                             region_name=credentials["region_name"])


def raw_image(endpoints: dict, image_id: str) -> dict:
    response = httpx.get(f"{endpoints['glance']}/v2/images/{image_id}",
                         headers={"X-Auth-Token": endpoints["tokens"]["glance"]})
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("connect", [connect_with_token, connect_with_password], ids=["admin_token", "keystone"])
def test_create_update_remove_property_delete(sim_server, connect):
    endpoints = sim_server.endpoints
    conn = connect(endpoints)
    image = conn.image.create_image(name="sdk-made", disk_format="raw", container_format="bare",
                                    allow_duplicates=True)
    assert image.status == "queued" and image.name == "sdk-made"

    image = conn.image.update_image(image, name="sdk-renamed", build_id="1234")
    assert image.name == "sdk-renamed" and image.properties["build_id"] == "1234"
    stored = raw_image(endpoints, image.id)
    assert stored["name"] == "sdk-renamed" and stored["build_id"] == "1234"

    # openstacksdk diffs the properties dict into a JSON patch: dropping the key removes it
    image = conn.image.update_image(image, properties={})
    stored = raw_image(endpoints, image.id)
    assert "build_id" not in stored and "owner_specified.openstack.md5" not in stored

    conn.image.delete_image(image)
    gone = httpx.get(f"{endpoints['glance']}/v2/images/{image.id}",
                     headers={"X-Auth-Token": endpoints["tokens"]["glance"]})
    assert gone.status_code == 404


def test_create_with_data_uploads_and_goes_active(sim_server):
    conn = connect_with_token(sim_server.endpoints)
    data = b"0123456789" * 4096
    image = conn.image.create_image(name="sdk-upload", data=data, disk_format="raw", container_format="bare",
                                    allow_duplicates=True, validate_checksum=True)
    fetched = conn.image.get_image(image.id)
    assert fetched.status == "active" and fetched.size == len(data)
    assert fetched.checksum == hashlib.md5(data).hexdigest()
    assert fetched.hash_algo == "sha512" and fetched.hash_value == hashlib.sha512(data).hexdigest()
    downloaded = conn.image.download_image(fetched)  # the SDK checks Content-MD5 against the checksum
    assert downloaded.content == data


def test_list_follows_paging_to_the_end(sim_server):
    endpoints = sim_server.endpoints
    conn = connect_with_token(endpoints)
    made = {conn.image.create_image(name=f"sdk-page-{n}", allow_duplicates=True).id for n in range(5)}
    listed = list(conn.image.images(limit=2, sort="name:asc"))
    names = [image.name for image in listed]
    assert names == sorted(names)
    assert made <= {image.id for image in listed}
    everything = httpx.get(f"{endpoints['glance']}/v2/images", params={"limit": 1000},
                           headers={"X-Auth-Token": endpoints["tokens"]["glance"]}).json()["images"]
    assert len(listed) == len(everything)
    filtered = list(conn.image.images(name="sdk-page-3"))
    assert [image.name for image in filtered] == ["sdk-page-3"]


def test_sdk_through_keystone_sees_the_ims_catalog_entry(sim_server):
    conn = connect_with_password(sim_server.endpoints)
    assert conn.session.get_endpoint(service_type="ims", interface="public") == sim_server.endpoints["ims"]
    images = list(conn.image.images(limit=5))
    assert images and all(image.id for image in images)
