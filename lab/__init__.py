"""dhcp-lab: a namespace test lab for DHCP relays, load balancers and servers.

Pipeline: topology spec -> running lab -> pcap file -> decoded packets -> normalized flow
-> golden diff. Only the first three stages touch the system.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
