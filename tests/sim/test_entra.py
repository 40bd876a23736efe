"""The simulated Entra ID token endpoint (client credentials), in-process and over loopback."""

from __future__ import annotations

import base64
import re
import time
import uuid

import httpx
import pytest

from workbench.sim.demo import DEMO

TENANT, CLIENT_ID, SECRET = DEMO.entra_tenant_id, DEMO.entra_client_id, DEMO.entra_client_secret
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
ERROR_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}
ARM_SCOPE = "https://management.azure.com/.default"
BATCH_SCOPE = "https://batch.core.windows.net/.default"


def v2_url(tenant: str = TENANT, base: str = "http://sim.test") -> str:
    return f"{base}/entra/{tenant}/oauth2/v2.0/token"


def v1_url(tenant: str = TENANT, base: str = "http://sim.test") -> str:
    return f"{base}/entra/{tenant}/oauth2/token"


def form(**overrides: str | None) -> dict[str, str]:
    data = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET, "scope": ARM_SCOPE}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def assert_entra_error(response: httpx.Response, status: int, error: str, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]
    assert TIMESTAMP.match(body["timestamp"])
    assert UUID.match(body["trace_id"]) and UUID.match(body["correlation_id"])
    assert body["trace_id"] == response.headers["x-ms-request-id"]
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    assert "no-store" in response.headers["Cache-Control"]
    return body


# -- successful grants -------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "audience"),
    [
        (ARM_SCOPE, "arm"),
        ("https://management.azure.com//.default", "arm"),
        ("https://management.core.windows.net/.default", "arm"),
        (BATCH_SCOPE, "batch"),
        (f"{ARM_SCOPE} offline_access openid", "arm"),
    ],
)
async def test_v2_client_credentials_issue_a_token_for_the_scope(sim_client, sim_context, scope, audience):
    response = await sim_client.post(v2_url(), data=form(scope=scope))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == sim_context.config.token_ttl
    assert "no-store" in response.headers["Cache-Control"]
    token = body["access_token"]
    issued = sim_context.tokens.check(audience, token)
    assert issued is not None and issued.subject == CLIENT_ID
    other = "batch" if audience == "arm" else "arm"
    assert sim_context.tokens.check(other, token) is None


async def test_each_grant_gets_a_new_token(sim_client):
    first = (await sim_client.post(v2_url(), data=form())).json()["access_token"]
    second = (await sim_client.post(v2_url(), data=form())).json()["access_token"]
    assert first != second


@pytest.mark.parametrize(
    ("resource", "audience"),
    [("https://management.azure.com/", "arm"), ("https://management.core.windows.net/", "arm"), ("https://batch.core.windows.net/", "batch")],
)
async def test_v1_client_credentials_with_resource(sim_client, sim_context, resource, audience):
    before = int(time.time())
    response = await sim_client.post(v1_url(), data=form(scope=None, resource=resource))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource", "access_token"}
    # The v1 endpoint writes numbers as strings.
    assert body["expires_in"] == str(sim_context.config.token_ttl)
    assert before <= int(body["not_before"]) <= int(body["expires_on"]) - sim_context.config.token_ttl + 1
    assert body["resource"] == resource
    assert sim_context.tokens.check(audience, body["access_token"]) is not None


async def test_client_secret_basic_is_accepted(sim_client, sim_context):
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    response = await sim_client.post(
        v2_url(), data={"grant_type": "client_credentials", "scope": ARM_SCOPE}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    assert sim_context.tokens.check("arm", response.json()["access_token"]) is not None


async def test_tenant_and_client_ids_are_case_insensitive(sim_client):
    response = await sim_client.post(v2_url(TENANT.upper()), data=form(client_id=CLIENT_ID.upper()))
    assert response.status_code == 200


async def test_the_token_ttl_follows_the_config(sim_client, sim_context):
    sim_context.config.token_ttl = 120
    body = (await sim_client.post(v2_url(), data=form())).json()
    assert body["expires_in"] == 120
    assert sim_context.tokens.check("arm", body["access_token"]).expires_at <= time.time() + 121


# -- errors in Entra's shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data", "status", "error", "code", "fragment"),
    [
        (v2_url(), form(client_secret="wrong"), 401, "invalid_client", 7000215, "Invalid client secret provided"),
        (v2_url(), form(client_secret=None), 401, "invalid_client", 7000218, "'client_assertion' or 'client_secret'"),
        (v2_url(), form(client_id=str(uuid.UUID(int=5))), 400, "unauthorized_client", 700016, "was not found in the directory"),
        (v2_url(), form(client_id=None), 400, "invalid_request", 900144, "'client_id'"),
        (v2_url(str(uuid.UUID(int=9))), form(), 400, "invalid_request", 90002, f"Tenant '{uuid.UUID(int=9)}' not found"),
        (v2_url("contoso.onmicrosoft.com"), form(), 400, "invalid_request", 90002, "Tenant 'contoso.onmicrosoft.com' not found"),
        (v2_url(), form(grant_type="password"), 400, "unsupported_grant_type", 70003, "unsupported grant type 'password'"),
        (v2_url(), form(grant_type="bogus"), 400, "unsupported_grant_type", 70003, "'bogus'"),
        (v2_url(), form(grant_type=None), 400, "invalid_request", 900144, "'grant_type'"),
        (v2_url(), form(scope=None), 400, "invalid_request", 900144, "'scope'"),
        (v2_url(), form(scope="https://management.azure.com/user_impersonation"), 400, "invalid_scope", 1002012, "/.default"),
        (v2_url(), form(scope=f"{ARM_SCOPE} {BATCH_SCOPE}"), 400, "invalid_scope", 28000, "more than one resource"),
        (v2_url(), form(scope="https://vault.azure.net/.default"), 400, "invalid_resource", 500011, "https://vault.azure.net"),
        (v1_url(), form(scope=None), 400, "invalid_request", 900144, "'resource'"),
        (v1_url(), form(scope=None, resource="https://graph.microsoft.com/"), 400, "invalid_resource", 500011, "graph.microsoft.com"),
    ],
)
async def test_token_errors(sim_client, url, data, status, error, code, fragment):
    body = assert_entra_error(await sim_client.post(url, data=data), status, error, code)
    assert fragment in body["error_description"]


async def test_wrong_secret_names_the_app(sim_client):
    body = assert_entra_error(await sim_client.post(v2_url(), data=form(client_secret="x")), 401, "invalid_client", 7000215)
    assert f"app '{CLIENT_ID}'" in body["error_description"]


async def test_a_json_body_is_not_a_form(sim_client):
    response = await sim_client.post(v2_url(), json=form())
    assert_entra_error(response, 400, "invalid_request", 900144)


async def test_the_token_endpoint_only_accepts_post(sim_client):
    body = assert_entra_error(await sim_client.get(v2_url()), 400, "invalid_request", 900561)
    assert "Received a GET request" in body["error_description"]


async def test_client_request_id_becomes_the_correlation_id(sim_client):
    correlation = str(uuid.uuid4())
    headers = {"client-request-id": correlation, "return-client-request-id": "true"}
    response = await sim_client.post(v2_url(), data=form(client_secret="wrong"), headers=headers)
    assert assert_entra_error(response, 401, "invalid_client", 7000215)["correlation_id"] == correlation
    assert response.headers["client-request-id"] == correlation
    ok = await sim_client.post(v2_url(), data=form(), headers=headers)
    assert ok.headers["client-request-id"] == correlation
    assert "client-request-id" not in (await sim_client.post(v2_url(), data=form())).headers


async def test_the_token_endpoint_is_not_subject_to_injected_faults(sim_client, sim_context):
    sim_context.config.fault_rate = 1.0
    sim_context.config.fault_kinds = ("throttle", "unavailable")
    assert (await sim_client.post(v2_url(), data=form())).status_code == 200


# -- discovery -------------------------------------------------------------------------


async def test_openid_configuration_points_back_at_the_simulator(sim_client, sim_context):
    response = await sim_client.get(f"http://sim.test/entra/{TENANT}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.json()
    assert doc["token_endpoint"] == v2_url()
    assert doc["issuer"] == f"http://sim.test/entra/{TENANT}/v2.0"
    assert doc["authorization_endpoint"] == f"http://sim.test/entra/{TENANT}/oauth2/v2.0/authorize"
    assert "client_secret_post" in doc["token_endpoint_auth_methods_supported"]
    keys = await sim_client.get(doc["jwks_uri"])
    assert keys.status_code == 200 and keys.json() == {"keys": []}
    # A discovery-based client posts to the advertised endpoint.
    token = await sim_client.post(doc["token_endpoint"], data=form())
    assert sim_context.tokens.check("arm", token.json()["access_token"]) is not None


async def test_v1_openid_configuration(sim_client):
    doc = (await sim_client.get(f"http://sim.test/entra/{TENANT}/.well-known/openid-configuration")).json()
    assert doc["token_endpoint"] == v1_url()
    assert doc["issuer"] == f"https://sts.windows.net/{TENANT}/"


async def test_openid_configuration_of_an_unknown_tenant(sim_client):
    response = await sim_client.get("http://sim.test/entra/nobody.example/v2.0/.well-known/openid-configuration")
    assert "Tenant 'nobody.example' not found" in assert_entra_error(response, 400, "invalid_tenant", 90002)["error_description"]


def test_discovery_and_token_over_loopback(sim_server):
    base = sim_server.base_url
    with httpx.Client(timeout=10) as client:
        doc = client.get(f"{base}/entra/{TENANT}/v2.0/.well-known/openid-configuration").json()
        assert doc["token_endpoint"] == v2_url(base=base)
        assert sim_server.endpoints["entra_credentials"]["token_url"] == doc["token_endpoint"]
        token = client.post(doc["token_endpoint"], data=form())
        assert token.status_code == 200
        # The token opens the simulated ARM on the same server.
        kusto = sim_server.endpoints["kusto"]
        url = (
            f"{kusto}/subscriptions/{DEMO.kusto_subscription_id}/resourceGroups/{DEMO.kusto_resource_group}"
            f"/providers/Microsoft.Kusto/clusters/{DEMO.kusto_cluster}/sandboxCustomImages/customImage8?api-version=2024-04-13"
        )
        assert client.get(url, headers={"Authorization": f"Bearer {token.json()['access_token']}"}).status_code == 200
        wrong = client.post(doc["token_endpoint"], data=form(client_secret="nope"))
        assert_entra_error(wrong, 401, "invalid_client", 7000215)
        v1 = client.post(v1_url(base=base), data=form(scope=None, resource="https://batch.core.windows.net/"))
        assert sim_server.context.tokens.check("batch", v1.json()["access_token"]) is not None
