"""Fuzz every simulator endpoint with raw requests: never a 500, every error in
the provider's own documented shape.

Hypothesis draws whole HTTP requests per service: a method, a path (the
service's real routes with their ids replaced by valid ids, random text,
dot segments, encoded slashes, very long or non-ASCII names, or random
segments), a query string (the service's own parameter names and random
ones, with random values), headers (a valid token, a wrong one or none; any
content type and accept) and a body (nothing, random bytes, JSON of random
shape and type, the service's own fields with values of the wrong types, huge
strings, unicode). Each request goes to the simulator in-process; the answer
must not be a 500 and, if it is an error, must parse as that provider's error,
whatever the path (unknown ones, a decoded newline) or the method:

- Kusto: ARM ``ErrorResponse`` ``{"error": {"code", "message", ...}}``
- Batch: ``BatchError`` ``{"code", "message": {"lang", "value"}, "values"?}``
- Glance / IMS: Glance's error (JSON ``{"message", "code": "NNN Title", "title"}``,
  webob's HTML page or plain text, by ``Accept``) or keystonemiddleware's 401
  ``{"error": {"code": 401, "title", "message"}}``
- Keystone: ``{"error": {"code": <status>, "title", "message"}}``
- Yandex Compute / Operation / IAM: ``google.rpc.Status`` ``{"code": <grpc>, "message", "details": [...]}``
- Entra: the OAuth 2.0 error ``{"error", "error_description", "error_codes", "trace_id", ...}``

The cases that once escaped the shape (unparseable and deeply nested JSON, an
unknown Entra path, a method a route does not list, a newline in the path) are
also pinned one by one at the bottom of this module.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workbench.providers.batch.models import API_VERSION as BATCH_API_VERSION
from workbench.sim.app import PREFIXES, build_app
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

from .conftest import scaled

BASE = "http://sim.test"
#: Examples per service: 100 in CI, 2,000 in the nightly-size run.
EXAMPLES = scaled(100, 2_000)
#: The standard methods, and one no route lists (WebDAV's PROPFIND).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND")


# ============================================================================ error shapes
def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def arm_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return "not an ARM ErrorResponse ({'error': {...}})"
    error = body["error"]
    if not isinstance(error.get("code"), str) or not error["code"]:
        return "error.code is not a non-empty string"
    if not isinstance(error.get("message"), str):
        return "error.message is not a string"
    return None


def batch_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict):
        return "not a JSON object"
    if not isinstance(body.get("code"), str) or not body["code"]:
        return "code is not a non-empty string"
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("value"), str) or "lang" not in message:
        return "message is not {'lang', 'value'}"
    if "values" in body and not all(isinstance(v, dict) and {"key", "value"} <= set(v) for v in body["values"]):
        return "values are not {'key', 'value'} pairs"
    if "RequestId:" not in message["value"]:
        return "message.value does not carry RequestId:"
    return None


def keystone_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return "not Keystone's {'error': {...}}"
    error = body["error"]
    if error.get("code") != response.status_code:
        return f"error.code {error.get('code')!r} is not the HTTP status {response.status_code}"
    if not isinstance(error.get("message"), str) or not isinstance(error.get("title"), str):
        return "error.message / error.title are not strings"
    return None


_STATUS_LINE = re.compile(r"^(\d{3}) [A-Za-z][A-Za-z -]*$")


def glance_error(response: httpx.Response) -> str | None:
    status = response.status_code
    if status == 401:
        return keystone_error(response)  # keystonemiddleware answers before Glance
    ctype = response.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = _json(response)
        if not isinstance(body, dict) or not {"message", "code", "title"} <= set(body):
            return "JSON error without Glance's message/code/title"
        if not str(body["code"]).startswith(f"{status} ") or not isinstance(body["message"], str):
            return f"code {body['code']!r} is not '{status} <title>'"
        return None
    text = response.text
    if ctype.startswith("text/html"):
        if f"<title>{status} " not in text or f"<h1>{status} " not in text:
            return "HTML error page without webob's '<title>NNN Title</title>'"
        return None
    if ctype.startswith("text/plain"):
        first = text.split("\n", 1)[0]
        if not _STATUS_LINE.match(first) or not first.startswith(str(status)):
            return f"plain-text error whose first line {first!r} is not 'NNN Title'"
        return None
    return f"unexpected content type {ctype!r}"


def yandex_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict):
        return "not a JSON object"
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not 1 <= code <= 16:
        return f"code {code!r} is not a google.rpc.Code number"
    if not isinstance(body.get("message"), str):
        return "message is not a string"
    details = body.get("details")
    if not isinstance(details, list) or not all(isinstance(d, dict) and "@type" in d for d in details):
        return "details are not a list of typed (Any) messages"
    return None


def entra_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict):
        return "not a JSON object"
    if not isinstance(body.get("error"), str) or not isinstance(body.get("error_description"), str):
        return "not an OAuth 2.0 error ({'error': str, 'error_description': str})"
    if not isinstance(body.get("error_codes"), list) or not body.get("trace_id") or not body.get("correlation_id"):
        return "error_codes / trace_id / correlation_id missing"
    return None


# ============================================================================ the services
@dataclass
class Service:
    name: str
    prefix: str
    #: Path templates after the prefix; ``{id}``, ``{name}`` etc. are filled per request.
    routes: list[str]
    shape: Callable[[httpx.Response], str | None]
    #: Query parameter names the service reads.
    params: list[str] = field(default_factory=list)
    #: Body fields the service reads (filled with values of random types).
    body_fields: list[str] = field(default_factory=list)
    #: "bearer", "x-auth-token" or "" (how a valid token is sent)
    auth: str = "bearer"
    token: str = ""
    ids: list[str] = field(default_factory=list)
    #: Query parameters most requests carry (so fuzzing gets past the api-version check).
    usual_query: list[tuple[str, str]] = field(default_factory=list)


def _services(ctx: SimContext) -> dict[str, Service]:
    demo = ctx.demo
    lifetime = 24 * 3600
    arm = ctx.tokens.issue("arm", demo.entra_client_id, ttl=lifetime).value
    batch = ctx.tokens.issue("batch", demo.entra_client_id, ttl=lifetime).value
    keystone = ctx.tokens.issue("keystone", demo.keystone_user, ttl=lifetime,
                                project_id=demo.keystone_project_id).value
    yandex = ctx.tokens.issue("yandex", demo.yandex_service_account_id, ttl=lifetime).value
    cluster = (f"/subscriptions/{demo.kusto_subscription_id}/resourceGroups/{demo.kusto_resource_group}"
               f"/providers/Microsoft.Kusto/clusters/{demo.kusto_cluster}")
    glance_ids = list(ctx.states["glance"].images)[:20]
    ims_ids = list(ctx.states["ims"].images)[:20]
    yandex_ids = list(ctx.states["yandex"].images)[:20]
    kusto_names = ["customImage1", "customImage2", "noSuchImage"]
    glance_routes = ["/", "/versions", "/v2/images", "/v2/images/{id}", "/v2/images/{id}/file",
                     "/v2/images/{id}/tags/{name}", "/v2/schemas/image", "/v2/schemas/images", "/v2/{name}",
                     "/v1/images", "/v3"]
    glance_params = ["limit", "marker", "sort_key", "sort_dir", "sort", "name", "status", "visibility",
                     "member_status", "owner", "tag", "os_hidden", "size_min", "size_max", "created_at",
                     "updated_at", "protected", "disk_format", "container_format"]
    glance_fields = ["name", "id", "visibility", "tags", "min_disk", "min_ram", "disk_format",
                     "container_format", "protected", "os_hidden", "status", "op", "path", "value", "custom_x"]
    return {
        "kusto": Service(
            "kusto", PREFIXES["kusto"],
            [cluster + "/sandboxCustomImages", cluster + "/sandboxCustomImages/{name}",
             cluster + "/sandboxCustomImagesCheckNameAvailability", cluster + "/{name}",
             f"/subscriptions/{demo.kusto_subscription_id}/providers/Microsoft.Kusto/locations/"
             f"{demo.kusto_location}/operationResults/{{id}}",
             "/subscriptions/{id}/resourceGroups/{name}/providers/Microsoft.Kusto/clusters/{name}/sandboxCustomImages",
             "/{name}"],
            arm_error, ["api-version", "$skiptoken", "operationResultResponseType", "$filter"],
            ["properties", "name", "type", "language", "languageVersion", "baseImageName",
             "requirementsFileContent", "location"],
            token=arm, ids=kusto_names, usual_query=[("api-version", "2024-04-13")],
        ),
        "batch": Service(
            "batch", PREFIXES["batch"], ["/supportedimages", "/{name}", "/pools", "/supportedimages/{id}"],
            batch_error, ["api-version", "$filter", "maxresults", "timeout", "$skiptoken"],
            token=batch, ids=["0", "x"], usual_query=[("api-version", BATCH_API_VERSION)],
        ),
        "glance": Service("glance", PREFIXES["glance"], glance_routes, glance_error, glance_params, glance_fields,
                          auth="x-auth-token", token=keystone, ids=glance_ids),
        "ims": Service("ims", PREFIXES["ims"], glance_routes, glance_error, glance_params,
                       glance_fields + ["__description", "__os_version"], auth="x-auth-token", token=keystone,
                       ids=ims_ids),
        "keystone": Service(
            "keystone", PREFIXES["keystone"], ["/", "/auth/tokens", "/auth/{name}", "/projects", "/{name}"],
            keystone_error, ["nocatalog", "allow_expired"], ["auth", "identity", "methods", "password", "user",
                                                             "scope", "project", "domain", "application_credential"],
            auth="x-auth-token", token=keystone, ids=[],
        ),
        "yandex_compute": Service(
            "yandex_compute", PREFIXES["yandex_compute"],
            ["/compute/v1/images", "/compute/v1/images/{id}", "/compute/v1/images/{id}/operations",
             "/compute/v1/images:latestByFamily", "/compute/v1/{name}", "/compute/v2/images"],
            yandex_error, ["folderId", "pageSize", "pageToken", "filter", "orderBy", "family", "updateMask"],
            ["folderId", "name", "description", "labels", "family", "minDiskSize", "productIds", "imageId",
             "diskId", "snapshotId", "uri", "os", "pooled", "hardwareGeneration", "updateMask"],
            token=yandex, ids=yandex_ids,
        ),
        "yandex_operation": Service(
            "yandex_operation", PREFIXES["yandex_operation"], ["/operations/{id}", "/operations/{id}:cancel",
                                                               "/operations", "/{name}"],
            yandex_error, [], [], token=yandex, ids=yandex_ids,
        ),
        "yandex_iam": Service(
            "yandex_iam", PREFIXES["yandex_iam"], ["/iam/v1/tokens", "/iam/v1/{name}", "/{name}"],
            yandex_error, [], ["yandexPassportOauthToken", "jwt"], auth="", ids=[],
        ),
        "entra": Service(
            "entra", PREFIXES["entra"],
            [f"/{demo.entra_tenant_id}/oauth2/v2.0/token", f"/{demo.entra_tenant_id}/oauth2/token",
             "/{name}/oauth2/v2.0/token", "/{name}/oauth2/token"],
            entra_error, [], ["grant_type", "client_id", "client_secret", "scope", "resource", "client_assertion",
                              "client_assertion_type"], auth="", ids=[],
        ),
    }


# ============================================================================ strategies
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_SEGMENT_TRICKS = ["..", ".", "%2F", "%2e%2e", "a%00b", "%ff", "~", "*", "::", "%", "x" * 5000, "é名前", " "]


def _segment(ids: list[str]) -> st.SearchStrategy[str]:
    """One path segment, already percent-encoded where it has to be."""
    options = [st.sampled_from(_SEGMENT_TRICKS), _TEXT.map(lambda t: quote(t, safe=""))]
    if ids:
        options.insert(0, st.sampled_from(ids))
    return st.one_of(*options)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
        st.floats(allow_nan=False, allow_infinity=False), _TEXT,
        st.sampled_from(["", "x" * 70_000, "\u202e\u0000", "../../etc", "2024-04-13", "Python", "3.10.8"]),
    )
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)


@st.composite
def requests(draw: st.DrawFn, service: Service) -> dict[str, Any]:
    method = draw(st.sampled_from(METHODS))
    if draw(st.integers(0, 9)) == 0:
        path = "/" + "/".join(draw(st.lists(_segment(service.ids), max_size=6)))
    else:
        path = draw(st.sampled_from(service.routes))
        for hole in ("{id}", "{name}"):
            while hole in path:
                path = path.replace(hole, draw(_segment(service.ids)), 1)
    names = st.sampled_from(service.params) if service.params else _TEXT
    query_values = st.one_of(_TEXT, st.sampled_from(["", "-1", "0", "1", "1001", "99999999999999999999", "true",
                                                     "2024-04-13", "name eq 'x'", "osType eq 'linux'", "asc",
                                                     "name:desc", "x" * 10_000]))
    query = draw(st.lists(st.tuples(st.one_of(names, _TEXT), query_values), max_size=5))
    if service.usual_query and draw(st.integers(0, 4)):
        query = service.usual_query + query
    headers: dict[str, str] = {}
    token = draw(st.sampled_from(["valid", "valid", "garbage", "none"]))
    if token != "none" and service.auth:
        value = service.token if token == "valid" else draw(st.sampled_from(["x", "Bearer", "Bearer \u00e9", "a" * 9000]))
        if service.auth == "bearer":
            headers["Authorization"] = value if token != "valid" else f"Bearer {value}"
        else:
            headers["X-Auth-Token"] = value
    headers["Content-Type"] = draw(st.sampled_from([
        "application/json", "application/openstack-images-v2.1-json-patch",
        "application/openstack-images-v2.0-json-patch", "application/octet-stream",
        "application/x-www-form-urlencoded", "text/plain", "application/json; charset=latin-1", "multipart/form-data",
        "\u00e9/\u00e9",
    ]))
    headers["Accept"] = draw(st.sampled_from(["application/json", "text/html", "text/plain", "*/*", "", "image/png"]))
    kind = draw(st.sampled_from(["none", "bytes", "json", "fields", "form", "huge"]))
    if kind == "none":
        body = b""
    elif kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind == "json":
        body = json.dumps(draw(_json_values())).encode()
    elif kind == "fields":
        fields = st.sampled_from(service.body_fields) if service.body_fields else _TEXT
        value = draw(st.one_of(st.dictionaries(fields, _json_values(), max_size=6),
                               st.lists(st.dictionaries(fields, _json_values(), max_size=4), max_size=3)))
        body = json.dumps(value).encode()
    elif kind == "form":
        fields = st.sampled_from(service.body_fields) if service.body_fields else _TEXT
        pairs = draw(st.lists(st.tuples(fields, query_values), max_size=6))
        body = httpx.QueryParams(pairs).__str__().encode()
    else:
        body = json.dumps({draw(st.sampled_from(service.body_fields or ["x"])): "\u00e9" * 200_000}).encode()
    return {"method": method, "path": path, "query": query, "headers": headers, "body": body}


# ============================================================================ the runner
class Fuzzer:
    """The simulator in-process (faults off) and a loop to drive it from sync hypothesis tests."""

    def __init__(self) -> None:
        self.context = SimContext(SimConfig(operation_polls=1, operation_retry_after=0, random_seed=1))
        self.app = build_app(context=self.context)
        self.services = _services(self.context)
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30)
        self.statuses: Counter[tuple[str, int]] = Counter()

    def url(self, service: Service, request: dict[str, Any]) -> httpx.URL:
        return httpx.URL(BASE + service.prefix + request["path"])

    def send(self, service: Service, request: dict[str, Any]) -> httpx.Response:
        url = self.url(service, request)
        if request["query"]:
            url = url.copy_with(params=httpx.QueryParams(request["query"]))
        # Raw bytes: non-ASCII header values go out as UTF-8 octets (obs-text), as a hostile client may send.
        headers = [(name.encode(), value.encode("utf-8")) for name, value in request["headers"].items()]
        built = self.client.build_request(request["method"], url, headers=headers, content=request["body"])
        return self.loop.run_until_complete(self.client.send(built))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def fuzzer(report):
    fuzzer = Fuzzer()
    yield fuzzer
    by_service: dict[str, Counter[int]] = {}
    for (name, status), count in fuzzer.statuses.items():
        by_service.setdefault(name, Counter())[status] += count
    for name, statuses in sorted(by_service.items()):
        total = sum(statuses.values())
        spread = ", ".join(f"{s}x{n}" for s, n in sorted(statuses.items()))
        report.add("simulator fuzz (generated requests per service; status x count)", f"{name}: {total} requests: {spread}")
    fuzzer.close()


def check(fuzzer: Fuzzer, service: Service, request: dict[str, Any], *, fuzzed: bool = False) -> httpx.Response:
    """Send ``request``; assert no 500 and the provider's error shape. ``fuzzed``: a generated
    request (its status is counted for the report)."""
    response = fuzzer.send(service, request)
    if fuzzed:
        fuzzer.statuses[(service.name, response.status_code)] += 1
    described = f"{request['method']} {service.prefix}{request['path'][:200]} -> {response.status_code}: " \
                f"{response.text[:300]!r}"
    assert response.status_code != 500, f"a 500: {described}"
    assert response.status_code < 500 or response.status_code in (501, 503), f"a server error: {described}"
    if response.status_code >= 400 and request["method"] != "HEAD":
        problem = service.shape(response)
        assert problem is None, f"{service.name} error not in its documented shape ({problem}): {described}"
    return response


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", ["kusto", "batch", "glance", "ims", "keystone", "yandex_compute",
                                  "yandex_operation", "yandex_iam", "entra"])
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_requests_never_get_a_500_and_errors_keep_the_provider_shape(fuzzer, name, data):
    service = fuzzer.services[name]
    request = data.draw(requests(service))
    # httpx removes dot segments as RFC 3986 says: "/kusto/.." is "/", outside this service.
    assume(fuzzer.url(service, request).path.startswith(service.prefix))
    check(fuzzer, service, request, fuzzed=True)


# ============================================================================ pinned cases
JSON_POSTS = {
    "kusto": ("PUT", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Kusto/clusters/z/sandboxCustomImages/i"),
    "glance": ("POST", "/v2/images"),
    "keystone": ("POST", "/auth/tokens"),
    "yandex_compute": ("POST", "/compute/v1/images"),
    "yandex_iam": ("POST", "/iam/v1/tokens"),
}


def _post(fuzzer: Fuzzer, name: str, body: bytes) -> httpx.Response:
    service = fuzzer.services[name]
    method, path = JSON_POSTS[name]
    return check(fuzzer, service, {"method": method, "path": path, "query": [("api-version", "2024-04-13")],
                                   "headers": {"Content-Type": "application/json",
                                               "Authorization": f"Bearer {service.token}",
                                               "X-Auth-Token": service.token},
                                   "body": body})


@pytest.mark.parametrize("name", sorted(JSON_POSTS))
def test_unparseable_json_bodies_get_the_service_error(fuzzer, name):
    for body in (b"{", b"\xff\xfe\x00", b"[1,2", b'{"a": NaN}', b"1e999999", b'"\\ud800"', b"{}" * 1000):
        response = _post(fuzzer, name, body)
        assert 400 <= response.status_code < 500, (body[:20], response.text[:200])


DEEP_JSON = b"[" * 5_000 + b"]" * 5_000  # 10 KB; Python's json gives up (RecursionError) near depth 1,000


@pytest.mark.parametrize("name", [
    pytest.param("kusto"),
    pytest.param("glance"),
    pytest.param("keystone"),
    pytest.param("yandex_compute"),
    pytest.param("yandex_iam"),
])
def test_deeply_nested_json_is_a_client_error_not_a_crash(fuzzer, name):
    response = _post(fuzzer, name, DEEP_JSON)
    assert 400 <= response.status_code < 500


def test_entra_unknown_path_answers_an_oauth_error(fuzzer):
    service = fuzzer.services["entra"]
    check(fuzzer, service, {"method": "POST", "path": "/tenant/oauth2/v2.0/authorize2", "query": [],
                            "headers": {}, "body": b""})


UNLISTED_METHOD_CASES = [
    ("kusto", "PROPFIND", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Kusto/clusters/z/sandboxCustomImages"),
    ("glance", "PROPFIND", "/v2/images"),
    ("ims", "PROPFIND", "/v2/images"),
    ("keystone", "PROPFIND", "/auth/tokens"),
    ("keystone", "OPTIONS", "/auth/tokens"),
    ("entra", "PROPFIND", "/tenant/oauth2/v2.0/token"),
    ("entra", "OPTIONS", "/tenant/oauth2/v2.0/token"),
]


@pytest.mark.parametrize("name, method, path", UNLISTED_METHOD_CASES)
def test_an_unlisted_http_method_gets_the_service_error_shape(fuzzer, name, method, path):
    service = fuzzer.services[name]
    check(fuzzer, service, {"method": method, "path": path, "query": [("api-version", "2024-04-13")],
                            "headers": {"Authorization": f"Bearer {service.token}", "X-Auth-Token": service.token},
                            "body": b""})


@pytest.mark.parametrize("name", ["kusto", "batch", "glance", "ims", "keystone", "yandex_compute",
                                  "yandex_operation", "yandex_iam", "entra"])
def test_a_newline_in_the_path_gets_the_service_error_shape(fuzzer, name):
    service = fuzzer.services[name]
    path = service.routes[0].rsplit("/", 1)[0] + "/%0Aimage"
    check(fuzzer, service, {"method": "GET", "path": path, "query": service.usual_query,
                            "headers": {"Authorization": f"Bearer {service.token}", "X-Auth-Token": service.token},
                            "body": b""})


@pytest.mark.parametrize("name, path", [
    ("batch", "/supportedimages"), ("yandex_compute", "/compute/v1/images"), ("yandex_iam", "/iam/v1/tokens"),
])
def test_unknown_methods_on_services_with_their_own_405(fuzzer, name, path):
    service = fuzzer.services[name]
    response = check(fuzzer, service, {"method": "PROPFIND", "path": path, "query": [],
                                       "headers": {"Authorization": f"Bearer {service.token}"}, "body": b""})
    assert response.status_code in (400, 404, 405)
