"""The real Glance the tests may use: CI exports ``GLANCE_ENDPOINT`` after
starting one with ``shared/real-glance/start-glance.sh``."""

from __future__ import annotations

import os

import httpx


def real_glance_endpoint() -> tuple[str | None, str]:
    """``(endpoint, "")`` if ``GLANCE_ENDPOINT`` answers, else ``(None, why not)`` (a skip reason)."""
    endpoint = os.environ.get("GLANCE_ENDPOINT", "").rstrip("/")
    if not endpoint:
        return None, ("GLANCE_ENDPOINT is not set: start a real Glance with shared/real-glance/start-glance.sh "
                      "(.ci/run does) and export the GLANCE_ENDPOINT it prints")
    try:
        httpx.get(f"{endpoint}/versions", timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        return None, f"GLANCE_ENDPOINT={endpoint} is not reachable: {error}"
    return endpoint, ""
