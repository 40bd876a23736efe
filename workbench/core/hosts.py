"""Which hosts stay on this machine (plain http to them is no exposure, a
server bound to them is not reachable from elsewhere)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``localhost`` or an IP address, IPv6 without brackets) is loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
