"""The simulated Azure Batch service: GET {batchUrl}/supportedimages, in-process and over loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from workbench.providers.batch import odata
from workbench.providers.batch.models import (
    API_VERSION,
    AccountListSupportedImagesOptions,
    AccountListSupportedImagesResult,
    BatchError,
    ImageReference,
)
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.batch import BatchState, generated_images
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.sim.server import SimServer

IN_PROCESS_BASE = "http://sim.test"

# The official example (specs/azure-batch/AccountListSupportedImages.json, also in the
# REST reference the seed quotes): "GET {batchUrl}/supportedimages?api-version=..." answers these.
EXAMPLE_VALUE = [
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
     "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2012-R2-Datacenter",
                        "version": "latest"},
     "verificationType": "verified", "osType": "windows"},
    {"nodeAgentSKUId": "batch.node.windows amd64",
     "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2012-Datacenter",
                        "version": "latest"},
     "verificationType": "verified", "osType": "windows"},
]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _shared_key(method: str, url: httpx.URL, headers: dict[str, str], account: str, key: str) -> str:
    """A Shared Key signature built from the Batch authentication reference, step by step."""
    lower = {k.lower(): v for k, v in headers.items()}
    standard = ["content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
                "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"]
    parts = [method]
    for name in standard:
        value = lower.get(name, "")
        if name == "date" and "ocp-date" in lower:
            value = ""  # "If you set ocp-date, construct the signature with an empty value for the Date header."
        parts.append(value)
    text = "\n".join(parts) + "\n"
    for name in sorted(n for n in lower if n.startswith("ocp-")):
        text += f"{name}:{lower[name]}\n"
    text += f"/{account}{url.raw_path.decode().split('?')[0]}"
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query.decode(), keep_blank_values=True):
        params.setdefault(name.lower(), []).append(value)
    for name in sorted(params):
        text += f"\n{name}:{','.join(sorted(params[name]))}"
    digest = hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


@dataclass
class Batch:
    """One simulator's Batch endpoint and the means to call it."""

    client: httpx.AsyncClient
    endpoints: dict
    ctx: SimContext

    @property
    def base(self) -> str:
        return self.endpoints["batch"]

    @property
    def url(self) -> str:
        return self.base + "/supportedimages"

    def bearer(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.endpoints["tokens"]["batch"]}

    async def get(self, params: dict | None = None, headers: dict | None = None, *, auth: str = "bearer",
                  url: str | None = None) -> httpx.Response:
        request = self.client.build_request("GET", url or self.url, params=params, headers=headers or {})
        if auth == "bearer":
            request.headers.update(self.bearer())
        elif auth == "sharedkey":
            request.headers.setdefault("ocp-date", format_datetime(datetime.now(timezone.utc), usegmt=True))
            account = self.endpoints["batch_account"]
            request.headers["Authorization"] = _shared_key(
                "GET", request.url, dict(request.headers), account["name"], account["key"])
        return await self.client.send(request)

    async def list_all(self, params: dict) -> tuple[list[dict], list[httpx.Response]]:
        """Every image, following odata.nextLink verbatim; and every page's response."""
        responses = [await self.get({"api-version": API_VERSION, **params})]
        while True:
            assert responses[-1].status_code == 200, responses[-1].text
            link = responses[-1].json().get("odata.nextLink")
            if not link:
                break
            responses.append(await self.get(url=link))
        images = [image for r in responses for image in r.json()["value"]]
        return images, responses


@pytest.fixture
async def batch(sim_context, sim_app):
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE) as client:
        yield Batch(client, endpoints_document(IN_PROCESS_BASE, sim_context), sim_context)


@pytest.fixture(params=["in_process", "loopback"])
async def any_batch(request, sim_config):
    """The same service in-process and over real HTTP on loopback."""
    if request.param == "in_process":
        ctx = SimContext(sim_config)
        transport = httpx.ASGITransport(app=build_app(context=ctx))
        async with httpx.AsyncClient(transport=transport) as client:
            yield Batch(client, endpoints_document(IN_PROCESS_BASE, ctx), ctx)
    else:
        with SimServer(sim_config) as server:
            async with httpx.AsyncClient(timeout=30) as client:
                yield Batch(client, server.endpoints, server.context)


def _values(body: dict) -> dict[str, str]:
    return {item["key"]: item["value"] for item in body.get("values", [])}


def _assert_batch_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json;odata=minimalmetadata"
    body = response.json()
    assert body["code"] == code
    assert body["message"]["lang"] == "en-US"
    request_id = response.headers["request-id"]
    assert UUID_RE.match(request_id)
    # The service appends the request id and the time to every message.
    assert re.search(rf"\nRequestId:{request_id}\nTime:\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{7}}Z$",
                     body["message"]["value"])
    assert body["odata.metadata"].endswith(
        "/batch/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element")
    BatchError.model_validate(body)  # and the client-side model reads it
    return body


# -- the listing -------------------------------------------------------------------


async def test_the_example_request_gets_the_example_answer(any_batch):
    response = await any_batch.get({"api-version": API_VERSION})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;odata=minimalmetadata"
    body = response.json()
    assert body["value"][: len(EXAMPLE_VALUE)] == EXAMPLE_VALUE
    assert body["odata.metadata"] == any_batch.base + "/$metadata#supportedimages"
    # The whole catalog fits in the default page of 1000: no next link.
    assert "odata.nextLink" not in body
    assert len(body["value"]) == len(any_batch.ctx.states["batch"].images)
    result = AccountListSupportedImagesResult.model_validate(body)
    assert {image.os_type.value for image in result.value} == {"linux", "windows"}


async def test_every_answer_has_a_fresh_request_id_an_etag_and_last_modified(batch):
    first = await batch.get({"api-version": API_VERSION})
    second = await batch.get({"api-version": API_VERSION})
    assert UUID_RE.match(first.headers["request-id"]) and UUID_RE.match(second.headers["request-id"])
    assert first.headers["request-id"] != second.headers["request-id"]
    assert re.fullmatch(r"0x[0-9A-F]{15}", first.headers["etag"])
    assert first.headers["etag"] == second.headers["etag"]  # the catalog did not change
    modified = parsedate_to_datetime(first.headers["last-modified"])
    assert abs(datetime.now(timezone.utc) - modified) < timedelta(minutes=5)
    assert "client-request-id" not in first.headers


@pytest.mark.parametrize(
    ("flag", "echoed"),
    [("true", True), ("True", True), ("false", False), (None, False)],
)
async def test_client_request_id_is_echoed_only_when_asked(batch, flag, echoed):
    client_id = str(uuid.uuid4()).upper()
    headers = {"client-request-id": client_id}
    if flag is not None:
        headers["return-client-request-id"] = flag
    response = await batch.get({"api-version": API_VERSION}, headers)
    assert response.status_code == 200
    assert response.headers.get("client-request-id") == (client_id if echoed else None)
    assert response.headers["request-id"] != client_id


@pytest.mark.parametrize("value", ["not-a-guid", "{9C4D50EE-2D56-4CD3-8152-34347DC9F2B0}"])
async def test_a_client_request_id_must_be_an_undecorated_guid(batch, value):
    response = await batch.get({"api-version": API_VERSION}, {"client-request-id": value})
    body = _assert_batch_error(response, 400, "InvalidHeaderValue")
    assert _values(body)["HeaderName"] == "client-request-id"
    assert _values(body)["HeaderValue"] == value


async def test_paging_follows_odata_next_link_as_is(any_batch):
    everything, _ = await any_batch.list_all({})
    expected = [image for image in everything if image["osType"] == "linux"]
    assert 7 < len(expected) < len(everything)

    images, responses = await any_batch.list_all({"$filter": "osType eq 'linux'", "maxresults": "7"})
    assert images == expected
    assert len(responses) == math.ceil(len(expected) / 7)
    for response in responses[:-1]:
        link = response.json()["odata.nextLink"]
        # Absolute, back at this simulator, and carrying what the next page needs.
        assert link.startswith(any_batch.base + "/supportedimages?")
        query = dict(parse_qsl(urlsplit(link).query))
        assert query["api-version"] == API_VERSION
        assert query["$filter"] == "osType eq 'linux'"
        assert query["maxresults"] == "7"
        assert query["$skiptoken"]
        assert len(response.json()["value"]) == 7
    assert "odata.nextLink" not in responses[-1].json()


async def test_paging_with_shared_key_signs_every_page(any_batch):
    first = await any_batch.get({"api-version": API_VERSION, "maxresults": "10"}, auth="sharedkey")
    assert first.status_code == 200, first.text
    second = await any_batch.get(url=first.json()["odata.nextLink"], auth="sharedkey")
    assert second.status_code == 200, second.text
    assert first.json()["value"][-1] != second.json()["value"][0]


@pytest.mark.parametrize(
    ("text", "predicate"),
    [
        ("osType eq 'windows'", lambda i: i["osType"] == "windows"),
        ("verificationType ne 'verified'", lambda i: i["verificationType"] != "verified"),
        ("imageReference/publisher eq 'Canonical' and "
         "(imageReference/sku eq '22_04-lts' or imageReference/sku eq '20_04-lts')",
         lambda i: i["imageReference"]["publisher"] == "Canonical"
         and i["imageReference"]["sku"] in ("22_04-lts", "20_04-lts")),
        ("nodeAgentSKUId eq 'batch.node.windows amd64' or osType eq 'linux' and verificationType eq 'unverified'",
         lambda i: i["nodeAgentSKUId"] == "batch.node.windows amd64"
         or (i["osType"] == "linux" and i["verificationType"] == "unverified")),
        ("imageReference/offer eq 'WindowsServer' and imageReference/sku ne '2019-Datacenter'",
         lambda i: i["imageReference"]["offer"] == "WindowsServer" and i["imageReference"]["sku"] != "2019-Datacenter"),
        ("imageReference/publisher eq 'microsoft-dsvm'",
         lambda i: i["imageReference"]["publisher"] == "microsoft-dsvm"),
    ],
)
async def test_filters_select_exactly_the_matching_images(batch, text, predicate):
    everything, _ = await batch.list_all({})
    expected = [image for image in everything if predicate(image)]
    assert 0 < len(expected) < len(everything)
    images, _ = await batch.list_all({"$filter": text})
    assert images == expected


async def test_a_filter_from_the_builder_is_understood(batch):
    expr = odata.publisher.eq("MicrosoftWindowsServer") & odata.sku.ne("2016-Datacenter")
    options = AccountListSupportedImagesOptions(filter=expr, max_results=3)
    images, responses = await batch.list_all(
        {k: v for k, v in options.query_params().items() if k != "api-version"})
    assert images and len(responses) > 1
    assert all(i["imageReference"]["publisher"] == "MicrosoftWindowsServer" for i in images)
    assert "2016-Datacenter" not in {i["imageReference"]["sku"] for i in images}


async def test_a_filter_outside_the_subset_is_an_invalid_query_parameter_value(any_batch):
    text = "osType eq linux"
    response = await any_batch.get({"api-version": API_VERSION, "$filter": text})
    body = _assert_batch_error(response, 400, "InvalidQueryParameterValue")
    values = _values(body)
    assert values["QueryParameterName"] == "$filter"
    assert values["QueryParameterValue"] == text
    assert "position 10" in values["Reason"] and "string literal" in values["Reason"]


@pytest.mark.parametrize(("value", "code"), [
    ("0", "OutOfRangeQueryParameterValue"),
    ("1001", "OutOfRangeQueryParameterValue"),
    ("-5", "OutOfRangeQueryParameterValue"),
    ("ten", "InvalidQueryParameterValue"),
    ("", "InvalidQueryParameterValue"),
])
async def test_maxresults_must_be_an_integer_from_1_to_1000(batch, value, code):
    response = await batch.get({"api-version": API_VERSION, "maxresults": value})
    body = _assert_batch_error(response, 400, code)
    assert _values(body)["QueryParameterName"] == "maxresults"
    assert _values(body)["QueryParameterValue"] == value


async def test_maxresults_1000_is_the_largest_page(batch):
    response = await batch.get({"api-version": API_VERSION, "maxresults": "1000"})
    assert response.status_code == 200


@pytest.mark.parametrize(("value", "status"), [("10", 200), ("120", 200), ("0", 400), ("soon", 400)])
async def test_timeout_is_validated(batch, value, status):
    response = await batch.get({"api-version": API_VERSION, "timeout": value})
    assert response.status_code == status, response.text
    if status == 400:
        assert _values(response.json())["QueryParameterName"] == "timeout"


async def test_query_parameter_names_are_case_insensitive(batch):
    # azure-batch 15.x sends "timeOut"; other clients capitalise differently.
    params = {"API-Version": API_VERSION, "MaxResults": "2", "timeOut": "10", "$FILTER": "osType eq 'windows'"}
    response = await batch.get(params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["value"]) == 2
    assert all(image["osType"] == "windows" for image in body["value"])
    assert body["odata.nextLink"]


async def test_a_missing_api_version_is_a_missing_required_query_parameter(batch):
    response = await batch.get({"maxresults": "2"})
    body = _assert_batch_error(response, 400, "MissingRequiredQueryParameter")
    assert _values(body) == {"QueryParameterName": "api-version"}


@pytest.mark.parametrize("version", ["2099-01-01.99.0", "2024-04-13", "latest"])
async def test_an_unknown_api_version_is_unsupported(batch, version):
    response = await batch.get({"api-version": version})
    body = _assert_batch_error(response, 400, "UnsupportedRequestVersion")
    assert _values(body)["QueryParameterValue"] == version


async def test_a_forged_skiptoken_is_rejected(batch):
    response = await batch.get({"api-version": API_VERSION, "$skiptoken": "not-ours"})
    body = _assert_batch_error(response, 400, "InvalidQueryParameterValue")
    assert _values(body)["QueryParameterName"] == "$skiptoken"


async def test_unknown_paths_and_verbs_are_batch_errors(batch):
    response = await batch.get({"api-version": API_VERSION}, url=batch.base + "/pools/nope")
    _assert_batch_error(response, 400, "InvalidUri")
    response = await batch.client.post(batch.url, params={"api-version": API_VERSION}, headers=batch.bearer())
    _assert_batch_error(response, 405, "UnsupportedHttpVerb")


# -- authentication ------------------------------------------------------------------


async def test_no_authorization_is_401_with_a_challenge(any_batch):
    response = await any_batch.get({"api-version": API_VERSION}, auth="none")
    body = _assert_batch_error(response, 401, "AuthenticationFailed")
    assert "Authorization header" in _values(body)["AuthenticationErrorDetail"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer authorization_uri=")
    assert any_batch.endpoints["entra"] in challenge  # points back at the simulator's Entra


@pytest.mark.parametrize("token_kind", ["garbage", "arm", "expired"])
async def test_a_bearer_token_must_be_a_live_batch_token(batch, token_kind):
    if token_kind == "garbage":
        token = "eyJ0eXAi.batch.not-issued"
    elif token_kind == "arm":
        token = batch.ctx.tokens.issue("arm").value
    else:
        token = batch.ctx.tokens.issue("batch", ttl=-1).value
    response = await batch.get({"api-version": API_VERSION}, {"Authorization": f"Bearer {token}"}, auth="none")
    _assert_batch_error(response, 401, "AuthenticationFailed")


async def test_a_freshly_issued_batch_token_works_and_stops_when_expired(batch):
    token = batch.ctx.tokens.issue("batch").value
    headers = {"Authorization": f"Bearer {token}"}
    assert (await batch.get({"api-version": API_VERSION}, headers, auth="none")).status_code == 200
    batch.ctx.tokens.expire_all()
    assert (await batch.get({"api-version": API_VERSION}, headers, auth="none")).status_code == 401


@pytest.mark.parametrize("header", ["Basic ZGVtbzpkZW1v", "SharedKey demoaccount", "SharedKey :abc", "Token x"])
async def test_a_malformed_authorization_header_is_invalid_authentication_info(batch, header):
    response = await batch.get({"api-version": API_VERSION}, {"Authorization": header}, auth="none")
    _assert_batch_error(response, 400, "InvalidAuthenticationInfo")


async def test_shared_key_with_the_account_key_is_accepted(any_batch):
    params = {"api-version": API_VERSION, "$filter": "osType eq 'linux' and imageReference/offer ne 'It''s'",
              "maxresults": "5", "timeout": "20"}
    response = await any_batch.get(params, {"client-request-id": str(uuid.uuid4())}, auth="sharedkey")
    assert response.status_code == 200, response.text
    assert len(response.json()["value"]) == 5


async def test_shared_key_with_a_date_header_instead_of_ocp_date_is_accepted(batch):
    now = format_datetime(datetime.now(timezone.utc), usegmt=True)
    request = batch.client.build_request("GET", batch.url, params={"api-version": API_VERSION},
                                         headers={"Date": now})
    account = batch.endpoints["batch_account"]
    # With no ocp-date, the Date header's value is part of the string to sign.
    request.headers["Authorization"] = _shared_key("GET", request.url, {"Date": now}, account["name"], account["key"])
    assert (await batch.client.send(request)).status_code == 200


def _with_wrong_key(account: dict) -> str:
    raw = bytearray(base64.b64decode(account["key"]))
    raw[0] ^= 0xFF
    return base64.b64encode(bytes(raw)).decode()


async def test_shared_key_signed_with_another_key_is_403_authentication_failed(any_batch):
    account = any_batch.endpoints["batch_account"]
    request = any_batch.client.build_request(
        "GET", any_batch.url, params={"api-version": API_VERSION},
        headers={"ocp-date": format_datetime(datetime.now(timezone.utc), usegmt=True)})
    request.headers["Authorization"] = _shared_key(
        "GET", request.url, dict(request.headers), account["name"], _with_wrong_key(account))
    response = await any_batch.client.send(request)
    body = _assert_batch_error(response, 403, "AuthenticationFailed")
    detail = _values(body)["AuthenticationErrorDetail"]
    assert "is not the same as any computed signature" in detail
    # The string the server signed, for debugging, as the service reports it.
    assert f"/{account['name']}{urlsplit(any_batch.url).path}\napi-version:{API_VERSION}" in detail


async def test_shared_key_signature_covers_the_query(batch):
    account = batch.endpoints["batch_account"]
    request = batch.client.build_request(
        "GET", batch.url, params={"api-version": API_VERSION, "maxresults": "5"},
        headers={"ocp-date": format_datetime(datetime.now(timezone.utc), usegmt=True)})
    signature = _shared_key("GET", request.url, dict(request.headers), account["name"], account["key"])
    tampered = batch.client.build_request(
        "GET", batch.url, params={"api-version": API_VERSION, "maxresults": "6"},
        headers={"ocp-date": request.headers["ocp-date"], "Authorization": signature})
    _assert_batch_error(await batch.client.send(tampered), 403, "AuthenticationFailed")
    request.headers["Authorization"] = signature
    assert (await batch.client.send(request)).status_code == 200


async def test_shared_key_for_another_account_is_rejected(batch):
    request = batch.client.build_request(
        "GET", batch.url, params={"api-version": API_VERSION},
        headers={"ocp-date": format_datetime(datetime.now(timezone.utc), usegmt=True)})
    key = batch.endpoints["batch_account"]["key"]
    request.headers["Authorization"] = _shared_key("GET", request.url, dict(request.headers), "otheraccount", key)
    body = _assert_batch_error(await batch.client.send(request), 403, "AuthenticationFailed")
    assert "otheraccount" in _values(body)["AuthenticationErrorDetail"]


@pytest.mark.parametrize(("shift", "word"), [(timedelta(minutes=-20), "too old"), (timedelta(minutes=20), "future")])
async def test_shared_key_requests_must_be_recent(batch, shift, word):
    stamp = format_datetime(datetime.now(timezone.utc) + shift, usegmt=True)
    response = await batch.get({"api-version": API_VERSION}, {"ocp-date": stamp}, auth="sharedkey")
    body = _assert_batch_error(response, 403, "AuthenticationFailed")
    assert word in _values(body)["AuthenticationErrorDetail"]


async def test_shared_key_without_any_date_is_rejected(batch):
    request = batch.client.build_request("GET", batch.url, params={"api-version": API_VERSION})
    account = batch.endpoints["batch_account"]
    request.headers["Authorization"] = _shared_key("GET", request.url, {}, account["name"], account["key"])
    body = _assert_batch_error(await batch.client.send(request), 403, "AuthenticationFailed")
    assert "date" in _values(body)["AuthenticationErrorDetail"].lower()


# -- faults, scale and independence ---------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "code"), [("throttle", 429, "TooManyRequests"),
                                                       ("unavailable", 503, "ServerBusy")])
async def test_injected_faults_are_batch_errors(kind, status, code):
    ctx = SimContext(SimConfig(fault_rate=1.0, fault_kinds=(kind,), fault_retry_after=2))
    transport = httpx.ASGITransport(app=build_app(context=ctx))
    async with httpx.AsyncClient(transport=transport) as client:
        batch = Batch(client, endpoints_document(IN_PROCESS_BASE, ctx), ctx)
        response = await batch.get({"api-version": API_VERSION})
    _assert_batch_error(response, status, code)
    assert response.headers["retry-after"] == "2"


def test_seeding_100000_images_makes_every_image_distinct():
    state = BatchState.seeded(SimConfig(seed_images=100_000))
    baseline = len(BatchState.seeded(SimConfig()).images)
    assert len(state.images) == baseline + 100_000
    keys = {(i["nodeAgentSKUId"], *i["imageReference"].values()) for i in state.images}
    assert len(keys) == len(state.images)
    # Generated images are valid supported images too.
    AccountListSupportedImagesResult.model_validate({"value": generated_images(50)})


async def test_a_large_catalog_pages_and_filters():
    ctx = SimContext(SimConfig(seed_images=20_000))
    transport = httpx.ASGITransport(app=build_app(context=ctx))
    async with httpx.AsyncClient(transport=transport) as client:
        batch = Batch(client, endpoints_document(IN_PROCESS_BASE, ctx), ctx)
        first = await batch.get({"api-version": API_VERSION})
        assert len(first.json()["value"]) == 1000 and first.json()["odata.nextLink"]
        text = "imageReference/publisher eq 'woodgrove' or osType eq 'windows'"
        images, responses = await batch.list_all({"$filter": text})
    expected = [i for i in ctx.states["batch"].images
                if i["imageReference"]["publisher"] == "woodgrove" or i["osType"] == "windows"]
    assert images == expected and len(expected) > 1000
    assert len(responses) == math.ceil(len(expected) / 1000)


def test_each_simulator_has_its_own_catalog():
    one, two = SimContext(SimConfig(seed_images=3)), SimContext(SimConfig())
    build_app(context=one)
    build_app(context=two)
    assert len(one.states["batch"].images) == len(two.states["batch"].images) + 3
    one.states["batch"].images[0]["osType"] = "windows"
    assert two.states["batch"].images[0]["osType"] == "linux"


# -- the client-side models -------------------------------------------------------------


def test_options_render_the_query_and_headers_the_service_expects():
    options = AccountListSupportedImagesOptions(
        filter=odata.os_type.eq("linux"), max_results=50, timeout=10,
        client_request_id="9C4D50EE-2D56-4CD3-8152-34347DC9F2B0", return_client_request_id=True,
        ocp_date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert options.query_params() == {"api-version": API_VERSION, "$filter": "osType eq 'linux'",
                                      "maxresults": "50", "timeout": "10"}
    assert options.headers() == {"client-request-id": "9c4d50ee-2d56-4cd3-8152-34347dc9f2b0",
                                 "return-client-request-id": "true", "ocp-date": "Tue, 02 Jan 2024 03:04:05 GMT"}


@pytest.mark.parametrize(("kwargs", "field", "rule"), [
    ({"max_results": 0}, "max_results", "greater than or equal to 1"),
    ({"max_results": 1001}, "max_results", "less than or equal to 1000"),
    ({"timeout": 0}, "timeout", "greater than or equal to 1"),
    ({"filter": "osType eq 'bsd'"}, "filter", "at position 10"),
    ({"filter": "   "}, "filter", "must not be blank"),
    ({"client_request_id": "not-a-guid"}, "client_request_id", "valid UUID"),
    ({"ocp_date": datetime(2024, 1, 1)}, "ocp_date", "timezone-aware"),
    ({"maxresult": 5}, "maxresult", "Extra inputs are not permitted"),
])
def test_bad_options_name_the_field_and_the_rule(kwargs, field, rule):
    with pytest.raises(ValidationError) as caught:
        AccountListSupportedImagesOptions(**kwargs)
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert rule in error["msg"]


@pytest.mark.parametrize(("kwargs", "rule"), [
    ({"publisher": "Canonical", "offer": "x"}, "missing: sku"),
    ({"virtualMachineImageId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/y",
      "sku": "1"}, "mutually exclusive with sku"),
    ({"virtualMachineImageId": "/images/y"}, "virtualMachineImageId must be an ARM id"),
])
def test_image_reference_rules(kwargs, rule):
    with pytest.raises(ValidationError, match=rule):
        ImageReference.model_validate(kwargs)


def test_batch_error_model_reads_details():
    error = BatchError.model_validate({
        "code": "InvalidQueryParameterValue",
        "message": {"lang": "en-US", "value": "Value for one of the query parameters specified in the request URI "
                                              "is invalid.\nRequestId:x\nTime:y"},
        "values": [{"key": "QueryParameterName", "value": "$filter"}],
    })
    assert error.detail("QueryParameterName") == "$filter" and error.detail("Reason") is None
    assert str(error) == ("InvalidQueryParameterValue: Value for one of the query parameters specified in the "
                          "request URI is invalid. (QueryParameterName: $filter)")
