"""Yandex IAM authentication against the simulator's IAM endpoint over loopback HTTP.

Three ways to an IAM token: a user's OAuth token, a service account's authorized
key (a PS256 JWT) and a static IAM token; caching until shortly before
``expiresAt``, one refresh on 401, one fetch for many concurrent requests, and
secrets that never show up in a log, a preview or an error.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from workbench.core.errors import AuthError
from workbench.core.http import HttpCore
from workbench.core.retry import RetryPolicy
from workbench.providers.yandex import models as ym
from workbench.providers.yandex.auth import (
    OAuthTokenAuth,
    ServiceAccountKey,
    ServiceAccountKeyAuth,
    static_iam_token,
    yandex_auth,
)
from workbench.providers.yandex.driver import YandexDriver
from workbench.sim.server import SimServer
from workbench.sim.yandex_iam import OAUTH_USER_ID

TOKEN_PATH = "/iam/v1/tokens"


# -- helpers ---------------------------------------------------------------------------------
def connect(server: SimServer, **credentials) -> YandexDriver:
    doc = server.endpoints
    return YandexDriver.connect(
        folder_id=doc["yandex_ids"]["folder_id"],
        compute_endpoint=doc["yandex_compute"],
        operation_endpoint=doc["yandex_operation"],
        iam_endpoint=doc["yandex_iam"],
        retry=RetryPolicy(max_attempts=1),
        **credentials,
    )


def oauth_token(server: SimServer) -> str:
    return server.endpoints["yandex_credentials"]["oauth_token"]


def sa_key(server: SimServer) -> dict:
    return server.endpoints["yandex_credentials"]["service_account_key"]


def token_posts(driver: YandexDriver) -> list:
    return [e for e in driver.http.log.entries() if e.method == "POST" and e.url.endswith(TOKEN_PATH)]


def log_dump(driver: YandexDriver) -> str:
    return json.dumps([entry.as_dict() for entry in driver.http.log.entries()])


async def expire_tokens(server: SimServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(server.base_url + "/_sim/tokens/expire")
        assert response.status_code == 200 and response.json()["expired"] >= 1


def stranger_rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


CREDENTIALS = ("oauth_token", "service_account_key")


def credentials_for(server: SimServer, kind: str) -> dict:
    return {"oauth_token": oauth_token(server)} if kind == "oauth_token" else {"service_account_key": sa_key(server)}


# -- OAuth token ------------------------------------------------------------------------------
async def test_an_oauth_token_is_exchanged_once_and_the_iam_token_cached(sim_server):
    secret = oauth_token(sim_server)
    async with connect(sim_server, oauth_token=secret) as driver:
        first = await driver.latest_by_family("debian-12")
        again = await driver.get_image(first.id)
        listed = [image async for image in driver.list_images(limit=3)]
        assert again.id == first.id and len(listed) == 3
        assert isinstance(driver.auth, OAuthTokenAuth)
        assert driver.auth.cache.fetches == 1 and len(token_posts(driver)) == 1
        # the token lives as long as the IAM service said (token_ttl 3600 s)
        assert abs(driver.auth.cache.expires_at - (time.time() + sim_server.context.config.token_ttl)) < 60
        post = token_posts(driver)[0]
        assert post.status == 200
        assert json.loads(post.request_body) == {"yandexPassportOauthToken": "***"}
        assert json.loads(post.response_body)["iamToken"] == "***"
        iam_token = driver.auth.cache.token.value
        assert iam_token.startswith("t1.") and sim_server.context.tokens.check("yandex", iam_token)
        dump = log_dump(driver)
        assert secret not in dump and iam_token not in dump
        # every API call carried the IAM token (masked in the log)
        api_calls = [e for e in driver.http.log.entries() if "/compute/" in e.url]
        assert len(api_calls) == 3
        assert all(dict(e.request_headers)["Authorization"] == "Bearer ***" for e in api_calls)


async def test_the_oauth_user_is_who_creates_the_image(sim_server):
    async with connect(sim_server, oauth_token=oauth_token(sim_server)) as driver:
        disk = sim_server.endpoints["yandex_ids"]["disk_ids"][0]
        op = await driver.create_image(name="by-oauth-user", disk_id=disk)
        assert op.raw["createdBy"] == OAUTH_USER_ID


async def test_a_wrong_oauth_token_is_an_auth_error_that_does_not_leak_it(sim_server):
    canary = "y0_CANARY-not-a-real-oauth-token-9f8e7d"
    async with connect(sim_server, oauth_token=canary) as driver:
        with pytest.raises(AuthError) as caught:
            await driver.get_image("fd8whatever000000000")
        error = caught.value
        assert (error.status, error.code) == (401, "UNAUTHENTICATED")
        assert error.message == "The OAuth token is invalid or has expired."
        assert error.request is not None and error.request.url.endswith(TOKEN_PATH)
        assert canary not in str(error) and canary not in repr(error) and canary not in error.raw_text
        assert canary not in (error.request.text or "")
        assert canary not in log_dump(driver) and canary not in repr(driver.auth)
        # the API itself was never called without a token
        assert not [e for e in driver.http.log.entries() if "/compute/" in e.url]


# -- service-account authorized key ---------------------------------------------------------------
def test_the_jwt_is_ps256_with_the_documented_header_and_claims(sim_server):
    key = ServiceAccountKey.from_dict(sa_key(sim_server))
    before = int(time.time())
    token = key.make_jwt()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "PS256" and header["kid"] == key.id == sim_server.context.demo.yandex_service_account_key_id
    claims = jwt.decode(token, sim_server.context.demo.yandex_sa_public_key_pem, algorithms=["PS256"],
                        audience="https://iam.api.cloud.yandex.net/iam/v1/tokens")
    assert claims["iss"] == sim_server.context.demo.yandex_service_account_id
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 3600
    # a shorter lifetime may be asked for; a longer one than the service takes may not
    assert jwt.decode(key.make_jwt(lifetime=60), options={"verify_signature": False})["exp"] - before <= 61
    with pytest.raises(ValueError, match="lifetime"):
        key.make_jwt(lifetime=3601)


async def test_a_service_account_key_buys_iam_tokens_for_the_account(sim_server):
    async with connect(sim_server, service_account_key=sa_key(sim_server)) as driver:
        assert isinstance(driver.auth, ServiceAccountKeyAuth)
        disk = sim_server.endpoints["yandex_ids"]["disk_ids"][0]
        op = await driver.create_image(name="by-service-account", disk_id=disk)
        assert op.raw["createdBy"] == sim_server.context.demo.yandex_service_account_id
        post = token_posts(driver)
        assert len(post) == 1 and json.loads(post[0].request_body) == {"jwt": "***"}
        pem = sa_key(sim_server)["private_key"]
        dump = log_dump(driver)
        assert pem not in dump and "PRIVATE KEY" not in dump
        assert "PRIVATE KEY" not in repr(driver.auth) and "PRIVATE KEY" not in repr(driver.auth.key)


def test_key_files_as_yc_writes_them_and_as_the_api_returns_them(sim_server, tmp_path):
    raw = sa_key(sim_server)
    # `yc iam key create` puts a warning line before the PEM block
    yc_file = {
        "id": raw["id"], "service_account_id": raw["service_account_id"], "created_at": "2024-05-01T10:00:00Z",
        "key_algorithm": "RSA_2048", "public_key": sim_server.context.demo.yandex_sa_public_key_pem,
        "private_key": f"PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{raw['id']}>\n" + raw["private_key"],
    }
    path = tmp_path / "key.json"
    path.write_text(json.dumps(yc_file))
    from_file = ServiceAccountKey.from_file(path)
    api_spelling = ServiceAccountKey.from_json(json.dumps(
        {"id": raw["id"], "serviceAccountId": raw["service_account_id"], "privateKey": raw["private_key"]}))
    public = sim_server.context.demo.yandex_sa_public_key_pem
    for key in (from_file, api_spelling):
        assert (key.id, key.service_account_id) == (raw["id"], raw["service_account_id"])
        claims = jwt.decode(key.make_jwt(), public, algorithms=["PS256"], audience=ym.IAM_TOKEN_AUDIENCE)
        assert claims["iss"] == raw["service_account_id"]


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"private_key": None}, "private_key is required"),
        ({"id": ""}, "id is required"),
        ({"service_account_id": None}, "service_account_id is required"),
        ({"id": "a" * 51}, "id must be at most 50 characters"),
        ({"private_key": "not a key at all"}, "private_key is not a PEM-encoded key"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
         "private_key cannot be read"),
        ({"private_key": "EC"}, "private_key must be an RSA key"),
    ],
)
def test_broken_keys_fail_at_once_naming_the_field(sim_server, change, fragment):
    data = dict(sa_key(sim_server))
    for field, value in change.items():
        if value is None:
            del data[field]
        else:
            data[field] = _ec_pem() if value == "EC" else value
    with pytest.raises(ValueError, match=fragment):
        ServiceAccountKey.from_dict(data)


def test_key_json_that_is_not_a_key_object(sim_server):
    with pytest.raises(ValueError, match="not valid JSON"):
        ServiceAccountKey.from_json("{not json")
    with pytest.raises(ValueError, match="expected a JSON object"):
        ServiceAccountKey.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("stranger", "JWT signature is invalid"),
        ("unknown-key-id", "Key ajeunknownkey0000000 not found"),
        ("other-account", "does not belong to service account"),
    ],
)
async def test_keys_the_iam_service_refuses_are_auth_errors(sim_server, change, fragment):
    data = dict(sa_key(sim_server))
    if change == "stranger":
        data["private_key"] = stranger_rsa_pem()
    elif change == "unknown-key-id":
        data["id"] = "ajeunknownkey0000000"
    else:
        data["service_account_id"] = "ajeotheraccount00000"
    async with connect(sim_server, service_account_key=data) as driver:
        with pytest.raises(AuthError, match=fragment) as caught:
            async for _ in driver.list_images(limit=1):
                pass
        assert caught.value.status == 401 and caught.value.code == "UNAUTHENTICATED"
        assert data["private_key"] not in log_dump(driver)


# -- static IAM token --------------------------------------------------------------------------
async def test_a_static_iam_token_is_used_as_is_and_cannot_be_refreshed(sim_server):
    token = sim_server.context.tokens.issue("yandex", "ajestaticuser0000000", ttl=3600).value
    async with connect(sim_server, iam_token=token) as driver:
        image = await driver.latest_by_family("debian-12")
        assert image.name.startswith("debian-12-v")
        assert not token_posts(driver)
        await expire_tokens(sim_server)
        before = len(driver.http.log)
        with pytest.raises(AuthError) as caught:
            await driver.get_image(image.id)
        assert (caught.value.status, caught.value.code) == (401, "UNAUTHENTICATED")
        assert caught.value.message == "Token is invalid or has expired."
        # one attempt: nothing to refresh, and a 401 is not retried
        assert len(driver.http.log) - before == 1 and not token_posts(driver)
        assert token not in log_dump(driver) and token not in str(caught.value)


# -- expiry and refresh ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CREDENTIALS)
async def test_an_expired_iam_token_is_refreshed_once_on_401(sim_server, kind):
    async with connect(sim_server, **credentials_for(sim_server, kind)) as driver:
        image = await driver.latest_by_family("debian-12")
        old = driver.auth.cache.token.value
        await expire_tokens(sim_server)
        mark = len(driver.http.log)
        again = await driver.get_image(image.id)
        assert again.id == image.id
        steps = [(e.method, e.url.rsplit("/", 2)[-1], e.status) for e in driver.http.log.entries()[mark:]]
        assert steps == [("GET", image.id, 401), ("POST", "tokens", 200), ("GET", image.id, 200)]
        assert driver.auth.cache.fetches == 2 and driver.auth.cache.token.value != old
        # both tokens stay masked in the log
        dump = log_dump(driver)
        assert old not in dump and driver.auth.cache.token.value not in dump


@pytest.mark.parametrize("kind", CREDENTIALS)
async def test_many_concurrent_requests_share_one_token_fetch(sim_server, kind):
    async with connect(sim_server, **credentials_for(sim_server, kind)) as driver:
        image = await driver.latest_by_family("debian-12")
        assert len(token_posts(driver)) == 1
        driver.auth.cache.invalidate()  # cold cache: 100 requests at once need a token
        results = await asyncio.gather(*[driver.get_image(image.id) for _ in range(100)])
        assert {r.id for r in results} == {image.id}
        assert len(token_posts(driver)) == 2 and driver.auth.cache.fetches == 2
        # the server forgets every token: 50 requests meet a 401 at once, one refresh serves all
        await expire_tokens(sim_server)
        results = await asyncio.gather(*[driver.get_image(image.id) for _ in range(50)])
        assert {r.id for r in results} == {image.id}
        assert len(token_posts(driver)) == 3 and driver.auth.cache.fetches == 3
        statuses = [e.status for e in driver.http.log.entries() if e.url.endswith(image.id)]
        assert statuses.count(401) == 50


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_the_token_is_cached_until_shortly_before_expires_at(sim_server):
    clock = Clock()
    http = HttpCore(retry=RetryPolicy(max_attempts=1))
    doc = sim_server.endpoints
    auth = OAuthTokenAuth(oauth_token(sim_server), http, iam_endpoint=doc["yandex_iam"], refresh_margin=300,
                          clock=clock)
    async with YandexDriver(folder_id=doc["yandex_ids"]["folder_id"], http=http, auth=auth,
                            compute_endpoint=doc["yandex_compute"],
                            operation_endpoint=doc["yandex_operation"]) as driver:
        image = await driver.latest_by_family("debian-12")
        expires_at = auth.cache.expires_at
        assert auth.cache.fetches == 1
        clock.now = expires_at - 301  # still more than the margin left: the cached token
        await driver.get_image(image.id)
        assert auth.cache.fetches == 1
        clock.now = expires_at - 299  # inside the margin: a new token before the old one dies
        await driver.get_image(image.id)
        assert auth.cache.fetches == 2 and len(token_posts(driver)) == 2
        assert not [e for e in driver.http.log.entries() if e.status == 401]


# -- choosing a method, previews ------------------------------------------------------------------
def test_exactly_one_credential_is_required(sim_server):
    http = HttpCore()
    with pytest.raises(ValueError, match="exactly one of oauth_token, service_account_key, iam_token"):
        yandex_auth(http)
    with pytest.raises(ValueError, match="got oauth_token, iam_token"):
        yandex_auth(http, oauth_token="y0_x", iam_token="t1.x")
    with pytest.raises(ValueError, match="oauth_token: required"):
        OAuthTokenAuth("  ", http)
    with pytest.raises(ValueError, match="iam_token: required"):
        static_iam_token("")
    assert isinstance(yandex_auth(http, service_account_key=json.dumps(sa_key(sim_server))), ServiceAccountKeyAuth)


async def test_a_preview_fetches_no_token_and_shows_none(sim_server):
    secret = oauth_token(sim_server)
    async with connect(sim_server, oauth_token=secret) as driver:
        disk = sim_server.endpoints["yandex_ids"]["disk_ids"][0]
        request = driver.create_image_request(name="previewed", disk_id=disk)
        preview = driver.preview(request)
        curl = driver.curl(request)
        assert preview.header("Authorization") == "Bearer ***" and "Authorization: Bearer ***" in curl
        assert driver.auth.cache.fetches == 0 and len(driver.http.log) == 0
        assert secret not in curl
