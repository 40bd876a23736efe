"""The one place that knows what a secret looks like, and hides it.

Everything that leaves the HTTP core for a human (previews, ``curl`` exports,
the request log, error messages) passes through here. Masking is structural
where the structure is known (headers, JSON and form bodies, URL queries) and
by value everywhere else (``mask_text`` with the secrets an auth plugin knows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

MASK = "***"

#: Headers whose whole value is a credential (lower case).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-auth-token",
        "x-subject-token",
        "x-service-token",
        "ocp-apim-subscription-key",
        "x-ms-authorization-auxiliary",
        "api-key",
        "x-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
    }
)

#: Body or query fields that hold a secret, compared after ``_normalise``
#: (lower case, without ``_`` and ``-``): ``client_secret`` == ``clientSecret``.
SECRET_FIELDS = frozenset(
    {
        "clientsecret",
        "password",
        "secret",
        "yandexpassportoauthtoken",
        "jwt",
        "accesstoken",
        "iamtoken",
        "refreshtoken",
        "idtoken",
        "token",  # a string; Keystone's {"token": {...}} object is a container (see mask_json)
        "sessiontoken",
        "subjecttoken",
        "authtoken",
        "clientassertion",
        "assertion",
        "privatekey",
        "apikey",
        "accountkey",
        "sharedkey",
        "code",  # OAuth authorization code, in token-endpoint forms
        "sig",  # Azure SAS signature in URLs
        "signature",
        "xamzsignature",
        "xamzsecuritytoken",
        "xamzcredential",
    }
)

#: Suffixes that make any field name secret (``adminPassword``, ``sharedSecret``).
_SECRET_SUFFIXES = ("password", "secret", "passphrase", "privatekey", "accesstoken", "refreshtoken",
                    "iamtoken", "authtoken", "oauthtoken", "apikey")

#: Fields where the name says "code" but it is an error code, not a secret:
#: JSON error bodies are full of ``"code": "NotFound"``. ``code`` is therefore
#: secret only in forms and URL queries (see ``_is_secret_field``).
_FORM_ONLY_FIELDS = frozenset({"code"})


def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _is_secret_field(name: str, *, in_json: bool = False) -> bool:
    key = _normalise(name)
    if key in _FORM_ONLY_FIELDS:
        return not in_json
    return key in SECRET_FIELDS or key.endswith(_SECRET_SUFFIXES)


# -- headers -------------------------------------------------------------------


def mask_header(name: str, value: str) -> str:
    """The value of one header with any credential replaced by ``***``.

    ``Authorization`` keeps its scheme so a reader still sees how a request was
    authenticated: ``Bearer ***``, ``SharedKey account:***``, ``Basic ***``.
    """
    lower = name.lower()
    if lower not in SECRET_HEADERS:
        return value
    if lower in ("authorization", "proxy-authorization"):
        scheme, sep, credentials = value.strip().partition(" ")
        if not sep:
            return MASK
        if scheme.lower() == "sharedkey" and ":" in credentials:
            # "SharedKey <account>:<signature>": the account name is not secret
            account = credentials.split(":", 1)[0]
            return f"{scheme} {account}:{MASK}"
        return f"{scheme} {MASK}"
    if lower == "cookie":
        return "; ".join(
            f"{part.split('=', 1)[0].strip()}={MASK}" if "=" in part else MASK
            for part in value.split(";")
            if part.strip()
        )
    if lower == "set-cookie":
        first, sep, attributes = value.partition(";")
        cookie_name = first.split("=", 1)[0].strip()
        return f"{cookie_name}={MASK}" + (sep + attributes if sep else "")
    return MASK


def mask_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> list[tuple[str, str]]:
    """Header pairs (order and duplicates kept) with credentials masked."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(name, mask_header(name, value)) for name, value in items]


# -- URLs ----------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with secret query parameters (``sig``, ``access_token``, ...) and
    any password in the user-info part masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret_field(key) for key, _ in pairs):
            query = "&".join(
                f"{quote_plus(key)}={MASK if _is_secret_field(key) else quote_plus(value, safe='/:,')}"
                for key, value in pairs
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- bodies --------------------------------------------------------------------


def mask_json(value: Any, *, _parent_key: str = "") -> Any:
    """A copy of a JSON value with secret fields masked, at any depth.

    Beyond "a field with a secret name" (``client_secret``, ``iamToken``,
    ``application_credential.secret``, ...) it knows two shapes:
    - Keystone's ``{"token": {"id": ...}}`` (token method of ``POST /v3/auth/tokens``);
    - JSON-patch operations whose path ends in a secret name
      (``{"op": "add", "path": "/admin_password", "value": ...}``, and v2.0's
      ``{"replace": "/admin_password", "value": ...}``).
    """
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        patch_path = value.get("path") if isinstance(value.get("path"), str) else None
        if patch_path is None:
            # JSON-patch v2.0 shape: {"replace": "/name", "value": ...}
            for verb in ("add", "replace", "remove"):
                if isinstance(value.get(verb), str):
                    patch_path = value[verb]
        secret_patch = patch_path is not None and _is_secret_field(patch_path.rsplit("/", 1)[-1])
        for key, item in value.items():
            if _is_secret_field(key, in_json=True) and not isinstance(item, (dict, list)):
                # (an object under a secret name is a container, as Keystone's
                # {"password": {"user": {...}}}: its secret leaves are masked below)
                masked[key] = MASK
            elif _is_secret_field(key, in_json=True) and isinstance(item, list):
                masked[key] = [mask_json(x) if isinstance(x, (dict, list)) else MASK for x in item]
            elif key == "id" and _normalise(_parent_key) == "token":
                masked[key] = MASK
            elif key == "value" and secret_patch:
                masked[key] = MASK
            else:
                masked[key] = mask_json(item, _parent_key=key)
        return masked
    if isinstance(value, list):
        return [mask_json(item, _parent_key=_parent_key) for item in value]
    return value


def mask_form(text: str) -> str:
    """An ``application/x-www-form-urlencoded`` body with secret fields masked."""
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        return text
    return "&".join(
        f"{quote_plus(key)}={MASK if _is_secret_field(key) else quote_plus(value, safe='/:')}"
        for key, value in pairs
    )


# "name": "value" pairs in JSON text that does not parse (truncated, malformed);
# the value may be cut off by truncation, hence the alternative end ``$``.
_JSON_PAIR_RE = re.compile(r'"([A-Za-z0-9_.\-]{1,64})"\s*:\s*"((?:[^"\\]|\\.)*)(?:"|$)')


def mask_json_text(text: str) -> str:
    """Secret ``"field": "value"`` pairs masked in JSON text that may not parse."""

    def replace(match: re.Match[str]) -> str:
        if _is_secret_field(match.group(1), in_json=True):
            return f'"{match.group(1)}": "{MASK}"'
        return match.group(0)

    return _JSON_PAIR_RE.sub(replace, text)


def mask_body(body: bytes | None, content_type: str | None, secrets: Iterable[str] = ()) -> bytes | None:
    """A request or response body with secrets masked, as bytes.

    JSON (any ``*json*`` media type, or a body that parses as JSON) and forms
    are masked field by field; any other text is scrubbed of known ``secrets``.
    Binary bodies are returned unchanged: callers show a size, not the bytes.
    """
    if not body:
        return body
    ctype = (content_type or "").lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    if "json" in ctype or text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return mask_text(mask_json_text(text), secrets).encode("utf-8")
        else:
            masked = mask_json(data)
            if masked == data and not _contains_any(text, secrets):
                return body  # keep the exact bytes when there is nothing to hide
            return mask_text(json.dumps(masked, ensure_ascii=False), secrets).encode("utf-8")
    if "x-www-form-urlencoded" in ctype:
        return mask_text(mask_form(text), secrets).encode("utf-8")
    return mask_text(text, secrets).encode("utf-8")


# -- free text -----------------------------------------------------------------

# "Bearer eyJ..." or "SharedKey acct:c2ln..." anywhere in a text (an echoed header)
_CREDENTIAL_RE = re.compile(r"(?i)\b(bearer\s+|sharedkey\s+[^\s:]+:)([A-Za-z0-9._~+/=-]{8,})")


def _mask_credential(match: re.Match[str]) -> str:
    value = match.group(2)
    # Only what looks like a token: prose such as "Bearer authentication" stays.
    if len(value) >= 20 or any(c in value for c in "0123456789._~+/="):
        return match.group(1) + MASK
    return match.group(0)


#: Secrets shorter than this are not scrubbed by value: masking "a" or "12"
#: would mangle every text while protecting nothing.
MIN_SECRET_LENGTH = 4


def _variants(secret: str) -> set[str]:
    """The forms a secret takes once it is embedded in a URL, form or JSON text."""
    return {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _contains_any(text: str, secrets: Iterable[str]) -> bool:
    return any(s and len(s) >= MIN_SECRET_LENGTH and s in text for s in secrets)


@lru_cache(maxsize=256)
def _candidates(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every form of ``secrets`` to scrub, longest first (so a secret that
    contains another is masked whole). Cached: the request log masks every
    header and URL of every exchange with the same few secrets, and building
    the variants (three quotings each) cost more than the masking itself."""
    candidates: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            candidates |= _variants(secret)
    return tuple(sorted(candidates, key=len, reverse=True))


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value (and ``Bearer <token>``) masked."""
    if not text:
        return text
    for candidate in _candidates(tuple(secrets)):
        if candidate in text:
            text = text.replace(candidate, MASK)
    return _CREDENTIAL_RE.sub(_mask_credential, text)


__all__ = [
    "MASK",
    "SECRET_HEADERS",
    "SECRET_FIELDS",
    "mask_header",
    "mask_headers",
    "mask_url",
    "mask_json",
    "mask_json_text",
    "mask_form",
    "mask_body",
    "mask_text",
]
