"""The embedded simulator of the four image APIs and their token endpoints.

``build_app`` returns one ASGI app for in-process use (``httpx.ASGITransport``);
``SimServer`` runs it on a loopback port in a background thread.
"""

from workbench.sim.config import SimConfig

__all__ = ["SimConfig", "build_app", "SimServer"]


def __getattr__(name: str):
    # Lazy so that ``import workbench.sim`` stays cheap for the CLI.
    if name == "build_app":
        from workbench.sim.app import build_app

        return build_app
    if name == "SimServer":
        from workbench.sim.server import SimServer

        return SimServer
    raise AttributeError(name)
