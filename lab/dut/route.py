"""Where a packet goes: the destination record packet handlers return with each datagram."""

from __future__ import annotations

from typing import NamedTuple


class Dest(NamedTuple):
    """A destination. host/port: UDP destination (numeric address); scope_id: IPv6 zone
    (interface index) for link-local hosts; src: source address to send from (None = let the
    kernel choose); ifindex: send out this interface (0 = routing decides); mac: when set, the
    datagram goes as a link-layer unicast frame to this MAC (DHCPv4 server, RFC 2131 4.1)."""

    host: str
    port: int
    scope_id: int = 0
    src: str | None = None
    ifindex: int = 0
    mac: bytes | None = None

    def sockaddr(self) -> tuple[str, int] | tuple[str, int, int, int]:
        if ":" in self.host:
            return (self.host, self.port, 0, self.scope_id)
        return (self.host, self.port)

    def __str__(self) -> str:
        if ":" in self.host:
            zone = f"%{self.scope_id}" if self.scope_id else ""
            text = f"[{self.host}{zone}]:{self.port}"
        else:
            text = f"{self.host}:{self.port}"
        if self.mac is not None:
            text += " via L2 " + ":".join(f"{b:02x}" for b in self.mac)
        return text


Out = tuple[bytes, Dest]
