"""Tokens issued by the simulator's token endpoints, shared by every service."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

# Token audiences: which service a token opens.
AUDIENCES = ("arm", "batch", "keystone", "yandex")


@dataclass
class IssuedToken:
    value: str
    audience: str
    expires_at: float  # time.time() seconds
    subject: str = ""
    # Keystone tokens are scoped to a project
    project_id: str = ""


class TokenIssuer:
    """Issues opaque bearer tokens and checks them; thread-safe."""

    def __init__(self, ttl: int = 3600) -> None:
        self.ttl = ttl
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, audience: str, subject: str = "", ttl: int | None = None, project_id: str = "") -> IssuedToken:
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}")
        prefix = {"arm": "eyJ0eXAi.arm.", "batch": "eyJ0eXAi.batch.", "keystone": "gAAAAA", "yandex": "t1.9eu"}[audience]
        token = IssuedToken(
            value=prefix + secrets.token_urlsafe(32),
            audience=audience,
            expires_at=time.time() + (self.ttl if ttl is None else ttl),
            subject=subject,
            project_id=project_id,
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def check(self, audience: str, value: str | None) -> IssuedToken | None:
        """The token if it exists, is for this audience and has not expired."""
        if not value:
            return None
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.audience != audience or token.expires_at <= time.time():
            return None
        return token

    def expire_all(self) -> int:
        """Expire every issued token now (simulates expiry mid-session)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0
            return len(self._tokens)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
