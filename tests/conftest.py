"""Fixtures shared by every test: the simulator in-process and on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import keyring
import pytest

from tests.memory_keyring import MemoryKeyring
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.sim.server import SimServer

IN_PROCESS_BASE = "http://sim.test"


@pytest.fixture
def sim_config() -> SimConfig:
    """Override in a test module to change the simulator's settings."""
    return SimConfig(operation_polls=2, operation_retry_after=0)


@pytest.fixture
def sim_context(sim_config: SimConfig) -> SimContext:
    return SimContext(sim_config)


@pytest.fixture
def sim_app(sim_context: SimContext):
    return build_app(context=sim_context)


@pytest.fixture
def sim_endpoints(sim_app, sim_context: SimContext) -> dict:
    """The endpoints document of the in-process simulator (base ``http://sim.test``)."""
    return endpoints_document(IN_PROCESS_BASE, sim_context)


@pytest.fixture
async def sim_client(sim_app):
    """An httpx client talking to the simulator in-process."""
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE) as client:
        yield client


@pytest.fixture
def sim_server(sim_config: SimConfig):
    """The simulator on a free loopback port, for real-HTTP tests."""
    with SimServer(sim_config) as server:
        yield server


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The OS keyring replaced by one in memory for the test (``keyring.set_keyring``), restored after."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
