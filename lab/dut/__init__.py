"""A dhcplb-compatible DHCP load balancer and DHCP server: the lab's reference device under test.

Pure stdlib. ``python -m lab.dut -config FILE -version 4|6 [-server] [-v N]``.
Packet handling lives in pure functions (bytes in, list of (bytes, destination) out) so unit
tests can drive every rule without sockets or root; ``netio`` owns the sockets and loops.
"""

from __future__ import annotations
