"""The simulated Yandex IAM token exchange: OAuth token or service-account JWT -> IAM token."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.sim.test_yandex import IMAGES, assert_error
from tests.sim.test_yandex_models import assert_proto_json
from workbench.providers.yandex.models import IAM_TOKEN_AUDIENCE
from workbench.sim.app import PREFIXES
from workbench.sim.demo import DEMO
from workbench.sim.yandex_iam import OAUTH_USER_ID

TOKENS = PREFIXES["yandex_iam"] + "/iam/v1/tokens"


def service_account_jwt(*, key: str | None = None, algorithm: str = "PS256", headers: dict | None = None,
                        **claims) -> str:
    """A JWT as Yandex documents it for an authorized key; ``claims`` override (None drops one)."""
    now = int(time.time())
    payload = {"iss": DEMO.yandex_service_account_id, "aud": IAM_TOKEN_AUDIENCE, "iat": now, "exp": now + 3600}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {"kid": DEMO.yandex_service_account_key_id, **(headers or {})}
    return jwt.encode(payload, key or DEMO.yandex_sa_private_key_pem, algorithm=algorithm,
                      headers={k: v for k, v in header.items() if v is not None})


@pytest.fixture(scope="module")
def stranger_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def assert_token_answer(response: httpx.Response, ttl: int = 3600) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"iamToken", "expiresAt"}
    assert body["iamToken"].startswith("t1.")
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert body["expiresAt"].endswith("Z")
    assert abs(expires.timestamp() - (time.time() + ttl)) < 30
    assert response.headers["x-request-id"]
    return body["iamToken"]


async def _created_by(client, token: str, folder: str, disk: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(IMAGES, params={"folderId": folder}, headers=headers)).status_code == 200
    op = (await client.post(IMAGES, json={"folderId": folder, "diskId": disk}, headers=headers)).json()
    return op["createdBy"]


async def test_an_oauth_token_buys_an_iam_token_for_the_user(sim_client, sim_context):
    response = await sim_client.post(TOKENS, json={"yandexPassportOauthToken": DEMO.yandex_oauth_token})
    token = assert_token_answer(response)
    creator = await _created_by(sim_client, token, DEMO.yandex_folder_id, DEMO.yandex_disk_ids[0])
    assert creator == OAUTH_USER_ID


async def test_a_wrong_oauth_token_is_unauthenticated(sim_client):
    response = await sim_client.post(TOKENS, json={"yandexPassportOauthToken": "y0_AgAAAAnotthedemotoken"})
    assert_error(response, 401, 16, "OAuth token")


async def test_a_service_account_jwt_buys_an_iam_token_for_the_account(sim_client):
    response = await sim_client.post(TOKENS, json={"jwt": service_account_jwt()})
    token = assert_token_answer(response)
    creator = await _created_by(sim_client, token, DEMO.yandex_folder_id, DEMO.yandex_disk_ids[0])
    assert creator == DEMO.yandex_service_account_id


async def test_iat_and_exp_may_be_up_to_an_hour_apart_and_slightly_skewed(sim_client):
    now = int(time.time())
    for iat, exp in ((now - 20, now + 3580), (now + 10, now + 600)):
        response = await sim_client.post(TOKENS, json={"jwt": service_account_jwt(iat=iat, exp=exp)})
        assert_token_answer(response)


@pytest.mark.parametrize("case, status, code, fragment", [
    ("unknown kid", 401, 16, "Key ajeotherkey"),
    ("no kid", 400, 3, "kid"),
    ("RS256", 400, 3, "PS256"),
    ("foreign key", 401, 16, "signature"),
    ("expired", 401, 16, "expired"),
    ("future iat", 401, 16, "iat"),
    ("wrong aud", 400, 3, "aud"),
    ("wrong iss", 401, 16, "does not belong"),
    ("too long", 400, 3, "at most 3600 s after iat"),
    ("no exp", 400, 3, "exp"),
    ("no iss", 400, 3, "iss"),
    ("garbage", 400, 3, "well-formed"),
])
async def test_bad_jwts_are_refused_with_the_reason(sim_client, stranger_key, case, status, code, fragment):
    now = int(time.time())
    token = {
        "unknown kid": lambda: service_account_jwt(headers={"kid": "ajeotherkey000000000"}),
        "no kid": lambda: service_account_jwt(headers={"kid": None}),
        "RS256": lambda: service_account_jwt(algorithm="RS256"),
        "foreign key": lambda: service_account_jwt(key=stranger_key),
        "expired": lambda: service_account_jwt(iat=now - 7200, exp=now - 3600),
        "future iat": lambda: service_account_jwt(iat=now + 600, exp=now + 1200),
        "wrong aud": lambda: service_account_jwt(aud="https://example.com/token"),
        "wrong iss": lambda: service_account_jwt(iss="ajesomeoneelse000000"),
        "too long": lambda: service_account_jwt(exp=now + 7200),
        "no exp": lambda: service_account_jwt(exp=None),
        "no iss": lambda: service_account_jwt(iss=None),
        "garbage": lambda: "not-a-jwt",
    }[case]()
    response = await sim_client.post(TOKENS, json={"jwt": token})
    assert_error(response, status, code, fragment)


@pytest.mark.parametrize("body, fragment", [
    ({}, "identity"),
    ({"jwt": "a.b.c", "yandexPassportOauthToken": "y0_x"}, "identity"),
    ({"yandexPassportOauthToken": "y0_x", "password": "x"}, "password"),
    ({"jwt": 42}, "jwt"),
])
async def test_the_body_is_exactly_one_identity(sim_client, body, fragment):
    body = assert_error(await sim_client.post(TOKENS, json=body), 400, 3, "Request validation error", fragment)
    assert_proto_json(body, "google.rpc.Status")


async def test_not_json_and_wrong_verbs(sim_client):
    response = await sim_client.post(TOKENS, content=b"yandexPassportOauthToken=x",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 400, 3, "JSON")
    assert_error(await sim_client.get(TOKENS), 405, 12)


async def test_the_token_endpoint_is_not_subject_to_injected_faults(sim_client, sim_context):
    sim_context.faults.update({"rate": 1.0, "kinds": ["unavailable"]})
    response = await sim_client.post(TOKENS, json={"yandexPassportOauthToken": DEMO.yandex_oauth_token})
    token = assert_token_answer(response)
    compute = await sim_client.get(IMAGES, params={"folderId": DEMO.yandex_folder_id},
                                   headers={"Authorization": f"Bearer {token}"})
    assert_error(compute, 503, 14)


async def test_issued_tokens_expire_with_the_simulator_token_lifetime(sim_client, sim_context):
    sim_context.config.token_ttl = 5
    response = await sim_client.post(TOKENS, json={"jwt": service_account_jwt()})
    token = assert_token_answer(response, ttl=5)
    issued = sim_context.tokens.check("yandex", token)
    assert issued is not None and issued.subject == DEMO.yandex_service_account_id
    sim_context.tokens.expire_all()
    response = await sim_client.get(IMAGES, params={"folderId": DEMO.yandex_folder_id},
                                    headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, 16)


def test_jwt_exchange_over_loopback(sim_server):
    doc = sim_server.endpoints
    key = doc["yandex_credentials"]["service_account_key"]
    now = int(time.time())
    signed = jwt.encode({"iss": key["service_account_id"], "aud": IAM_TOKEN_AUDIENCE, "iat": now, "exp": now + 3600},
                        key["private_key"], algorithm="PS256", headers={"kid": key["id"]})
    with httpx.Client(timeout=10) as client:
        response = client.post(doc["yandex_iam"] + "/iam/v1/tokens", json={"jwt": signed})
        token = assert_token_answer(response)
        listed = client.get(doc["yandex_compute"] + "/compute/v1/images",
                            params={"folderId": doc["yandex_ids"]["folder_id"], "pageSize": 3},
                            headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and len(listed.json()["images"]) == 3
        oauth = client.post(doc["yandex_iam"] + "/iam/v1/tokens",
                            json={"yandexPassportOauthToken": doc["yandex_credentials"]["oauth_token"]})
        assert_token_answer(oauth)
