"""Keystone v3 authentication for Glance and IMS, against the simulator's Keystone over loopback HTTP.

Password (by name and domain, or by ids) and application-credential auth,
project-scoped; the image endpoint read from the token's catalog by service
type, interface and region (or given explicitly); a static token with an
explicit endpoint; caching until shortly before ``expires_at``, one refresh on
401, one fetch for many concurrent requests, and secrets that never show up in
a log, a preview or an error.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from workbench.core.errors import AuthError
from workbench.core.http import HttpCore
from workbench.core.retry import RetryPolicy
from workbench.providers.glance.auth import (
    ApplicationCredentialMethod,
    CatalogError,
    KeystoneAuth,
    PasswordMethod,
    ProjectScope,
    find_endpoint,
    keystone_auth,
    parse_expires_at,
    service_root,
    static_token,
    tokens_url,
)
from workbench.providers.glance.driver import EndpointUnknown, GlanceDriver
from workbench.providers.glance.requests import GetImage, PatchImage
from workbench.sim.server import SimServer

TOKENS = "/auth/tokens"
CANARY_PASSWORD = "CANARY-password-never-logged-4f1e"


# -- helpers ---------------------------------------------------------------------------------
def credentials(server: SimServer) -> dict:
    return server.endpoints["keystone_credentials"]


def password_settings(server: SimServer) -> dict:
    kc = credentials(server)
    return {"username": kc["username"], "password": kc["password"], "user_domain_name": kc["user_domain_name"],
            "project_name": kc["project_name"], "project_domain_name": kc["project_domain_name"]}


def connect(server: SimServer, flavour: str = "glance", **settings) -> GlanceDriver:
    settings = settings or password_settings(server)
    settings.setdefault("auth_url", server.endpoints["keystone"])
    return GlanceDriver.connect(flavour=flavour, retry=RetryPolicy(max_attempts=1), **settings)


def token_posts(driver: GlanceDriver) -> list:
    return [e for e in driver.http.log.entries() if e.method == "POST" and TOKENS in e.url]


def api_calls(driver: GlanceDriver) -> list:
    return [e for e in driver.http.log.entries() if TOKENS not in e.url]


def log_dump(driver: GlanceDriver) -> str:
    return json.dumps([entry.as_dict() for entry in driver.http.log.entries()])


async def expire_tokens(server: SimServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(server.base_url + "/_sim/tokens/expire")
        assert response.status_code == 200 and response.json()["expired"] >= 1


def keystone_state(server: SimServer):
    return server.context.states["keystone"]


async def first_image_id(driver: GlanceDriver) -> str:
    async for image in driver.list_images(limit=1):
        return image.id
    raise AssertionError("the catalog is empty")


# -- password --------------------------------------------------------------------------------
async def test_password_auth_fetches_one_token_and_reads_the_endpoint_from_the_catalog(sim_server):
    async with connect(sim_server) as driver:
        assert driver.endpoint is None  # not known before the first token
        image_id = await first_image_id(driver)
        again = await driver.get_image(image_id)
        listed = [image async for image in driver.list_images(limit=3)]
        assert again.id == image_id and len(listed) == 3
        assert driver.endpoint == sim_server.endpoints["glance"]
        assert isinstance(driver.auth, KeystoneAuth)
        assert driver.auth.cache.fetches == 1 and len(token_posts(driver)) == 1
        assert driver.auth.project_id == credentials(sim_server)["project_id"]
        # the token lives as long as Keystone said (token_ttl)
        assert abs(driver.auth.cache.expires_at - (time.time() + sim_server.context.config.token_ttl)) < 60
        post = token_posts(driver)[0]
        assert post.status == 201
        sent = json.loads(post.request_body)
        assert sent["auth"]["identity"] == {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"name": "Default"}, "password": "***"}}}
        assert sent["auth"]["scope"] == {"project": {"name": "demo", "domain": {"name": "Default"}}}
        assert httpx.Headers(list(post.response_headers))["X-Subject-Token"] == "***"
        token = driver.auth.cache.token.value
        assert sim_server.context.tokens.check("keystone", token)
        dump = log_dump(driver)
        assert token not in dump and credentials(sim_server)["password"] not in dump
        calls = api_calls(driver)
        assert len(calls) == 3 and all(httpx.Headers(list(e.request_headers))["X-Auth-Token"] == "***" for e in calls)


async def test_password_auth_by_user_id_and_project_id(sim_server):
    state = keystone_state(sim_server)
    kc = credentials(sim_server)
    async with connect(sim_server, user_id=state.user["id"], password=kc["password"],
                       project_id=kc["project_id"]) as driver:
        await first_image_id(driver)
        sent = json.loads(token_posts(driver)[0].request_body)["auth"]
        assert sent["identity"]["password"]["user"] == {"id": state.user["id"], "password": "***"}
        assert sent["scope"] == {"project": {"id": kc["project_id"]}}


async def test_a_wrong_password_is_an_auth_error_that_does_not_leak_it(sim_server):
    settings = {**password_settings(sim_server), "password": CANARY_PASSWORD}
    async with connect(sim_server, **settings) as driver:
        with pytest.raises(AuthError) as caught:
            await driver.get_image("1bea47ed-f6a9-463b-b423-14b9cca9ad27")
        error = caught.value
        assert (error.status, error.code) == (401, "Unauthorized")
        assert error.message == "The request you have made requires authentication."
        assert error.request is not None and error.request.url.endswith(TOKENS)
        for text in (str(error), repr(error), error.raw_text, error.request.text or "", log_dump(driver),
                     repr(driver.auth), repr(driver.auth.method)):
            assert CANARY_PASSWORD not in text
        assert not api_calls(driver)  # Glance itself was never called without a token


async def test_a_project_the_user_is_not_in_is_refused(sim_server):
    settings = {**password_settings(sim_server), "project_name": "someone-elses"}
    async with connect(sim_server, **settings) as driver:
        with pytest.raises(AuthError, match="401"):
            [image async for image in driver.list_images(limit=1)]


# -- application credential ------------------------------------------------------------------------
async def test_an_application_credential_by_id_gets_a_token_for_its_project(sim_server):
    kc = credentials(sim_server)
    async with connect(sim_server, application_credential_id=kc["application_credential_id"],
                       application_credential_secret=kc["application_credential_secret"]) as driver:
        image_id = await first_image_id(driver)
        assert (await driver.get_image(image_id)).id == image_id
        sent = json.loads(token_posts(driver)[0].request_body)["auth"]
        assert sent == {"identity": {"methods": ["application_credential"], "application_credential": {
            "id": kc["application_credential_id"], "secret": "***"}}}  # bound to its project: no scope
        assert driver.auth.project_id == kc["project_id"]
        assert kc["application_credential_secret"] not in log_dump(driver)


async def test_an_application_credential_by_name_names_its_user(sim_server):
    kc = credentials(sim_server)
    auth_url = sim_server.endpoints["keystone"]
    http = HttpCore(retry=RetryPolicy(max_attempts=1))
    method = ApplicationCredentialMethod(kc["application_credential_secret"], name="workbench-demo",
                                         username=kc["username"], user_domain_name="Default")
    async with GlanceDriver(http=http, auth=KeystoneAuth(http, auth_url=auth_url, method=method)) as driver:
        await first_image_id(driver)
        sent = json.loads(token_posts(driver)[0].request_body)["auth"]["identity"]["application_credential"]
        assert sent == {"secret": "***", "name": "workbench-demo",
                        "user": {"name": "demo", "domain": {"name": "Default"}}}


async def test_a_wrong_application_credential_secret_is_an_auth_error(sim_server):
    kc = credentials(sim_server)
    async with connect(sim_server, application_credential_id=kc["application_credential_id"],
                       application_credential_secret=CANARY_PASSWORD) as driver:
        with pytest.raises(AuthError) as caught:
            await first_image_id(driver)
        assert caught.value.status == 401 and CANARY_PASSWORD not in log_dump(driver) + str(caught.value)


# -- the catalog ---------------------------------------------------------------------------------
async def test_ims_finds_its_own_service_type_in_the_catalog(sim_server):
    async with connect(sim_server, flavour="ims") as driver:
        image = await driver.get_image(await first_image_id(driver))
        assert driver.endpoint == sim_server.endpoints["ims"]
        assert image.provider == "ims" and "__os_type" in image.raw.model_dump(by_alias=True)


@pytest.mark.parametrize("interface", ["public", "internal", "admin"])
async def test_every_interface_of_the_region_is_found(sim_server, interface):
    region = credentials(sim_server)["region_name"]
    async with connect(sim_server, interface=interface, region=region, **password_settings(sim_server)) as driver:
        assert await driver.resolve_endpoint() == sim_server.endpoints["glance"]


async def test_an_unknown_region_is_a_catalog_error_saying_what_there_is(sim_server):
    async with connect(sim_server, region="nowhere-1", **password_settings(sim_server)) as driver:
        with pytest.raises(CatalogError) as caught:
            [image async for image in driver.list_images(limit=1)]
        message = str(caught.value)
        assert "'image' endpoint with interface 'public' in region 'nowhere-1'" in message
        assert "image public RegionOne" in message and "image internal RegionOne" in message


async def test_an_explicit_endpoint_skips_the_catalog(sim_server):
    # Keystone still issues the token (asked for without a catalog), the
    # requests go to the endpoint given.
    async with connect(sim_server, flavour="ims", image_endpoint=sim_server.endpoints["ims"] + "/v2/",
                       **password_settings(sim_server)) as driver:
        assert driver.endpoint == sim_server.endpoints["ims"]  # "/v2/" is not part of the root
        image = await driver.get_image(await first_image_id(driver))
        assert image.raw.isregistered == "true"  # it is the IMS endpoint
        assert "nocatalog" in token_posts(driver)[0].url
        assert all(e.url.startswith(sim_server.endpoints["ims"] + "/v2/images") for e in api_calls(driver))


CATALOG = [
    {"type": "identity", "endpoints": [{"interface": "public", "region_id": "r1", "url": "https://id/v3"}]},
    {"type": "image", "endpoints": [
        {"interface": "public", "region_id": "r1", "region": "r1", "url": "https://img.r1.example/v2"},
        {"interface": "internal", "region_id": "r1", "url": "http://10.0.0.5:9292/"},
        {"interface": "public", "region_id": "r2", "url": "https://cloud.r2.example/image/$(project_id)s"},
    ]},
    {"type": "ims", "endpoints": [{"interface": "public", "region_id": "r1", "url": "https://ims.r1.example"}]},
]


def test_find_endpoint_picks_interface_region_and_service_type():
    assert find_endpoint(CATALOG, region="r1") == "https://img.r1.example"
    assert find_endpoint(CATALOG, interface="internal") == "http://10.0.0.5:9292"
    assert find_endpoint(CATALOG, region="r2", project_id="p1") == "https://cloud.r2.example/image/p1"
    assert find_endpoint(CATALOG, region="r1", service_types=("ims", "image")) == "https://ims.r1.example"
    assert find_endpoint(CATALOG, region="r2", service_types=("ims", "image"), project_id="p") \
        == "https://cloud.r2.example/image/p"  # no IMS in r2: the image service
    with pytest.raises(CatalogError, match="region: .*several regions \\(r1, r2\\); set region"):
        find_endpoint(CATALOG)
    with pytest.raises(CatalogError, match="interface 'admin'.*it has: identity public r1, image public r1"):
        find_endpoint(CATALOG, interface="admin", service_types=("identity", "image"))
    with pytest.raises(CatalogError, match="no service catalog"):
        find_endpoint(None)


def test_urls_are_normalised():
    assert tokens_url("https://keystone.example:5000/v3") == "https://keystone.example:5000/v3/auth/tokens"
    assert tokens_url("https://keystone.example:5000/v3/") == "https://keystone.example:5000/v3/auth/tokens"
    assert tokens_url("https://keystone.example:5000") == "https://keystone.example:5000/v3/auth/tokens"
    assert tokens_url("https://cloud.example/identity") == "https://cloud.example/identity/v3/auth/tokens"
    for bad in ("keystone.example/v3", "ftp://keystone/v3", "https://keystone/v3?x=1"):
        with pytest.raises(ValueError, match="auth_url"):
            tokens_url(bad)
    assert service_root("https://glance.example:9292/v2/") == "https://glance.example:9292"
    assert service_root("https://cloud.example/image") == "https://cloud.example/image"
    assert parse_expires_at("2025-11-23T10:00:00.000000Z") == 1763892000.0
    assert parse_expires_at("2025-11-23T10:00:00") == 1763892000.0 and parse_expires_at("soon") is None


def test_bad_settings_fail_naming_the_field():
    http = HttpCore()
    auth_url = "https://keystone.example/v3"
    cases = [
        ({"username": "u", "password": "p", "project_id": "x"}, "user_domain_name: a user given by name"),
        ({"username": "u", "user_domain_name": "D", "password": "p"}, "project_name: password auth needs a project"),
        ({"username": "u", "user_domain_name": "D", "password": "p", "project_name": "x"},
         "project_domain_name: a project given by name needs its domain"),
        ({"password": "p", "project_id": "x"}, "username: required"),
        ({}, "exactly one of password, application_credential_secret"),
        ({"password": "p", "application_credential_secret": "s"}, "exactly one of .*got password, application"),
        ({"application_credential_secret": "s"}, "application_credential_id: required"),
        ({"user_id": "u", "password": "p", "project_id": "x", "user_domain_name": "D", "user_domain_id": "d"},
         "user_domain_name: give the domain's name or its id, not both"),
        ({"user_id": "u", "password": "p", "project_id": "x", "interface": "private"}, "interface: must be one of"),
    ]
    for settings, message in cases:
        with pytest.raises(ValueError, match=message):
            keystone_auth(http, auth_url=auth_url, **settings)
    with pytest.raises(ValueError, match="application credential is bound to its project"):
        KeystoneAuth(http, auth_url=auth_url, method=ApplicationCredentialMethod("s", id="i"),
                     project=ProjectScope(id="p"))
    with pytest.raises(ValueError, match="image_endpoint: required with token"):
        GlanceDriver.connect(token="t")
    with pytest.raises(ValueError, match="auth_url: required with password"):
        GlanceDriver.connect(password="p", username="u", user_domain_name="D", project_id="x")
    with pytest.raises(ValueError, match="endpoint: required unless the auth is Keystone"):
        GlanceDriver(http=http, auth=static_token("t"))
    assert "p4ss" not in repr(PasswordMethod("p4ss", user_id="u"))


# -- static token ------------------------------------------------------------------------------
async def test_a_static_token_with_an_explicit_endpoint(sim_server):
    token = sim_server.endpoints["tokens"]["glance"]
    async with GlanceDriver.connect(token=token, image_endpoint=sim_server.endpoints["glance"],
                                    retry=RetryPolicy(max_attempts=1)) as driver:
        image = await driver.get_image(await first_image_id(driver))
        assert image.status and not token_posts(driver)
        assert token not in log_dump(driver)
        assert driver.curl(GetImage(image_id=image.id)).count("X-Auth-Token: ***") == 1


async def test_an_expired_static_token_is_not_refreshed(sim_server):
    token = sim_server.endpoints["tokens"]["glance"]
    async with GlanceDriver.connect(token=token, image_endpoint=sim_server.endpoints["glance"],
                                    retry=RetryPolicy(max_attempts=1)) as driver:
        await expire_tokens(sim_server)
        with pytest.raises(AuthError) as caught:
            await driver.get_image("1bea47ed-f6a9-463b-b423-14b9cca9ad27")
        assert caught.value.status == 401 and caught.value.code == "Unauthorized"
        assert len(driver.http.log.entries()) == 1  # nothing to refresh: one attempt


# -- expiry and refresh ------------------------------------------------------------------------------
async def test_an_expired_token_is_refreshed_once_on_401(sim_server):
    async with connect(sim_server) as driver:
        image_id = await first_image_id(driver)
        old = driver.auth.cache.token.value
        await expire_tokens(sim_server)
        driver.http.log.clear()
        image = await driver.get_image(image_id)
        assert image.id == image_id
        steps = [(e.method, TOKENS in e.url, e.status) for e in driver.http.log.entries()]
        assert steps == [("GET", False, 401), ("POST", True, 201), ("GET", False, 200)]
        assert driver.auth.cache.fetches == 2 and driver.auth.cache.token.value != old
        assert old not in log_dump(driver) and driver.auth.cache.token.value not in log_dump(driver)


async def test_a_refresh_that_is_refused_is_an_auth_error(sim_server):
    async with connect(sim_server) as driver:
        image_id = await first_image_id(driver)
        await expire_tokens(sim_server)
        keystone_state(sim_server).password = "changed-meanwhile"
        with pytest.raises(AuthError) as caught:
            await driver.get_image(image_id)
        assert caught.value.status == 401 and caught.value.request.url.endswith(TOKENS)


async def test_the_token_is_cached_until_shortly_before_it_expires(sim_server):
    now = [time.time()]
    http = HttpCore(retry=RetryPolicy(max_attempts=1))
    auth = keystone_auth(http, auth_url=sim_server.endpoints["keystone"], clock=lambda: now[0],
                         refresh_margin=120, **password_settings(sim_server))
    async with GlanceDriver(http=http, auth=auth) as driver:
        image_id = await first_image_id(driver)
        expires_at = auth.cache.expires_at
        assert auth.cache.fetches == 1
        now[0] = expires_at - 121  # still fresh: no fetch
        await driver.get_image(image_id)
        assert auth.cache.fetches == 1
        now[0] = expires_at - 119  # inside the margin: a new token before the old one lapses
        await driver.get_image(image_id)
        assert auth.cache.fetches == 2 and len(token_posts(driver)) == 2
        assert all(e.status == 200 for e in api_calls(driver))  # no 401 was needed


async def test_many_concurrent_requests_fetch_one_token(sim_server):
    async with connect(sim_server) as driver:
        state = sim_server.context.states["glance"]
        ids = [image_id for image_id, image in state.images.items() if image["visibility"] == "public"][:10]
        images = await asyncio.gather(*(driver.get_image(ids[n % len(ids)]) for n in range(40)))
        assert [i.id for i in images] == [ids[n % len(ids)] for n in range(40)]
        assert driver.auth.cache.fetches == 1 and len(token_posts(driver)) == 1
        await expire_tokens(sim_server)
        again = await asyncio.gather(*(driver.get_image(ids[0]) for _ in range(20)))
        assert len(again) == 20 and driver.auth.cache.fetches == 2


# -- previews ---------------------------------------------------------------------------------------
async def test_previews_mask_the_token_and_never_fetch_one(sim_server):
    async with connect(sim_server, image_endpoint=sim_server.endpoints["glance"],
                       **password_settings(sim_server)) as driver:
        request = PatchImage(image_id="1bea47ed-f6a9-463b-b423-14b9cca9ad27",
                             operations=[{"op": "replace", "path": "/name", "value": "x"}])
        preview = driver.preview(request)
        assert preview.header("X-Auth-Token") == "***" and not driver.http.log.entries()
        await driver.get_image("1bea47ed-f6a9-463b-b423-14b9cca9ad27")
        token = driver.auth.cache.token.value
        assert token not in driver.curl(request) and "X-Auth-Token: ***" in driver.curl(request)


async def test_a_preview_before_the_catalog_was_read_says_how_to_get_the_endpoint(sim_server):
    async with connect(sim_server) as driver:
        with pytest.raises(EndpointUnknown, match="resolve_endpoint"):
            driver.preview(GetImage(image_id="x"))
        await driver.resolve_endpoint()
        assert driver.preview(GetImage(image_id="x")).url == sim_server.endpoints["glance"] + "/v2/images/x"
