"""The summary counters a DUT process prints when it stops."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    """received: datagrams read; forwarded: sent to a backend; replied: replies sent (server
    mode) or RELAY-REPL payloads passed back toward a relay/client (balancer mode); dropped:
    well-formed but not sent (no backend, throttled, ignored by RFC rules, send error);
    malformed: truncated or unparsable."""

    received: int = 0
    forwarded: int = 0
    replied: int = 0
    dropped: int = 0
    malformed: int = 0

    def add(self, received: int = 0, forwarded: int = 0, replied: int = 0, dropped: int = 0,
            malformed: int = 0) -> None:
        self.received += received
        self.forwarded += forwarded
        self.replied += replied
        self.dropped += dropped
        self.malformed += malformed

    def summary(self) -> str:
        return (f"summary: received={self.received} forwarded={self.forwarded} "
                f"replied={self.replied} dropped={self.dropped} malformed={self.malformed}")
