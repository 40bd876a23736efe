"""Settings of one simulator instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

FAULT_KINDS = ("latency", "throttle", "unavailable", "drop", "fail_operation")


@dataclass
class SimConfig:
    #: Extra images created per provider on top of the realistic catalog.
    seed_images: int = 0
    #: Latency added to every service request, in milliseconds.
    latency_ms: int = 0
    #: Probability (0..1) that a service request meets a fault.
    fault_rate: float = 0.0
    #: Which faults may be injected (subset of FAULT_KINDS).
    fault_kinds: tuple[str, ...] = ("throttle", "unavailable", "drop")
    #: Retry-After (seconds) sent with injected 429/503 answers.
    fault_retry_after: float = 1.0
    #: Status polls a long-running operation needs before it is done.
    operation_polls: int = 2
    #: Retry-After (seconds) advertised on long-running operations.
    operation_retry_after: int = 1
    #: Lifetime of issued tokens, in seconds.
    token_ttl: int = 3600
    #: Seed for the random generator behind faults (None: unpredictable).
    random_seed: int | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "SimConfig":
        """Defaults, then WORKBENCH_SIM_* environment variables, then overrides."""
        config = cls()
        env = os.environ
        if "WORKBENCH_SIM_FAULT_RATE" in env:
            config.fault_rate = float(env["WORKBENCH_SIM_FAULT_RATE"])
        if "WORKBENCH_SIM_FAULT_KINDS" in env:
            config.fault_kinds = tuple(k for k in env["WORKBENCH_SIM_FAULT_KINDS"].split(",") if k)
        if "WORKBENCH_SIM_LATENCY_MS" in env:
            config.latency_ms = int(env["WORKBENCH_SIM_LATENCY_MS"])
        if "WORKBENCH_SIM_OPERATION_POLLS" in env:
            config.operation_polls = int(env["WORKBENCH_SIM_OPERATION_POLLS"])
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        config.validate()
        return config

    def validate(self) -> None:
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate: must be between 0 and 1, got {self.fault_rate}")
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"fault_kinds: unknown {sorted(unknown)}; choose from {list(FAULT_KINDS)}")
        if self.seed_images < 0:
            raise ValueError("seed_images: must be >= 0")
        if self.operation_polls < 0:
            raise ValueError("operation_polls: must be >= 0")
