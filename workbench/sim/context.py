"""What every simulated service of one simulator instance shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.sim.config import SimConfig
from workbench.sim.demo import DEMO, DemoIdentity
from workbench.sim.faults import FaultInjector
from workbench.sim.tokens import TokenIssuer


@dataclass
class SimContext:
    config: SimConfig
    demo: DemoIdentity = DEMO
    tokens: TokenIssuer = field(init=False)
    faults: FaultInjector = field(init=False)
    #: Each service's state object, by service name, for the admin endpoints.
    states: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokens = TokenIssuer(ttl=self.config.token_ttl)
        self.faults = FaultInjector(self.config)
