"""Simulated Yandex IAM token exchange: ``POST /iam/v1/tokens``.

Takes ``{"yandexPassportOauthToken": ...}`` (the demo OAuth token) or
``{"jwt": ...}``: a PS256 JWT signed with the demo service account's authorized
key, as Yandex documents it (header ``kid`` = key id; claims ``iss`` = service
account id, ``aud`` = the IAM token URL, ``iat``/``exp`` at most an hour apart).
Answers ``{"iamToken", "expiresAt"}``; errors are ``google.rpc.Status`` bodies.
Token endpoints are not wrapped in fault injection.
"""

from __future__ import annotations

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import Code
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import service_mount
from workbench.sim.yandex_gateway import (
    YandexApiError,
    endpoint,
    json_body,
    parse_request,
    service_app,
    timestamp,
    validation_error,
)

#: The Yandex account behind the demo OAuth token (ids of user accounts start with "aje")
OAUTH_USER_ID = "ajedemouseraccount00"
#: Clock skew tolerated on ``iat``/``exp``, seconds
JWT_LEEWAY = 30


class IamTokens:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    async def create(self, request: Request) -> Response:
        spec: ym.CreateIamTokenRequest = parse_request(ym.CreateIamTokenRequest, await json_body(request))
        if spec.yandex_passport_oauth_token:
            subject = self._oauth_subject(spec.yandex_passport_oauth_token)
        else:
            subject = self._jwt_subject(spec.jwt)
        token = self.ctx.tokens.issue("yandex", subject, ttl=self.ctx.config.token_ttl)
        return JSONResponse({"iamToken": token.value, "expiresAt": timestamp(token.expires_at)})

    def _oauth_subject(self, oauth_token: str) -> str:
        if oauth_token != self.ctx.demo.yandex_oauth_token:
            raise YandexApiError(Code.UNAUTHENTICATED, "The OAuth token is invalid or has expired.")
        return OAUTH_USER_ID

    def _jwt_subject(self, token: str) -> str:
        demo = self.ctx.demo
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise validation_error([("jwt", f"is not a well-formed JWT: {exc}")]) from None
        if header.get("alg") != "PS256":
            raise validation_error([("jwt", f"header alg must be PS256, got {header.get('alg')!r}")])
        if not header.get("kid"):
            raise validation_error([("jwt", "header kid (the authorized key id) is required")])
        if header["kid"] != demo.yandex_service_account_key_id:
            raise YandexApiError(Code.UNAUTHENTICATED, f"Key {header['kid']} not found")
        try:
            claims = jwt.decode(
                token,
                demo.yandex_sa_public_key_pem,
                algorithms=["PS256"],
                audience=ym.IAM_TOKEN_AUDIENCE,
                leeway=JWT_LEEWAY,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidSignatureError:
            raise YandexApiError(Code.UNAUTHENTICATED, "JWT signature is invalid") from None
        except jwt.ExpiredSignatureError:
            raise YandexApiError(Code.UNAUTHENTICATED, "JWT has expired") from None
        except jwt.ImmatureSignatureError:
            raise YandexApiError(Code.UNAUTHENTICATED, "JWT is not yet valid: iat is in the future") from None
        except jwt.InvalidAudienceError:
            raise validation_error([("jwt", f"claim aud must be {ym.IAM_TOKEN_AUDIENCE}")]) from None
        except jwt.MissingRequiredClaimError as exc:
            raise validation_error([("jwt", f"claim {exc.claim} is required")]) from None
        except jwt.InvalidTokenError as exc:
            raise validation_error([("jwt", f"is invalid: {exc}")]) from None
        if claims["iss"] != demo.yandex_service_account_id:
            raise YandexApiError(
                Code.UNAUTHENTICATED, f"Key {header['kid']} does not belong to service account {claims['iss']}"
            )
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > ym.JWT_MAX_LIFETIME:
            raise validation_error([(
                "jwt", f"exp must be at most {ym.JWT_MAX_LIFETIME} s after iat, got {lifetime} s",
            )])
        return claims["iss"]


def mounts(ctx: SimContext) -> list[BaseRoute]:
    tokens = IamTokens(ctx)
    routes: list[BaseRoute] = [Route("/iam/v1/tokens", endpoint(tokens.create), methods=["POST"])]
    return [service_mount(PREFIXES["yandex_iam"], service_app(routes, faults=None))]


__all__ = ["IamTokens", "OAUTH_USER_ID", "mounts"]
