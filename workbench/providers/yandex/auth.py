"""Yandex Cloud authentication: an IAM token, however it is obtained.

Every Yandex API call carries ``Authorization: Bearer <IAM token>``. An IAM
token comes from one of three places:

- a user's OAuth token, exchanged at ``POST {iam}/iam/v1/tokens`` with
  ``{"yandexPassportOauthToken": ...}`` (``OAuthTokenAuth``);
- a service account's authorized key: a PS256 JWT (header ``kid`` = the key
  id; claims ``iss`` = the service account id, ``aud`` = the IAM token URL,
  ``iat``/``exp`` at most an hour apart) signed with the key and exchanged as
  ``{"jwt": ...}`` (``ServiceAccountKeyAuth``);
- an IAM token the user already has (``static_iam_token``), used as is.

The exchanged tokens are cached until shortly before their ``expiresAt``,
refreshed once when the API answers 401, and fetched once for any number of
requests waiting at the same time (``TokenCache``). The OAuth token, the
private key and every IAM token are secrets: the HTTP core masks them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from workbench.core.auth import AccessToken, Auth, NoAuth, StaticToken, TokenAuth
from workbench.core.errors import InvalidResponse
from workbench.core.http import HttpCore, decode_json
from workbench.core.masking import MASK
from workbench.providers.yandex import models as ym

PROVIDER = "yandex"
#: iam.api.cloud.yandex.net: where OAuth tokens and JWTs are exchanged.
IAM_ENDPOINT = "https://iam.api.cloud.yandex.net"
TOKEN_PATH = "/iam/v1/tokens"
#: Lifetime of the JWT we sign: the most the IAM service accepts.
JWT_LIFETIME = ym.JWT_MAX_LIFETIME
#: Refresh an IAM token this many seconds before its ``expiresAt``.
REFRESH_MARGIN = 300.0
#: The longest an IAM token lives (documented); assumed when no expiresAt came.
IAM_TOKEN_MAX_LIFETIME = 12 * 3600


# -- the service-account authorized key ------------------------------------------------
class ServiceAccountKey:
    """A service account's authorized key, as ``yc iam key create`` writes it::

        {"id": "aje...", "service_account_id": "aje...", "created_at": "...",
         "key_algorithm": "RSA_2048", "public_key": "-----BEGIN PUBLIC KEY-----...",
         "private_key": "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <...>\\n-----BEGIN PRIVATE KEY-----..."}

    The API's own spelling (``serviceAccountId``, ``privateKey``) is read too.
    The private key is parsed when the object is made, so a broken key fails
    here, naming the field, not at the first request.
    """

    __slots__ = ("id", "service_account_id", "private_key", "_signing_key")

    def __init__(self, id: str, service_account_id: str, private_key: str) -> None:
        for field, value in (("id", id), ("service_account_id", service_account_id), ("private_key", private_key)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"service account key: {field} is required (a non-empty string)")
        for field, value in (("id", id), ("service_account_id", service_account_id)):
            if len(value) > ym.ID_MAX_LENGTH:
                raise ValueError(f"service account key: {field} must be at most {ym.ID_MAX_LENGTH} characters")
        self.id = id.strip()
        self.service_account_id = service_account_id.strip()
        self.private_key = private_key
        self._signing_key = _load_rsa_private_key(private_key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceAccountKey:
        if not isinstance(data, Mapping):
            raise ValueError("service account key: expected a JSON object with id, service_account_id, private_key")

        def pick(*names: str) -> Any:
            return next((data[name] for name in names if name in data), None)

        return cls(
            id=pick("id", "key_id", "keyId"),
            service_account_id=pick("service_account_id", "serviceAccountId"),
            private_key=pick("private_key", "privateKey"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ServiceAccountKey:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"service account key: not valid JSON ({exc.__class__.__name__})") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServiceAccountKey:
        return cls.from_json(Path(path).read_bytes())

    def make_jwt(self, now: float | None = None, lifetime: int = JWT_LIFETIME) -> str:
        """A signed JWT the IAM service exchanges for an IAM token."""
        if not 0 < lifetime <= ym.JWT_MAX_LIFETIME:
            raise ValueError(f"lifetime: must be between 1 and {ym.JWT_MAX_LIFETIME} seconds, got {lifetime}")
        issued = int(time.time() if now is None else now)
        claims = {"iss": self.service_account_id, "aud": ym.IAM_TOKEN_AUDIENCE, "iat": issued,
                  "exp": issued + lifetime}
        return jwt.encode(claims, self._signing_key, algorithm="PS256", headers={"kid": self.id})

    def __repr__(self) -> str:  # never print the key
        return (f"ServiceAccountKey(id={self.id!r}, service_account_id={self.service_account_id!r}, "
                f"private_key={MASK!r})")


def _load_rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    # Keys made by `yc` start with a "PLEASE DO NOT REMOVE THIS LINE!" line
    # before the PEM block; the PEM block alone is the key.
    start = pem.find("-----BEGIN")
    if start < 0:
        raise ValueError("service account key: private_key is not a PEM-encoded key (no -----BEGIN line)")
    try:
        key = serialization.load_pem_private_key(pem[start:].encode(), password=None)
    except (ValueError, TypeError) as exc:
        # The library's message never contains the key material.
        raise ValueError(f"service account key: private_key cannot be read ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("service account key: private_key must be an RSA key (PS256 signs with RSA)")
    return key


def service_account_key(value: ServiceAccountKey | Mapping[str, Any] | str | bytes) -> ServiceAccountKey:
    """A ``ServiceAccountKey`` from itself, a dict, or the key file's JSON text."""
    if isinstance(value, ServiceAccountKey):
        return value
    if isinstance(value, Mapping):
        return ServiceAccountKey.from_dict(value)
    if isinstance(value, (str, bytes)):
        return ServiceAccountKey.from_json(value)
    raise TypeError(f"service account key: expected a key, a dict or JSON text, got {type(value).__name__}")


# -- the token flows -------------------------------------------------------------------------
class IamTokenAuth(TokenAuth):
    """``Authorization: Bearer <IAM token>`` with tokens from the IAM endpoint.

    Subclasses say what they exchange (``exchange_body``); this class posts
    it, reads ``{"iamToken", "expiresAt"}`` and lets ``TokenCache`` keep the
    token until ``refresh_margin`` seconds before it expires.
    """

    def __init__(
        self,
        http: HttpCore,
        *,
        iam_endpoint: str = IAM_ENDPOINT,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        extra_secrets: list[str] | None = None,
    ) -> None:
        super().__init__(refresh_margin=refresh_margin, clock=clock, extra_secrets=extra_secrets)
        self.http = http
        self.iam_endpoint = iam_endpoint.rstrip("/")
        for secret in extra_secrets or []:
            http.add_secret(secret)

    @property
    def token_url(self) -> str:
        return self.iam_endpoint + TOKEN_PATH

    def exchange_body(self) -> dict[str, str]:
        """The ``CreateIamTokenRequest`` body (one identity)."""
        raise NotImplementedError

    async def fetch_token(self) -> AccessToken:
        body = ym.CreateIamTokenRequest.model_validate(self.exchange_body()).to_wire()
        # Asking for a token twice is harmless, so a throttled or dropped
        # exchange may be retried; any refusal is an AuthError.
        response = await self.http.request(
            "POST", self.token_url, provider=PROVIDER, auth=NoAuth(), json=body, idempotent=True, auth_error=True
        )
        answer = decode_json(response, PROVIDER)
        try:
            parsed = ym.CreateIamTokenResponse.model_validate(answer)
        except ValidationError as exc:
            raise InvalidResponse(PROVIDER, f"the IAM token answer does not parse: "
                                            f"{ym.describe_violations(ym.field_violations(exc))}",
                                  status=response.status_code) from None
        if not parsed.iam_token:
            raise InvalidResponse(PROVIDER, "the IAM token answer has no iamToken", status=response.status_code)
        if parsed.expires_at is not None:
            expires_at = parsed.expires_at.timestamp()
        else:
            expires_at = time.time() + IAM_TOKEN_MAX_LIFETIME
        return AccessToken(parsed.iam_token, expires_at)


class OAuthTokenAuth(IamTokenAuth):
    """IAM tokens bought with a Yandex account's OAuth token."""

    def __init__(self, oauth_token: str, http: HttpCore, **kwargs: Any) -> None:
        if not isinstance(oauth_token, str) or not oauth_token.strip():
            raise ValueError("oauth_token: required (the Yandex OAuth token, y0_...)")
        self.oauth_token = oauth_token.strip()
        super().__init__(http, extra_secrets=[self.oauth_token], **kwargs)

    def exchange_body(self) -> dict[str, str]:
        return {"yandexPassportOauthToken": self.oauth_token}

    def __repr__(self) -> str:
        return f"OAuthTokenAuth(oauth_token={MASK!r}, iam_endpoint={self.iam_endpoint!r})"


class ServiceAccountKeyAuth(IamTokenAuth):
    """IAM tokens bought with a JWT signed by a service account's authorized key."""

    def __init__(self, key: ServiceAccountKey | Mapping[str, Any] | str | bytes, http: HttpCore,
                 **kwargs: Any) -> None:
        self.key = service_account_key(key)
        super().__init__(http, extra_secrets=[self.key.private_key], **kwargs)

    def exchange_body(self) -> dict[str, str]:
        # The JWT's iat is the real time: the IAM service checks it against
        # its own clock (the cache's clock only decides when to refresh).
        return {"jwt": self.key.make_jwt()}

    def __repr__(self) -> str:
        return f"ServiceAccountKeyAuth(key={self.key!r}, iam_endpoint={self.iam_endpoint!r})"


def static_iam_token(iam_token: str) -> StaticToken:
    """An IAM token the user already holds (``yc iam create-token``): no refresh."""
    if not isinstance(iam_token, str) or not iam_token.strip():
        raise ValueError("iam_token: required (an IAM token, t1....)")
    return StaticToken.bearer(iam_token.strip())


def yandex_auth(
    http: HttpCore,
    *,
    oauth_token: str | None = None,
    service_account_key: ServiceAccountKey | Mapping[str, Any] | str | bytes | None = None,
    iam_token: str | None = None,
    iam_endpoint: str = IAM_ENDPOINT,
    refresh_margin: float = REFRESH_MARGIN,
) -> Auth:
    """The auth for exactly one of an OAuth token, a service-account key or an IAM token."""
    given = [name for name, value in (("oauth_token", oauth_token), ("service_account_key", service_account_key),
                                      ("iam_token", iam_token)) if value]
    if len(given) != 1:
        raise ValueError("yandex auth: exactly one of oauth_token, service_account_key, iam_token must be given"
                         + (f", got {', '.join(given)}" if given else ""))
    if oauth_token:
        return OAuthTokenAuth(oauth_token, http, iam_endpoint=iam_endpoint, refresh_margin=refresh_margin)
    if service_account_key:
        return ServiceAccountKeyAuth(service_account_key, http, iam_endpoint=iam_endpoint,
                                     refresh_margin=refresh_margin)
    assert iam_token is not None
    return static_iam_token(iam_token)


__all__ = [
    "IAM_ENDPOINT",
    "IamTokenAuth",
    "OAuthTokenAuth",
    "ServiceAccountKey",
    "ServiceAccountKeyAuth",
    "service_account_key",
    "static_iam_token",
    "yandex_auth",
]
