"""Where the pool's cloud is and which runner keys it uses, with the embedded emulator resolved.

``cloud.base_url: embedded`` starts the local emulator in this process, seeded with sample
jobs, and mints one global runner key per configured key (one when ``cloud.tokens`` is empty).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.config.sections import RunnerConfig
from shared.http.redact import register_secret


@dataclass
class CloudTarget:
    """The cloud the pool talks to: its URL, its runner keys and the embedded emulator, if any."""

    url: str
    tokens: tuple[str, ...]
    emulator: Any | None = None   # emulator.EmulatorServer when embedded

    def token_for_slot(self, slot: int) -> str:
        """The runner key worker ``slot`` leases with: ``tokens[slot % len(tokens)]``."""
        return self.tokens[slot % len(self.tokens)]

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()


def configured_keys(config: RunnerConfig) -> tuple[str, ...]:
    """The runner keys ``config.cloud`` names: its ``tokens``, or else its one ``token``."""
    return tuple(config.cloud.tokens or (config.cloud.token or "",))


def connect_cloud(config: RunnerConfig) -> CloudTarget:
    """Resolve ``config.cloud``; starts the embedded emulator when asked to."""
    if not config.embedded_cloud:
        return CloudTarget(url=config.cloud.base_url, tokens=configured_keys(config))
    from emulator import EmulatorServer  # imported only when used: production pools never load it

    server = EmulatorServer(config=config.emulator)
    server.start()
    count = max(1, len(config.cloud.tokens))
    tokens = []
    for index in range(count):
        token = server.create_instance(kind="global", name=f"embedded-{index + 1}")["runnerToken"]
        register_secret(token)
        tokens.append(token)
    return CloudTarget(url=server.url, tokens=tuple(tokens), emulator=server)
