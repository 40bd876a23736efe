"""A canary secret never appears in a preview, a curl line, the log or an error."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from workbench.core.auth import AccessToken, StaticToken, TokenAuth
from workbench.core.errors import ApiError
from workbench.core.http import HttpCore
from workbench.core.masking import mask_body, mask_header, mask_json, mask_text, mask_url
from workbench.core.preview import RequestPreview
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy

CANARY = "CANARY-7f3a9c1e-d0d0-secret"


def test_authorization_keeps_its_scheme():
    assert mask_header("Authorization", f"Bearer {CANARY}") == "Bearer ***"
    assert mask_header("authorization", f"SharedKey demoaccount:{CANARY}") == "SharedKey demoaccount:***"
    assert mask_header("Authorization", CANARY) == "***"
    assert mask_header("X-Auth-Token", CANARY) == "***"
    assert mask_header("X-Subject-Token", CANARY) == "***"
    assert mask_header("Ocp-Apim-Subscription-Key", CANARY) == "***"
    assert mask_header("Cookie", f"session={CANARY}; theme=dark") == "session=***; theme=***"
    assert mask_header("Set-Cookie", f"session={CANARY}; Path=/; HttpOnly") == "session=***; Path=/; HttpOnly"
    assert mask_header("Content-Type", "application/json") == "application/json"


@pytest.mark.parametrize(
    "body",
    [
        {"grant_type": "client_credentials", "client_id": "app", "client_secret": CANARY, "scope": "x/.default"},
        {"yandexPassportOauthToken": CANARY},
        {"jwt": CANARY},
        {"iamToken": CANARY, "expiresAt": "2030-01-01T00:00:00Z"},
        {"access_token": CANARY, "token_type": "Bearer", "expires_in": 3599, "refresh_token": CANARY},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"name": "Default"}, "password": CANARY}}}}},
        {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
            "id": "4b2f7e1c", "secret": CANARY}}}},
        {"auth": {"identity": {"methods": ["token"], "token": {"id": CANARY}}}},
        [{"op": "add", "path": "/admin_password", "value": CANARY}],
        [{"replace": "/root_password", "value": CANARY}],
        {"private_key": CANARY, "service_account_id": "aje1"},
    ],
)
def test_json_secrets_are_masked(body):
    masked = mask_json(body)
    assert CANARY not in json.dumps(masked)
    raw = json.dumps(body).encode()
    assert CANARY.encode() not in mask_body(raw, "application/json")


def test_json_masking_keeps_ordinary_fields():
    body = {"error": {"code": "NotFound", "message": "x"}, "name": "img", "nextPageToken": "abc",
            "token": {"expires_at": "2030", "catalog": []}}
    assert mask_json(body) == body
    assert mask_json({"client_id": "app", "password": "p"}) == {"client_id": "app", "password": "***"}


def test_form_bodies_and_urls():
    form = urlencode({"grant_type": "client_credentials", "client_id": "app", "client_secret": CANARY,
                      "scope": "https://management.azure.com/.default"}).encode()
    masked = mask_body(form, "application/x-www-form-urlencoded").decode()
    assert CANARY not in masked
    assert "client_id=app" in masked and "client_secret=***" in masked
    url = mask_url(f"https://acct.blob.core.windows.net/c/img.vhd?sv=2022&sig={CANARY}&se=2030")
    assert CANARY not in url and "sig=***" in url and "sv=2022" in url
    assert mask_url(f"https://user:{CANARY}@host/x") == "https://user:***@host/x"
    assert mask_url("https://host/x?a=1") == "https://host/x?a=1"


def test_truncated_json_is_still_masked():
    text = json.dumps({"items": ["x"] * 10, "client_secret": CANARY, "password": CANARY})[:-30]
    assert CANARY[:10] not in mask_body(text.encode(), "application/json").decode()


def test_mask_text_catches_encoded_forms_and_bearer_tokens():
    secret = "p@ss/wörd+1"
    text = f"raw {secret} url {httpx.QueryParams({'p': secret})} json {json.dumps(secret)}"
    masked = mask_text(text, [secret])
    assert "p@ss" not in masked and "p%40ss" not in masked
    assert mask_text("Authorization: Bearer eyJ0eXAi.abc.def") == "Authorization: Bearer ***"
    assert mask_text("use Bearer authentication") == "use Bearer authentication"
    assert mask_text("ab", ["ab"]) == "ab"  # too short to scrub without mangling every text


async def test_canary_never_appears_anywhere():
    """One request carrying the canary everywhere a secret can be, answered by
    a hostile server that echoes it back in headers, body and error."""

    def echo(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "Echo", "message": f"you sent {request.headers.get('x-auth-token')} and "
                                                    f"{request.content.decode()}",
                          "details": [{"code": "Token", "message": request.headers["authorization"]}]},
                "access_token": CANARY}
        return httpx.Response(400, json=body, headers={"X-Subject-Token": CANARY, "Set-Cookie": f"s={CANARY}"})

    async def fetch() -> AccessToken:
        return AccessToken(CANARY)

    log = RequestLog()
    http = HttpCore(base_url="https://cloud.test", transport=httpx.MockTransport(echo), log=log,
                    retry=RetryPolicy(max_attempts=1))
    http.add_secret(CANARY)
    auth = TokenAuth(fetch)
    request = http.build_request(
        "POST", f"/v3/auth/tokens?access_token={CANARY}",
        headers={"X-Auth-Token": CANARY, "Cookie": f"session={CANARY}"},
        json={"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": CANARY}}}},
              "note": f"free text mentioning {CANARY}"},
    )
    preview = http.preview(request, auth)
    texts = [str(preview), preview.to_curl(), preview.to_curl(multiline=True), json.dumps(preview.to_dict()),
             repr(preview)]
    async with http:
        with pytest.raises(ApiError) as info:
            await http.send(request, provider="keystone", auth=auth, idempotent=True)
    error = info.value
    texts += [str(error), repr(error), error.message, error.raw_text, json.dumps(error.details), str(error.request),
              error.request.to_curl(), error.details_text()]
    for entry in log:
        texts.append(json.dumps(entry.as_dict()))
    texts.append(repr(AccessToken(CANARY)))
    assert len(log) == 1
    for text in texts:
        assert CANARY not in text, text


def test_static_token_secrets_and_preview():
    auth = StaticToken("Authorization", f"Bearer {CANARY}")
    assert CANARY in auth.secrets()
    assert auth.preview_headers() == {"Authorization": "Bearer ***"}
    assert StaticToken("X-Auth-Token", CANARY).preview_headers() == {"X-Auth-Token": "***"}
    preview = RequestPreview("GET", "https://h/x", (("X-Custom", CANARY),)).masked([CANARY])
    assert preview.header("x-custom") == "***"
