"""The simulated Keystone v3: discovery, /auth/tokens with each method, validation, revocation."""

from __future__ import annotations

import re

import httpx
import pytest

TOKENS = "/keystone/v3/auth/tokens"


def password_auth(demo, *, password=None, scope="name", user="name") -> dict:
    user_ref = ({"name": demo.keystone_user, "domain": {"name": demo.keystone_user_domain}}
                if user == "name" else {"id": user})
    body: dict = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {**user_ref, "password": password or demo.keystone_password}}}}}
    if scope == "name":
        body["auth"]["scope"] = {"project": {"name": demo.keystone_project,
                                             "domain": {"name": demo.keystone_project_domain}}}
    elif scope == "id":
        body["auth"]["scope"] = {"project": {"id": demo.keystone_project_id}}
    elif scope is not None:
        body["auth"]["scope"] = scope
    return body


def assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": "The request you have made requires authentication.",
                                         "title": "Unauthorized"}}
    assert response.headers["www-authenticate"] == 'Keystone uri="http://sim.test/keystone/v3"'


async def test_version_document_at_the_auth_url(sim_client):
    for path in ("/keystone/v3", "/keystone/v3/"):
        response = await sim_client.get(path)
        assert response.status_code == 200
        version = response.json()["version"]
        assert version["id"] == "v3.14" and version["status"] == "stable"
        assert version["links"] == [{"rel": "self", "href": "http://sim.test/keystone/v3/"}]
        assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


async def test_password_auth_returns_a_scoped_token_with_the_image_catalog(sim_client, sim_context):
    demo = sim_context.demo
    response = await sim_client.post(TOKENS, json=password_auth(demo))
    assert response.status_code == 201
    value = response.headers["x-subject-token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == demo.keystone_user and token["user"]["domain"]["name"] == "Default"
    assert token["project"] == {"id": demo.keystone_project_id, "name": demo.keystone_project,
                                "domain": {"id": "default", "name": "Default"}}
    assert {role["name"] for role in token["roles"]} == {"member", "reader"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", token["expires_at"])
    assert token["expires_at"] > token["issued_at"]
    image = next(entry for entry in token["catalog"] if entry["type"] == "image")
    assert image["name"] == "glance"
    assert {(e["interface"], e["region_id"], e["url"]) for e in image["endpoints"]} == {
        (interface, demo.keystone_region, "http://sim.test/glance") for interface in ("public", "internal", "admin")}
    ims = next(entry for entry in token["catalog"] if entry["type"] == "ims")
    assert ims["endpoints"][0]["url"] == "http://sim.test/ims"
    # the token opens Glance
    listed = await sim_client.get("/glance/v2/images", headers={"X-Auth-Token": value})
    assert listed.status_code == 200


@pytest.mark.parametrize("scope", ["name", "id", None])
async def test_password_auth_by_user_id_and_each_scope_form(sim_client, sim_context, scope):
    demo = sim_context.demo
    user_id = (await sim_client.post(TOKENS, json=password_auth(demo))).json()["token"]["user"]["id"]
    response = await sim_client.post(TOKENS, json=password_auth(demo, user=user_id, scope=scope))
    assert response.status_code == 201
    # with no scope Keystone uses the user's default project
    assert response.json()["token"]["project"]["id"] == demo.keystone_project_id


@pytest.mark.parametrize("change", [
    {"password": "wrong"},
    {"user": "0123456789abcdef0123456789abcdef"},
    {"scope": {"project": {"name": "nope", "domain": {"name": "Default"}}}},
    {"scope": {"project": {"id": "ffffffffffffffffffffffffffffffff"}}},
    {"scope": {"domain": {"name": "Default"}}},
])
async def test_bad_credentials_or_scope_are_401(sim_client, sim_context, change):
    response = await sim_client.post(TOKENS, json=password_auth(sim_context.demo, **change))
    assert_unauthorized(response)


async def test_application_credential_auth(sim_client, sim_context):
    demo = sim_context.demo
    body = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": demo.keystone_app_credential_id, "secret": demo.keystone_app_credential_secret}}}}
    response = await sim_client.post(TOKENS, json=body)
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["methods"] == ["application_credential"]
    assert token["application_credential"]["id"] == demo.keystone_app_credential_id
    assert token["project"]["id"] == demo.keystone_project_id
    wrong = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": demo.keystone_app_credential_id, "secret": "nope"}}}}
    assert_unauthorized(await sim_client.post(TOKENS, json=wrong))
    scoped = {"auth": {**body["auth"], "scope": {"project": {"id": demo.keystone_project_id}}}}
    assert_unauthorized(await sim_client.post(TOKENS, json=scoped))


async def test_token_method_rescopes(sim_client, sim_context):
    first = (await sim_client.post(TOKENS, json=password_auth(sim_context.demo))).headers["x-subject-token"]
    response = await sim_client.post(TOKENS, json={"auth": {"identity": {"methods": ["token"], "token": {"id": first}},
                                                            "scope": {"project": {"id": sim_context.demo.keystone_project_id}}}})
    assert response.status_code == 201 and response.headers["x-subject-token"] != first


@pytest.mark.parametrize("body, field", [
    ({}, ""),
    ({"auth": {}}, "auth"),
    ({"auth": {"identity": {}}}, "identity"),
    ({"auth": {"identity": {"methods": ["password"]}}}, "identity"),
])
async def test_malformed_requests_are_400(sim_client, body, field):
    response = await sim_client.post(TOKENS, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request"
    assert error["message"].startswith(f"Invalid input for field '{field}'")


async def test_nocatalog(sim_client, sim_context):
    response = await sim_client.post(TOKENS + "?nocatalog", json=password_auth(sim_context.demo))
    assert response.status_code == 201 and "catalog" not in response.json()["token"]


async def test_validate_and_revoke(sim_client, sim_context):
    demo = sim_context.demo
    admin = (await sim_client.post(TOKENS, json=password_auth(demo))).headers["x-subject-token"]
    subject = (await sim_client.post(TOKENS, json=password_auth(demo))).headers["x-subject-token"]
    shown = await sim_client.get(TOKENS, headers={"X-Auth-Token": admin, "X-Subject-Token": subject})
    assert shown.status_code == 200 and shown.headers["x-subject-token"] == subject
    assert shown.json()["token"]["project"]["id"] == demo.keystone_project_id
    head = await sim_client.head(TOKENS, headers={"X-Auth-Token": admin, "X-Subject-Token": subject})
    assert head.status_code == 200
    assert_unauthorized(await sim_client.get(TOKENS, headers={"X-Subject-Token": subject}))
    missing = await sim_client.get(TOKENS, headers={"X-Auth-Token": admin, "X-Subject-Token": "gAAAAAnope"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Could not find token: gAAAAAnope."
    revoked = await sim_client.delete(TOKENS, headers={"X-Auth-Token": admin, "X-Subject-Token": subject})
    assert revoked.status_code == 204
    assert (await sim_client.get(TOKENS, headers={"X-Auth-Token": admin, "X-Subject-Token": subject})).status_code == 404
    assert (await sim_client.get("/glance/v2/images", headers={"X-Auth-Token": subject})).status_code == 401


async def test_tokens_expire_after_the_configured_lifetime(sim_config):
    from workbench.sim.app import build_app
    from workbench.sim.context import SimContext

    sim_config.token_ttl = 0
    ctx = SimContext(sim_config)
    transport = httpx.ASGITransport(app=build_app(context=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
        issued = await client.post(TOKENS, json=password_auth(ctx.demo))
        assert issued.status_code == 201
        response = await client.get("/glance/v2/images", headers={"X-Auth-Token": issued.headers["x-subject-token"]})
        assert response.status_code == 401


def test_keystoneauth_discovers_logs_in_and_finds_the_image_endpoint(sim_server):
    from keystoneauth1 import session
    from keystoneauth1.identity import generic

    endpoints = sim_server.endpoints
    credentials = endpoints["keystone_credentials"]
    auth = generic.Password(auth_url=endpoints["keystone"], username=credentials["username"],
                            password=credentials["password"], project_name=credentials["project_name"],
                            user_domain_name=credentials["user_domain_name"],
                            project_domain_name=credentials["project_domain_name"])
    sess = session.Session(auth=auth)
    token = sess.get_token()
    assert token.startswith("gAAAAA")
    assert sess.get_endpoint(service_type="image", interface="public",
                             region_name=credentials["region_name"]) == endpoints["glance"]
    assert sess.get_project_id() == credentials["project_id"]
    response = httpx.get(endpoints["glance"] + "/v2/images", headers={"X-Auth-Token": token})
    assert response.status_code == 200


def test_keystoneauth_application_credential_over_loopback(sim_server):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    endpoints = sim_server.endpoints
    credentials = endpoints["keystone_credentials"]
    auth = v3.ApplicationCredential(auth_url=endpoints["keystone"],
                                    application_credential_id=credentials["application_credential_id"],
                                    application_credential_secret=credentials["application_credential_secret"])
    sess = session.Session(auth=auth)
    assert sess.get_endpoint(service_type="image", interface="internal") == endpoints["glance"]
