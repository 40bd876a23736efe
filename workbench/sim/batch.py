"""Simulated service: batch (being written)."""

from starlette.routing import BaseRoute

from workbench.sim.context import SimContext


def mounts(ctx: SimContext) -> list[BaseRoute]:
    return []
