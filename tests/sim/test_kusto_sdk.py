"""azure-mgmt-kusto 4.0.0, unchanged but for endpoint and credential, against the loopback simulator."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.kusto import KustoManagementClient
from azure.mgmt.kusto.models import SandboxCustomImage, SandboxCustomImageProperties

pytestmark = pytest.mark.sdk

API_VERSION = "2024-04-13"


class SimulatorCredential:
    """A TokenCredential: client credentials against the simulator's Entra endpoint."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.requested_scopes: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs) -> AccessToken:
        with self._lock:
            self.requested_scopes.append(scopes)
        response = httpx.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": " ".join(scopes),
            },
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))


class AllowPlainHttp(SansIOHTTPPolicy):
    """azure-core refuses bearer tokens over http unless the request context says otherwise.

    BearerTokenCredentialPolicy reads ``request.context["enforce_https"]`` (see
    ``_enforce_https`` in azure/core/pipeline/policies/_authentication.py); a
    per-call policy runs before it, on every request, LRO polls included.
    """

    def on_request(self, request) -> None:
        request.context["enforce_https"] = False


@pytest.fixture
def ids(sim_server) -> dict:
    return sim_server.endpoints["kusto_ids"]


@pytest.fixture
def credential(sim_server) -> SimulatorCredential:
    entra = sim_server.endpoints["entra_credentials"]
    return SimulatorCredential(entra["token_url"], entra["client_id"], entra["client_secret"])


@pytest.fixture
def client(sim_server, ids, credential) -> KustoManagementClient:
    client = KustoManagementClient(
        credential,
        ids["subscription_id"],
        base_url=sim_server.endpoints["kusto"],
        api_version=API_VERSION,
        per_call_policies=[AllowPlainHttp()],
        polling_interval=0,
    )
    yield client
    client.close()


def image(**properties) -> SandboxCustomImage:
    return SandboxCustomImage(properties=SandboxCustomImageProperties(language="Python", **properties))


def test_create_get_list_delete(client, ids, credential):
    images = client.sandbox_custom_images
    rg, cluster = ids["resource_group"], ids["cluster"]

    poller = images.begin_create_or_update(
        rg, cluster, "sdkImage", image(language_version="3.11.7", requirements_file_content="numpy==1.26.4"), polling_interval=0
    )
    created = poller.result(timeout=30)
    assert poller.status() == "Succeeded"
    assert created.provisioning_state == "Succeeded"
    assert created.name == f"{cluster}/sdkImage"
    assert created.language_version == "3.11.7" and created.requirements_file_content == "numpy==1.26.4"
    assert created.id.endswith(f"/Clusters/{cluster}/SandboxCustomImages/sdkImage")

    fetched = images.get(rg, cluster, "sdkImage")
    assert fetched.provisioning_state == "Succeeded"
    assert fetched.language == "Python"

    names = [i.name for i in images.list_by_cluster(rg, cluster)]
    assert f"{cluster}/sdkImage" in names and f"{cluster}/customImage8" in names

    images.begin_delete(rg, cluster, "sdkImage", polling_interval=0).result(timeout=30)
    with pytest.raises(ResourceNotFoundError) as missing:
        images.get(rg, cluster, "sdkImage")
    assert missing.value.error.code == "ResourceNotFound"
    assert credential.requested_scopes[0] == ("https://management.azure.com/.default",)


def test_create_on_managed_and_custom_bases(client, ids):
    images = client.sandbox_custom_images
    rg, cluster = ids["resource_group"], ids["cluster"]
    managed = images.begin_create_or_update(rg, cluster, "onManaged", image(base_image_name="Python3_10_8_DL"), polling_interval=0).result()
    assert managed.base_image_name == "Python3_10_8_DL" and managed.language_version is None
    custom = images.begin_create_or_update(
        rg, cluster, "onCustom", image(base_image_name="onManaged", requirements_file_content="Requests"), polling_interval=0
    ).result()
    assert custom.base_image_name == "onManaged" and custom.provisioning_state == "Succeeded"


def test_update_through_patch(client, ids):
    images = client.sandbox_custom_images
    rg, cluster = ids["resource_group"], ids["cluster"]
    updated = images.begin_update(
        rg, cluster, "customImage7", image(requirements_file_content="scipy==1.12.0"), polling_interval=0
    ).result()
    assert updated.requirements_file_content == "scipy==1.12.0"
    assert updated.language_version == "3.10.8"
    assert updated.provisioning_state == "Succeeded"


def test_list_follows_next_link(client, ids, sim_server):
    sim_server.context.config.extra["kusto_page_size"] = 3
    cluster_state = sim_server.context.states["kusto"].clusters[
        (ids["subscription_id"].lower(), ids["resource_group"].lower(), ids["cluster"].lower())
    ]
    names = [i.name.split("/")[1] for i in client.sandbox_custom_images.list_by_cluster(ids["resource_group"], ids["cluster"])]
    assert len(names) == len(set(names)) == len(cluster_state.images) > 3
    assert [n.lower() for n in names] == cluster_state.order


def test_validation_errors_reach_the_caller(client, ids):
    with pytest.raises(HttpResponseError) as raised:
        client.sandbox_custom_images.begin_create_or_update(
            ids["resource_group"], ids["cluster"], "both", image(language_version="3.10.8", base_image_name="Python3_10_8")
        )
    assert raised.value.status_code == 400
    assert raised.value.error.code == "BadRequest"
    assert "exactly one of languageVersion and baseImageName" in raised.value.error.message
    with pytest.raises(HttpResponseError) as unknown_base:
        client.sandbox_custom_images.begin_create_or_update(
            ids["resource_group"], ids["cluster"], "badBase", image(base_image_name="Python2_7")
        )
    assert unknown_base.value.error.target == "properties.baseImageName"


def test_a_failed_operation_raises(client, ids, sim_server):
    sim_server.context.config.fault_rate = 1.0
    sim_server.context.config.fault_kinds = ("fail_operation",)
    poller = client.sandbox_custom_images.begin_create_or_update(
        ids["resource_group"], ids["cluster"], "willFail", image(language_version="3.10.8"), polling_interval=0
    )
    with pytest.raises(HttpResponseError) as raised:
        poller.result(timeout=30)
    assert raised.value.error.code == "SandboxCustomImageOperationFailed"
    assert poller.status() == "Failed"
    assert client.sandbox_custom_images.get(ids["resource_group"], ids["cluster"], "willFail").provisioning_state == "Failed"


def test_check_name_availability(client, ids):
    check = client.sandbox_custom_images.check_name_availability
    taken = check(ids["resource_group"], ids["cluster"], {"name": "sandboxCustomImage1", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"})
    assert taken.name_available is False
    assert taken.message == "Name 'sandboxCustomImage1' is already taken. Please specify a different name"
    free = check(ids["resource_group"], ids["cluster"], {"name": "freshName", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"})
    assert free.name_available is True


def test_without_the_http_policy_azure_core_refuses_bearer_over_http(sim_server, ids, credential):
    client = KustoManagementClient(
        credential, ids["subscription_id"], base_url=sim_server.endpoints["kusto"], api_version=API_VERSION,
        retry_total=0,  # the refusal is a ServiceRequestError, which azure-core would otherwise retry
    )
    with client, pytest.raises(ServiceRequestError, match="non-TLS"):
        client.sandbox_custom_images.get(ids["resource_group"], ids["cluster"], "customImage8")
