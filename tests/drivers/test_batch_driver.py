"""The Batch driver against the simulated Batch service: Shared Key and Entra
auth, OData filters, paging by odata.nextLink, client request ids, retries and
every error shape; over real loopback HTTP, and in-process where handy."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import ValidationError

from tests.waits import Waits
from workbench.core.errors import ApiError, AuthError, InvalidResponse
from workbench.core.http import HttpCore
from workbench.core.retry import RetryPolicy
from workbench.providers.azure_auth import AzureCredential, EntraClientCredentials
from workbench.providers.batch import odata
from workbench.providers.batch import driver as batch_driver
from workbench.providers.batch.auth import BatchSharedKey, string_to_sign
from workbench.providers.batch.driver import (
    BatchDriver,
    ImageNotFound,
    ReadOnlyApi,
    account_name_of,
    batch_image_id,
    image_summary,
    parse_image_id,
)
from workbench.providers.batch.models import API_VERSION, ImageInformation
from workbench.providers.batch.requests import ListSupportedImages
from workbench.sim import batch as sim_batch
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

SEEDED = 2500
CATALOG = 40  # the example's 5 images and 35 more
WRONG_KEY = base64.b64encode(b"canary-wrong-batch-key-0123456789abcdef").decode()


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(seed_images=SEEDED)


def shared_key(endpoints: dict, *, transport=None, retry: RetryPolicy | None = None, key: str | None = None,
               **overrides) -> BatchDriver:
    account = endpoints["batch_account"]
    return BatchDriver.connect(account_url=endpoints["batch"], account_name=account["name"],
                               account_key=key or account["key"], transport=transport,
                               retry=retry or RetryPolicy(max_attempts=4, sleep=Waits()), **overrides)


def entra(endpoints: dict, *, transport=None) -> BatchDriver:
    creds = endpoints["entra_credentials"]
    credential = AzureCredential("client_secret", tenant_id=creds["tenant_id"], client_id=creds["client_id"],
                                 client_secret=creds["client_secret"], authority=endpoints["entra"])
    return BatchDriver.connect(account_url=endpoints["batch"], credential=credential, transport=transport,
                               retry=RetryPolicy(max_attempts=4, sleep=Waits()))


@pytest.fixture
async def batch(sim_server):
    async with shared_key(sim_server.endpoints) as driver:
        yield driver


@pytest.fixture(params=["loopback", "in_process"])
async def any_batch(request, sim_config):
    if request.param == "loopback":
        server = request.getfixturevalue("sim_server")
        async with shared_key(server.endpoints) as driver:
            yield driver
    else:
        ctx = SimContext(sim_config)
        app = build_app(context=ctx)
        async with shared_key(endpoints_document("http://sim.test", ctx), transport=httpx.ASGITransport(app=app)) \
                as driver:
            yield driver


async def set_faults(server, **settings) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.put(server.endpoints["admin"] + "/faults", json=settings)
        assert answer.status_code == 200, answer.text


def header(pairs, name: str) -> str | None:
    return next((value for key, value in pairs if key.lower() == name), None)


def api_entries(driver: BatchDriver) -> list:
    return [e for e in driver.http.log.entries() if "/oauth2/" not in e.url]


# -- listing ------------------------------------------------------------------------


async def test_list_reads_every_page_each_with_its_own_client_request_id(any_batch):
    started = time.time()
    images = [image async for image in any_batch.list_images()]
    assert len(images) == CATALOG + SEEDED
    assert len({image.id for image in images}) == len(images)
    pages = api_entries(any_batch)
    assert len(pages) == 3  # maxresults=1000, the largest page
    assert all(dict(parse_qsl(httpx.URL(e.url).query.decode()))["maxresults"] == "1000" for e in pages)
    ids = [e.client_request_id for e in pages]
    assert len(set(ids)) == 3 and all(uuid.UUID(i) for i in ids)
    for entry in pages:
        assert header(entry.request_headers, "client-request-id") == entry.client_request_id
        assert header(entry.request_headers, "return-client-request-id") == "true"
        assert header(entry.response_headers, "client-request-id") == entry.client_request_id  # echoed
        assert entry.request_id  # the service's request-id
        sent = parsedate_to_datetime(header(entry.request_headers, "ocp-date")).timestamp()
        assert started - 2 <= sent <= time.time() + 2
        assert header(entry.request_headers, "authorization") == "SharedKey demoaccount:***"
    first = images[0]
    assert first.id == "batch.node.centos 7|OpenLogic:CentOS:7.2:latest"
    assert (first.provider, first.name, first.status, first.os) == ("batch", "OpenLogic:CentOS:7.2:latest",
                                                                    "verified", "linux")
    assert first.extras == {"nodeAgentSKUId": "batch.node.centos 7", "publisher": "OpenLogic", "offer": "CentOS",
                            "sku": "7.2", "osType": "linux", "verificationType": "verified",
                            "batchSupportEndOfLife": ""}
    assert images[1].extras["batchSupportEndOfLife"] == "2019-11-01T00:00:00.0Z"
    assert isinstance(first.raw, dict) and first.raw["capabilities"] == ["DockerCompatible",
                                                                          "NvidiaTeslaDriverInstalled"]


async def test_each_page_gets_its_own_client_request_id_from_the_cores_paging(batch, monkeypatch):
    made: list[str] = []
    original = HttpCore.follow_pages

    def recording_follow_pages(self, *args, headers_for, **kwargs):
        def headers() -> dict[str, str]:
            page_headers = headers_for()
            made.append(page_headers["client-request-id"])
            return page_headers

        return original(self, *args, headers_for=headers, **kwargs)

    monkeypatch.setattr(HttpCore, "follow_pages", recording_follow_pages)
    images = [image async for image in batch.list_images(maxresults=500)]
    assert len(images) == CATALOG + SEEDED
    pages = api_entries(batch)
    assert len(pages) == 6
    assert made == [entry.client_request_id for entry in pages]  # what follow_pages asked for is what was sent
    assert len(set(made)) == 6 and all(uuid.UUID(i) for i in made)
    assert all(header(e.response_headers, "client-request-id") == e.client_request_id for e in pages)


async def test_the_first_page_goes_with_its_requests_own_headers(batch, monkeypatch):
    built: list[ListSupportedImages] = []
    original = type(batch).list_request

    def recording_list_request(self, **kwargs):
        built.append(original(self, **kwargs))
        return built[-1]

    monkeypatch.setattr(type(batch), "list_request", recording_list_request)
    images = [image async for image in batch.list_images(maxresults=500)]
    assert len(images) == CATALOG + SEEDED
    first_page, *later = api_entries(batch)
    assert first_page.client_request_id == str(built[0].options.client_request_id)  # as its preview showed
    assert first_page.client_request_id not in {entry.client_request_id for entry in later}


async def test_next_links_are_followed_exactly_as_the_service_sent_them(batch, sim_server):
    images = [image async for image in batch.list_images(maxresults=100)]
    assert len(images) == CATALOG + SEEDED
    pages = api_entries(batch)
    assert len(pages) == 26
    # The service's own next links, read with a plain client, are the URLs the driver asked for.
    links = []
    async with httpx.AsyncClient() as client:
        url = sim_server.endpoints["batch"] + "/supportedimages"
        params = {"api-version": API_VERSION, "maxresults": "100"}
        auth = {"Authorization": "Bearer " + sim_server.endpoints["tokens"]["batch"]}
        for _ in range(3):
            body = (await client.get(url, params=params, headers=auth)).json()
            url, params = body["odata.nextLink"], None
            links.append(url)
    assert [e.url for e in pages[1:4]] == links


async def test_limit_asks_for_no_more_than_it_needs(batch):
    few = [image async for image in batch.list_images(limit=150)]
    many = [image async for image in batch.list_images(limit=1500)]
    assert len(few) == 150 and len(many) == 1500
    urls = [e.url for e in api_entries(batch)]
    assert len(urls) == 3
    assert "maxresults=150" in urls[0] and "maxresults=1000" in urls[1] and "maxresults=1000" in urls[2]


async def test_filters_as_an_expression_or_as_text_select_the_same_images(batch, sim_server):
    expression = odata.os_type.eq("linux") & (odata.publisher.eq("Canonical") | odata.publisher.eq("Debian"))
    built = [image.id async for image in batch.list_images(filter=expression)]
    text = [image.id async for image in batch.list_images(
        filter="osType eq 'linux' and (imageReference/publisher eq 'Canonical' or imageReference/publisher eq 'Debian')",
        timeout=20)]
    catalog = sim_server.context.states["batch"].images
    expected = [batch_image_id(i) for i in catalog
                if i["osType"] == "linux" and i["imageReference"]["publisher"] in ("Canonical", "Debian")]
    assert built == text == expected and len(expected) == 9
    urls = [e.url for e in api_entries(batch)]
    assert "%24filter=osType+eq+%27linux%27+and+%28imageReference%2Fpublisher+eq+%27Canonical%27" in urls[0]
    assert "timeout=20" in urls[1]


@pytest.mark.parametrize(("kwargs", "field", "rule"), [
    ({"filter": "osType eq linux"}, "$filter", "expected a string literal in single quotes"),
    ({"filter": "osType gt 'linux'"}, "$filter", "expected 'eq' or 'ne', found 'gt'"),
    ({"filter": "   "}, "$filter", "must not be blank"),
    ({"maxresults": 0}, "maxresults", "greater than or equal to 1"),
    ({"maxresults": 1001}, "maxresults", "less than or equal to 1000"),
    ({"timeout": 0}, "timeout", "greater than or equal to 1"),
    ({"maxresults": "10"}, "maxresults", "valid integer"),
])
async def test_bad_list_options_are_refused_before_sending(batch, kwargs, field, rule):
    with pytest.raises(ValidationError, match=rule) as caught:
        [image async for image in batch.list_images(**kwargs)]
    assert caught.value.errors()[0]["loc"][0] == field
    assert batch.http.log.entries() == []


async def test_unknown_filters_are_refused(batch):
    with pytest.raises(ValueError, match="^publisher: unknown filter"):
        [image async for image in batch.list_images(publisher="Canonical")]


# -- one image -------------------------------------------------------------------------


async def test_get_image_by_id_reads_one_filtered_page(any_batch):
    image = await any_batch.get_image("batch.node.ubuntu 22.04|Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest")
    assert isinstance(image.raw, ImageInformation)
    assert image.raw.image_reference.sku == "22_04-lts" and image.raw.os_type.value == "linux"
    assert image.extras["nodeAgentSKUId"] == "batch.node.ubuntu 22.04"
    [entry] = api_entries(any_batch)
    query = dict(parse_qsl(httpx.URL(entry.url).query.decode()))
    assert query["$filter"] == ("nodeAgentSKUId eq 'batch.node.ubuntu 22.04' and imageReference/publisher eq "
                                "'Canonical' and imageReference/offer eq '0001-com-ubuntu-server-jammy' and "
                                "imageReference/sku eq '22_04-lts'")
    # the version may be left out (latest), and every listed id reads back
    same = await any_batch.get_image("batch.node.ubuntu 22.04|Canonical:0001-com-ubuntu-server-jammy:22_04-lts")
    assert same.id == image.id
    listed = [i async for i in any_batch.list_images(limit=5)]
    for summary in listed:
        assert (await any_batch.get_image(summary.id)).raw == ImageInformation.model_validate(summary.raw)


async def test_get_image_errors(batch):
    with pytest.raises(ImageNotFound, match="no supported image 'batch.node.el 9|contoso:x:y:latest'"):
        await batch.get_image("batch.node.el 9|contoso:x:y:latest")
    for bad in ("Canonical:UbuntuServer:18.04-LTS", "agent|only:two", "|a:b:c"):
        with pytest.raises(ValueError, match="^image_id: "):
            await batch.get_image(bad)


def test_image_ids_round_trip():
    gallery = {"nodeAgentSKUId": "batch.node.ubuntu 22.04", "imageReference": {
        "virtualMachineImageId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i"},
        "osType": "linux", "verificationType": "unverified"}
    key = batch_image_id(gallery)
    assert key == "batch.node.ubuntu 22.04|/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i"
    assert parse_image_id(key) == ("batch.node.ubuntu 22.04", gallery["imageReference"])
    assert image_summary(gallery).id == key
    assert account_name_of("https://demoaccount.westus.batch.azure.com") == "demoaccount"
    assert account_name_of("http://127.0.0.1:8765/batch") == ""


# -- errors, as BatchError ---------------------------------------------------------------


async def test_an_unsupported_api_version_is_a_batch_error_with_its_values(sim_server):
    async with shared_key(sim_server.endpoints, api_version="2020-01-01.11.0") as driver:
        with pytest.raises(ApiError) as caught:
            [image async for image in driver.list_images()]
    error = caught.value
    assert (error.provider, error.status, error.code) == ("batch", 400, "UnsupportedRequestVersion")
    assert error.message.startswith("The specified request version is not supported.")
    assert {"key": "QueryParameterName", "value": "api-version"} in error.details
    assert error.request_id


async def test_a_wrong_account_key_is_403_and_neither_key_nor_signature_leaks(sim_server):
    async with shared_key(sim_server.endpoints, key=WRONG_KEY) as driver:
        with pytest.raises(AuthError) as caught:
            [image async for image in driver.list_images()]
        signatures = driver.auth.secrets()[1:]
    error = caught.value
    assert (error.status, error.code) == (403, "AuthenticationFailed")
    assert "The MAC signature found in the HTTP request '***' is not the same as any computed signature" in \
        error.details_text()
    log = json.dumps([e.as_dict() for e in driver.http.log.entries()])
    assert signatures
    for text in (str(error), error.raw_text, error.details_text(), log):
        assert WRONG_KEY not in text
        assert not any(signature in text for signature in signatures)


async def test_an_invalid_bearer_token_is_401(sim_server):
    from workbench.providers.azure_auth import static_bearer

    async with BatchDriver.connect(account_url=sim_server.endpoints["batch"],
                                   auth=static_bearer("canary-batch-token-42")) as driver:
        with pytest.raises(AuthError) as caught:
            await driver.get_image("batch.node.centos 7|OpenLogic:CentOS:7.2:latest")
    assert (caught.value.status, caught.value.code) == (401, "AuthenticationFailed")
    assert "canary-batch-token-42" not in json.dumps([e.as_dict() for e in driver.http.log.entries()])


@pytest.mark.parametrize(("kind", "status", "code"), [("throttle", 429, "TooManyRequests"),
                                                      ("unavailable", 503, "ServerBusy")])
async def test_throttling_is_retried_after_retry_after_with_a_fresh_signature(sim_server, kind, status, code):
    now = [time.time()]

    def on_wait() -> None:
        now[0] += 30  # the retry is signed at its own time
        sim_server.context.faults.update({"rate": 0.0})

    waits = Waits(on_wait)
    account = sim_server.endpoints["batch_account"]
    auth = BatchSharedKey(account["name"], account["key"], clock=lambda: now[0])
    async with BatchDriver.connect(account_url=sim_server.endpoints["batch"], account_name=account["name"], auth=auth,
                                   retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await set_faults(sim_server, rate=1.0, kinds=[kind], retry_after=1)
        images = [image async for image in driver.list_images(limit=10)]
    assert len(images) == 10
    first, second = api_entries(driver)
    assert (first.status, second.status) == (status, 200)
    assert (first.attempt, second.attempt) == (1, 2)
    assert len(waits.waits) == 1 and waits.waits[0] >= 1.0
    # one request, retried: the same client-request-id, a new ocp-date
    assert first.client_request_id == second.client_request_id
    assert header(first.request_headers, "ocp-date") != header(second.request_headers, "ocp-date")


async def test_retries_give_up_with_the_batch_error(sim_server):
    waits = Waits()
    async with shared_key(sim_server.endpoints, retry=RetryPolicy(max_attempts=3, sleep=waits)) as driver:
        await set_faults(sim_server, rate=1.0, kinds=["unavailable"], retry_after=2)
        with pytest.raises(ApiError) as caught:
            [image async for image in driver.list_images()]
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (503, "ServerBusy", 2)
    assert [e.status for e in api_entries(driver)] == [503, 503, 503]
    assert len(waits.waits) == 2 and all(wait >= 2.0 for wait in waits.waits)


# -- paging guards -------------------------------------------------------------------------


def rewrite_next_link(app, rewrite):
    """The simulator, with each page's odata.nextLink replaced by ``rewrite(link, request_url)``."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = json.loads(b"".join(chunks))
                    if body.get("odata.nextLink"):
                        url = f"http://sim.test{scope['path']}?{scope['query_string'].decode()}"
                        body["odata.nextLink"] = rewrite(body["odata.nextLink"], url)
                    data = json.dumps(body).encode()
                    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                    await send({**start, "headers": headers + [(b"content-length", str(len(data)).encode())]})
                    await send({"type": "http.response.body", "body": data})

        await app(scope, receive, capture)

    return wrapped


async def test_a_next_link_to_another_host_is_refused(sim_config):
    ctx = SimContext(sim_config)
    app = rewrite_next_link(build_app(context=ctx), lambda link, url: link.replace("http://sim.test", "http://evil.test"))
    async with shared_key(endpoints_document("http://sim.test", ctx), transport=httpx.ASGITransport(app=app)) as driver:
        with pytest.raises(InvalidResponse, match="refusing to follow a link to http://evil.test:80"):
            [image async for image in driver.list_images()]
    assert [httpx.URL(e.url).host for e in api_entries(driver)] == ["sim.test"]


async def test_a_next_link_back_to_the_same_page_is_a_loop(sim_config):
    ctx = SimContext(sim_config)
    app = rewrite_next_link(build_app(context=ctx), lambda link, url: url)
    async with shared_key(endpoints_document("http://sim.test", ctx), transport=httpx.ASGITransport(app=app)) as driver:
        with pytest.raises(InvalidResponse, match="paging loops"):
            [image async for image in driver.list_images()]
    assert len(api_entries(driver)) == 1


# -- Entra -----------------------------------------------------------------------------------------


async def test_entra_bearer_auth_with_the_batch_scope_and_refresh_on_expiry(sim_server):
    async with entra(sim_server.endpoints) as driver:
        assert isinstance(driver.auth, EntraClientCredentials)
        assert driver.auth.scope == "https://batch.core.windows.net/.default"
        first = [image async for image in driver.list_images(limit=5)]
        async with httpx.AsyncClient() as client:
            await client.post(sim_server.endpoints["admin"] + "/tokens/expire")
        again = await asyncio.gather(*(driver.get_image(image.id) for image in first))
    assert [i.id for i in again] == [i.id for i in first]
    assert driver.auth.cache.fetches == 2
    token_posts = [e for e in driver.http.log.entries() if "/oauth2/v2.0/token" in e.url]
    assert len(token_posts) == 2 and "scope=https://batch.core.windows.net/.default" in token_posts[0].request_body
    assert all(header(e.request_headers, "authorization") == "Bearer ***" for e in api_entries(driver))


# -- Shared Key signing ----------------------------------------------------------------------------


def test_the_string_to_sign_follows_the_documented_canonical_form():
    request = httpx.Request(
        "GET",
        "https://acct.westus.batch.azure.com/supportedimages?api-version=2023-11-01.18.0&timeOut=30"
        "&%24filter=osType%20eq%20%27linux%27&b=2&b=1&empty=",
        headers={"ocp-date": "Tue, 02 Jan 2024 03:04:05 GMT", "Date": "ignored", "Content-Type": "application/json",
                 "OCP-Custom": "  spaced  ", "client-request-id": "x"},
    )
    assert string_to_sign(request, "acct") == (
        "GET\n"
        "\n\n\n\n"               # content-encoding, -language, -length, -md5
        "application/json\n"
        "\n"                     # Date: blank because ocp-date is set
        "\n\n\n\n\n"             # if-* and range
        "ocp-custom:spaced\n"
        "ocp-date:Tue, 02 Jan 2024 03:04:05 GMT\n"
        "/acct/supportedimages\n"
        "$filter:osType eq 'linux'\n"
        "api-version:2023-11-01.18.0\n"
        "b:1,2\n"
        "timeout:30"
    )
    # the simulator's verifier (written from the same reference) computes the same string
    headers = {name.lower(): value for name, value in request.headers.items()}
    query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
    assert string_to_sign(request, "acct") == sim_batch.string_to_sign("GET", headers, "/supportedimages", query,
                                                                        "acct")


async def test_the_signature_matches_the_azure_batch_sdk():
    from azure.batch._patch import BatchSharedKeyAuthPolicy
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.rest import HttpRequest

    key = base64.b64encode(b"an account key of sixty-four bytes, as Azure's are, more or less!").decode()
    moment = 1_704_164_645.0
    url = ("https://acct.westus.batch.azure.com/supportedimages?api-version=2023-11-01.18.0&maxresults=10"
           "&%24filter=osType+eq+%27linux%27")
    headers = {"client-request-id": str(uuid.uuid4()), "return-client-request-id": "true"}
    sdk_request = HttpRequest("GET", url, headers={**headers, "ocp-date": formatdate(moment, usegmt=True)})
    BatchSharedKeyAuthPolicy(AzureNamedKeyCredential("acct", key)).on_request(
        PipelineRequest(sdk_request, PipelineContext(None)))
    ours = httpx.Request("GET", url, headers=headers)
    await BatchSharedKey("acct", key, clock=lambda: moment).apply(ours)
    assert ours.headers["ocp-date"] == "Tue, 02 Jan 2024 03:04:05 GMT"
    assert ours.headers["Authorization"] == sdk_request.headers["Authorization"]


def test_shared_key_settings_are_checked():
    with pytest.raises(ValueError, match="^account_key: not a base64 Batch account key"):
        BatchSharedKey("acct", "not base64!")
    with pytest.raises(ValueError, match="^account_name: required"):
        BatchSharedKey(" ", WRONG_KEY)
    with pytest.raises(ValueError, match="^account_name: required for Shared Key"):
        BatchDriver.connect(account_url="http://127.0.0.1:1/batch", account_key=WRONG_KEY)
    with pytest.raises(ValueError, match="give exactly one way to authenticate, got account_key, auth"):
        BatchDriver.connect(account_url="https://a.westus.batch.azure.com", account_key=WRONG_KEY,
                            auth=BatchSharedKey("a", WRONG_KEY))


async def test_bad_settings_are_refused_before_a_client_exists(monkeypatch):
    made: list[HttpCore] = []

    class CountedCore(HttpCore):
        def __init__(self, **kwargs) -> None:
            made.append(self)
            super().__init__(**kwargs)

    monkeypatch.setattr(batch_driver, "HttpCore", CountedCore)
    url = "https://a.westus.batch.azure.com"
    with pytest.raises(ValueError, match="^account_key: not a base64 Batch account key"):
        BatchDriver.connect(account_url=url, account_key="not base64!")
    with pytest.raises(ValueError, match=r"^account_url: must be the account's http\(s\) URL"):
        BatchDriver.connect(account_url="a.westus.batch.azure.com", account_name="a", account_key=WRONG_KEY)
    with pytest.raises(ValueError, match=r"^account_url: must be the account's http\(s\) URL"):
        BatchDriver.connect(account_url="ftp://a.westus.batch.azure.com", auth=BatchSharedKey("a", WRONG_KEY))
    assert made == []
    async with BatchDriver.connect(account_url=url, account_key=WRONG_KEY) as driver:
        assert made == [driver.http]  # the count sees a client when one is made


async def test_timeout_is_an_httpx_timeout_as_given_or_seconds_with_a_short_connect():
    url = "https://a.westus.batch.azure.com"
    given = httpx.Timeout(connect=3.0, read=42.0, write=7.0, pool=1.0)
    async with BatchDriver.connect(account_url=url, account_key=WRONG_KEY, timeout=given) as driver:
        assert driver.http.client.timeout == given
    async with BatchDriver.connect(account_url=url, account_key=WRONG_KEY, timeout=25) as driver:
        assert driver.http.client.timeout == httpx.Timeout(25.0, connect=10.0)
    async with BatchDriver.connect(account_url=url, account_key=WRONG_KEY) as driver:
        assert driver.http.client.timeout == httpx.Timeout(60.0, connect=10.0)


# -- preview, and the API's read-only nature --------------------------------------------------------


async def test_preview_and_curl_of_a_list_request_mask_the_signature(batch, sim_server):
    request = batch.list_request(filter=odata.verification_type.eq("verified"), maxresults=10)
    assert isinstance(request, ListSupportedImages)
    preview = batch.preview(request)
    assert preview.url == (f"{sim_server.endpoints['batch']}/supportedimages?api-version={API_VERSION}"
                           "&%24filter=verificationType+eq+%27verified%27&maxresults=10")
    assert preview.header("authorization") == "SharedKey demoaccount:***"
    assert uuid.UUID(preview.header("client-request-id"))
    assert preview.header("return-client-request-id") == "true"
    assert parsedate_to_datetime(preview.header("ocp-date"))
    curl = batch.curl(request)
    assert "-H 'Authorization: SharedKey demoaccount:***'" in curl
    assert sim_server.endpoints["batch_account"]["key"] not in curl
    assert batch.http.log.entries() == []


async def test_send_refuses_because_the_api_is_read_only(batch):
    with pytest.raises(ReadOnlyApi, match="the supported-images API is read-only"):
        await batch.send(batch.list_request())
    assert batch.http.log.entries() == []
    assert batch.poller().provider == "batch"
