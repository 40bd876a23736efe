"""The official azure-batch SDK (15.1.0) against the loopback simulator: the outside judge.

15.x is the azure-core based ``BatchClient``: Shared Key is an
``AzureNamedKeyCredential``; ``api_version=`` pins the service version (the SDK
defaults to a newer one than the simulator speaks).
"""

from __future__ import annotations

import base64
import math
import time

import httpx
import pytest
from azure.batch import BatchClient
from azure.core.credentials import AccessToken, AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.policies import SansIOHTTPPolicy

from workbench.providers.batch.models import API_VERSION

pytestmark = pytest.mark.sdk


class _RecordRequests(SansIOHTTPPolicy):
    """Remembers every URL the SDK sends, to see its paging from the outside."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def on_request(self, request) -> None:
        self.urls.append(request.http_request.url)


class _AllowHttp(SansIOHTTPPolicy):
    # azure-core refuses bearer tokens over plain http unless told otherwise.
    def on_request(self, request) -> None:
        request.context["enforce_https"] = False


class _SimulatorToken:
    """A TokenCredential handing out a token the simulator's Entra issued."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def _shared_key_client(endpoints: dict, key: str | None = None, **kwargs) -> BatchClient:
    account = endpoints["batch_account"]
    credential = AzureNamedKeyCredential(account["name"], key or account["key"])
    return BatchClient(endpoints["batch"], credential, api_version=API_VERSION, **kwargs)


def _expected(endpoints: dict, predicate) -> list[dict]:
    """The full catalog read over plain HTTP, filtered here, for comparison."""
    response = httpx.get(endpoints["batch"] + "/supportedimages", params={"api-version": API_VERSION},
                         headers={"Authorization": "Bearer " + endpoints["tokens"]["batch"]}, timeout=30)
    assert response.status_code == 200 and "odata.nextLink" not in response.json()
    return [image for image in response.json()["value"] if predicate(image)]


def test_sdk_lists_supported_images_with_a_filter_across_pages(sim_server):
    endpoints = sim_server.endpoints
    expected = _expected(endpoints, lambda i: i["osType"] == "linux" and i["verificationType"] == "verified")
    recorder = _RecordRequests()
    client = _shared_key_client(endpoints, per_call_policies=[recorder])

    images = list(client.list_supported_images(
        filter="osType eq 'linux' and verificationType eq 'verified'", max_results=3))

    assert [image.as_dict() for image in images] == expected
    assert images[0].node_agent_sku_id == expected[0]["nodeAgentSKUId"]
    assert images[0].image_reference.publisher == expected[0]["imageReference"]["publisher"]
    # Several pages, every one signed with Shared Key and sent to the simulator.
    assert len(recorder.urls) == math.ceil(len(expected) / 3) > 2
    assert all(url.startswith(endpoints["batch"] + "/supportedimages?") for url in recorder.urls)
    assert all("api-version=" + API_VERSION in url for url in recorder.urls)


def test_sdk_reads_the_example_image_with_its_end_of_life(sim_server):
    client = _shared_key_client(sim_server.endpoints)
    images = list(client.list_supported_images(filter="imageReference/sku eq '7.1'"))
    assert len(images) == 1
    assert images[0].verification_type == "unverified"
    assert images[0].batch_support_end_of_life.isoformat() == "2019-11-01T00:00:00+00:00"


def test_sdk_timeout_parameter_is_signed_and_accepted(sim_server):
    # 15.x sends "timeOut" (mixed case) and signs it as such.
    recorder = _RecordRequests()
    client = _shared_key_client(sim_server.endpoints, per_call_policies=[recorder])
    images = list(client.list_supported_images(service_timeout=10, max_results=1000))
    assert images
    assert "timeOut=10" in recorder.urls[0]


def test_sdk_with_a_wrong_key_gets_authentication_failed(sim_server):
    key = base64.b64encode(b"\x00" * 64).decode()
    client = _shared_key_client(sim_server.endpoints, key=key)
    with pytest.raises(HttpResponseError) as caught:
        list(client.list_supported_images())
    error = caught.value
    # A bad Shared Key signature is 403 AuthenticationFailed, as the service documents.
    assert error.status_code == 403
    assert error.error.code == "AuthenticationFailed"
    assert "Server failed to authenticate the request" in error.message
    assert "computed signature" in str(error)


def test_sdk_with_an_entra_bearer_token(sim_server):
    endpoints = sim_server.endpoints
    token = sim_server.context.tokens.issue("batch").value
    client = BatchClient(endpoints["batch"], _SimulatorToken(token), api_version=API_VERSION,
                         per_call_policies=[_AllowHttp()])
    images = list(client.list_supported_images(filter="osType eq 'windows'", max_results=5))
    assert [image.as_dict() for image in images] == _expected(endpoints, lambda i: i["osType"] == "windows")

    stale = BatchClient(endpoints["batch"], _SimulatorToken("eyJ0eXAi.batch.unknown"), api_version=API_VERSION,
                        per_call_policies=[_AllowHttp()])
    with pytest.raises(ClientAuthenticationError) as caught:
        list(stale.list_supported_images())
    assert caught.value.status_code == 401


def test_sdk_surfaces_the_batch_error_of_a_bad_filter(sim_server):
    client = _shared_key_client(sim_server.endpoints)
    with pytest.raises(HttpResponseError) as caught:
        list(client.list_supported_images(filter="osType eq linux"))
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidQueryParameterValue"
