"""dhcplb's JSON config: parse and validate one family's section into frozen dataclasses.

The schema is dhcplb's (``v4``/``v6`` sections; see lab-facts.md) plus our knobs: handler
options ``preference`` and ``rapid_commit`` (v6) and ``overrides_file``. Every error names the
key path (``v4.port: must be ...``); an unknown key is a warning, not an error.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from lab.dut.errors import ConfigError

ALGORITHMS = ("xid", "rr")

# Keys dhcplb knows in a section, plus ours. free_conn_timeout and extras are accepted and unused.
SECTION_KEYS = frozenset(
    {
        "version",
        "listen_addr",
        "port",
        "packet_buf_size",
        "update_server_interval",
        "free_conn_timeout",
        "algorithm",
        "host_sourcer",
        "rc_ratio",
        "throttle_cache_size",
        "throttle_cache_rate",
        "throttle_rate",
        "extras",
        "handler",
        "overrides_file",
    }
)
HANDLER_KEYS = frozenset(
    {"type", "start_ip", "end_ip", "lease_time", "lease_file", "options", "rapid_commit"}
)
OPTION_KEYS = {
    4: frozenset({"subnet-mask", "router", "dns-server", "domain-search"}),
    6: frozenset({"dns-server", "domain-search", "preference", "rapid_commit"}),
}


@dataclass(frozen=True)
class HandlerOptions:
    """Options the server hands out. Fields: subnet_mask (v4), routers (v4), dns_servers,
    domain_search, preference (v6 option 7, None = not sent), rapid_commit (v6)."""

    subnet_mask: str | None = None
    routers: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    domain_search: tuple[str, ...] = ()
    preference: int | None = None
    rapid_commit: bool = False


@dataclass(frozen=True)
class HandlerConfig:
    """Server mode's ``handler``. Fields: start_ip, end_ip (inclusive range), lease_time
    (seconds), lease_file (None = leases kept in memory only), options."""

    start_ip: str
    end_ip: str
    lease_time: int
    lease_file: str | None
    options: HandlerOptions


@dataclass(frozen=True)
class Config:
    """One family's validated section. host_file/rc_host_file come from ``host_sourcer``
    ("file:STABLE[,RC]" as in dhcplb); warnings lists unknown keys and ignored values."""

    version: int
    server: bool
    listen_addr: str
    port: int
    algorithm: str = "xid"
    rc_ratio: int = 0
    host_file: str | None = None
    rc_host_file: str | None = None
    update_server_interval: float = 30.0
    packet_buf_size: int = 1024
    throttle_cache_size: int = 1024
    throttle_cache_rate: int = 0
    throttle_rate: int = 0
    overrides_file: str | None = None
    handler: HandlerConfig | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)


def _got(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _int(path: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
        hi is not None and value > hi
    ):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"{path}: must be an integer {rng}, got {_got(value)}")
    return value


def _number(path: str, value: object, lo: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < lo:
        raise ConfigError(f"{path}: must be a number >= {lo:g}, got {_got(value)}")
    return float(value)


def _str(path: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: must be a non-empty string, got {_got(value)}")
    return value


def _ip(path: str, value: object, version: int) -> str:
    if isinstance(value, str):
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            addr = None
        if addr is not None and addr.version == version:
            return str(addr)
    raise ConfigError(f"{path}: must be an IPv{version} address, got {_got(value)}")


def _ip_list(path: str, value: object, version: int) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{path}: must be a list of IPv{version} addresses, got {_got(value)}")
    return tuple(_ip(f"{path}[{i}]", v, version) for i, v in enumerate(value))


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _domains(path: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{path}: must be a list of domain names, got {_got(value)}")
    out = []
    for i, v in enumerate(value):
        name = v.rstrip(".") if isinstance(v, str) else None
        if not name or len(name) > 253 or not all(_LABEL.match(x) for x in name.split(".")):
            raise ConfigError(f"{path}[{i}]: must be a domain name, got {_got(v)}")
        out.append(name)
    return tuple(out)


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Parse a Go duration ("10m", "1h30m", "90s", "1.5h") into seconds; ValueError if bad."""
    s = text.strip()
    if s in ("0", ""):
        if s == "0":
            return 0.0
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"bad duration {text!r}")
    return total


def _lease_time(path: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError:
            seconds = 0
        if seconds >= 1:
            return int(seconds)
    raise ConfigError(
        f'{path}: must be a Go duration such as "10m" (at least 1s), got {_got(value)}'
    )


def _unknown(path: str, obj: dict[str, Any], known: frozenset[str], warnings: list[str]) -> None:
    for key in obj:
        if key not in known:
            warnings.append(f"{path}.{key}: unknown key, ignored")


def _handler(path: str, raw: object, version: int, warnings: list[str]) -> HandlerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be an object, got {_got(raw)}")
    _unknown(path, raw, HANDLER_KEYS, warnings)
    htype = raw.get("type", "range")
    if htype != "range":
        raise ConfigError(f'{path}.type: must be "range", got {_got(htype)}')
    for key in ("start_ip", "end_ip"):
        if key not in raw:
            raise ConfigError(f"{path}.{key}: missing")
    start = _ip(f"{path}.start_ip", raw["start_ip"], version)
    end = _ip(f"{path}.end_ip", raw["end_ip"], version)
    if int(ipaddress.ip_address(start)) > int(ipaddress.ip_address(end)):
        raise ConfigError(f"{path}.end_ip: must not be below start_ip {start}, got {_got(end)}")
    lease = _lease_time(f"{path}.lease_time", raw.get("lease_time", "10m"))
    lease_file = raw.get("lease_file")
    if lease_file is not None:
        lease_file = _str(f"{path}.lease_file", lease_file)
    rawopts = raw.get("options", {})
    opath = f"{path}.options"
    if not isinstance(rawopts, dict):
        raise ConfigError(f"{opath}: must be an object, got {_got(rawopts)}")
    _unknown(opath, rawopts, OPTION_KEYS[version], warnings)
    mask = None
    if version == 4 and "subnet-mask" in rawopts:
        mask = _ip(f"{opath}.subnet-mask", rawopts["subnet-mask"], 4)
        try:
            ipaddress.ip_network(f"0.0.0.0/{mask}")
        except ValueError:
            raise ConfigError(
                f"{opath}.subnet-mask: must be a contiguous netmask, got {_got(mask)}"
            ) from None
    routers: tuple[str, ...] = ()
    if version == 4 and "router" in rawopts:
        routers = _ip_list(f"{opath}.router", rawopts["router"], 4)
    dns = _ip_list(f"{opath}.dns-server", rawopts.get("dns-server", []), version)
    search = _domains(f"{opath}.domain-search", rawopts.get("domain-search", []))
    pref = None
    rapid = False
    if version == 6:
        if "preference" in rawopts:
            pref = _int(f"{opath}.preference", rawopts["preference"], 0, 255)
        for where, src in ((path, raw), (opath, rawopts)):
            if "rapid_commit" in src:
                if not isinstance(src["rapid_commit"], bool):
                    raise ConfigError(
                        f"{where}.rapid_commit: must be true or false, "
                        f"got {_got(src['rapid_commit'])}"
                    )
                rapid = rapid or src["rapid_commit"]
    elif "rapid_commit" in raw:
        warnings.append(f"{path}.rapid_commit: only used in v6, ignored")
    opts = HandlerOptions(mask, routers, dns, search, pref, rapid)
    return HandlerConfig(start, end, lease, lease_file, opts)


def parse_config(
    text: str, version: int, server: bool = False, overrides_path: str | None = None
) -> Config:
    """Validate the JSON text's section for ``version``; raise ConfigError naming the key."""
    if version not in (4, 6):
        raise ConfigError(f"-version: must be 4 or 6, got {version}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"config: invalid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config: must be a JSON object, got {type(doc).__name__}")
    warnings: list[str] = []
    for key in doc:
        if key not in ("v4", "v6"):
            warnings.append(f"{key}: unknown key, ignored")
    sec = f"v{version}"
    raw = doc.get(sec)
    if raw is None:
        raise ConfigError(f"{sec}: missing section")
    if not isinstance(raw, dict):
        raise ConfigError(f"{sec}: must be an object, got {_got(raw)}")
    _unknown(sec, raw, SECTION_KEYS, warnings)

    ver = raw.get("version", version)
    if ver != version:
        raise ConfigError(f"{sec}.version: must be {version}, got {_got(ver)}")
    listen = _ip(f"{sec}.listen_addr", raw.get("listen_addr", "0.0.0.0" if version == 4 else "::"),
                 version)
    port = _int(f"{sec}.port", raw.get("port", 67 if version == 4 else 547), 1, 65535)
    algorithm = raw.get("algorithm", "xid")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f'{sec}.algorithm: must be "xid" or "rr", got {_got(algorithm)}')
    rc_ratio = _int(f"{sec}.rc_ratio", raw.get("rc_ratio", 0), 0, 100)
    interval = _number(f"{sec}.update_server_interval", raw.get("update_server_interval", 30), 0)
    bufsize = _int(f"{sec}.packet_buf_size", raw.get("packet_buf_size", 1024), 128, 65535)
    if "free_conn_timeout" in raw:
        _int(f"{sec}.free_conn_timeout", raw["free_conn_timeout"], 0)
    tsize = _int(f"{sec}.throttle_cache_size", raw.get("throttle_cache_size", 1024), 0)
    trate_cache = _int(f"{sec}.throttle_cache_rate", raw.get("throttle_cache_rate", 0), 0)
    trate = _int(f"{sec}.throttle_rate", raw.get("throttle_rate", 0), 0)
    if trate > 0 and tsize < 1:
        raise ConfigError(f"{sec}.throttle_cache_size: must be >= 1 when throttle_rate is set, "
                          f"got {tsize}")

    host_file = rc_file = None
    if "host_sourcer" in raw:
        hs = _str(f"{sec}.host_sourcer", raw["host_sourcer"])
        kind, sep, args = hs.partition(":")
        if kind != "file" or not sep or not args.split(",")[0]:
            raise ConfigError(
                f'{sec}.host_sourcer: must be "file:PATH" or "file:PATH,RCPATH", got {_got(hs)}'
            )
        parts = args.split(",")
        if len(parts) > 2 or (len(parts) == 2 and not parts[1]):
            raise ConfigError(
                f'{sec}.host_sourcer: must be "file:PATH" or "file:PATH,RCPATH", got {_got(hs)}'
            )
        host_file = parts[0]
        rc_file = parts[1] if len(parts) == 2 else None
    elif not server:
        raise ConfigError(f'{sec}.host_sourcer: missing (balancer mode needs "file:PATH")')
    if rc_ratio > 0 and rc_file is None and not server:
        warnings.append(f"{sec}.rc_ratio: {rc_ratio} but host_sourcer has no RC file; "
                        "RC picks will be dropped")

    overrides = overrides_path
    if "overrides_file" in raw:
        ov = _str(f"{sec}.overrides_file", raw["overrides_file"])
        overrides = overrides or ov

    handler = None
    if "handler" in raw:
        handler = _handler(f"{sec}.handler", raw["handler"], version, warnings)
    elif server:
        raise ConfigError(f"{sec}.handler: missing (server mode needs a handler)")

    return Config(
        version=version,
        server=server,
        listen_addr=listen,
        port=port,
        algorithm=algorithm,
        rc_ratio=rc_ratio,
        host_file=host_file,
        rc_host_file=rc_file,
        update_server_interval=interval,
        packet_buf_size=bufsize,
        throttle_cache_size=tsize,
        throttle_cache_rate=trate_cache,
        throttle_rate=trate,
        overrides_file=overrides,
        handler=handler,
        warnings=tuple(warnings),
    )


def load_config(
    path: str, version: int, server: bool = False, overrides_path: str | None = None
) -> Config:
    """Read and validate the config file; an unreadable file is a ConfigError too."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ConfigError(f"config: cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path} is not UTF-8 text") from None
    return parse_config(text, version, server, overrides_path)
