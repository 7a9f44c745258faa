"""Config parsing: dhcplb's schema, errors naming the key, unknown-key warnings."""

from __future__ import annotations

import json

import pytest

from lab.dut.config import parse_config, parse_go_duration
from lab.dut.errors import ConfigError

BASE4 = {"version": 4, "listen_addr": "0.0.0.0", "port": 67, "algorithm": "xid",
         "host_sourcer": "file:/tmp/hosts-v4.txt", "update_server_interval": 30,
         "packet_buf_size": 1024, "rc_ratio": 0, "throttle_cache_size": 1024,
         "throttle_cache_rate": 128, "throttle_rate": 256, "free_conn_timeout": 30}
HANDLER4 = {"type": "range", "start_ip": "192.168.100.10", "end_ip": "192.168.100.50",
            "lease_time": "10m", "lease_file": "/tmp/leases4.json",
            "options": {"subnet-mask": "255.255.255.0", "router": "192.168.100.1",
                        "dns-server": ["192.168.100.1"], "domain-search": ["lab.example"]}}
HANDLER6 = {"type": "range", "start_ip": "fd00:100::10", "end_ip": "fd00:100::50",
            "lease_time": "1h30m", "lease_file": "/tmp/leases6.json",
            "options": {"dns-server": ["fd00:100::1"], "domain-search": ["lab.example"],
                        "preference": 255, "rapid_commit": True}}


def doc(v4: dict[str, object] | None = None, v6: dict[str, object] | None = None) -> str:
    d: dict[str, object] = {}
    if v4 is not None:
        d["v4"] = v4
    if v6 is not None:
        d["v6"] = v6
    return json.dumps(d)


def test_dhcplb_sample_config_parses() -> None:
    cfg = parse_config(doc(BASE4), 4)
    assert (cfg.listen_addr, cfg.port, cfg.algorithm) == ("0.0.0.0", 67, "xid")
    assert cfg.host_file == "/tmp/hosts-v4.txt" and cfg.rc_host_file is None
    assert cfg.throttle_rate == 256 and cfg.warnings == ()


def test_rc_file_from_host_sourcer() -> None:
    cfg = parse_config(doc({**BASE4, "host_sourcer": "file:/a,/b", "rc_ratio": 10}), 4)
    assert (cfg.host_file, cfg.rc_host_file, cfg.rc_ratio) == ("/a", "/b", 10)


def test_server_handler_v4() -> None:
    cfg = parse_config(doc({**BASE4, "handler": HANDLER4}), 4, server=True)
    assert cfg.handler is not None
    assert cfg.handler.lease_time == 600
    assert cfg.handler.options.routers == ("192.168.100.1",)
    assert cfg.handler.options.domain_search == ("lab.example",)


def test_server_handler_v6_with_our_knobs() -> None:
    v6 = {"version": 6, "listen_addr": "::", "port": 547, "handler": HANDLER6}
    cfg = parse_config(doc(v6=v6), 6, server=True)
    assert cfg.handler is not None
    assert cfg.handler.lease_time == 5400
    assert cfg.handler.options.preference == 255 and cfg.handler.options.rapid_commit


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("port", "x", 'v4.port: must be an integer 1..65535, got "x"'),
        ("port", 0, "v4.port: must be an integer 1..65535, got 0"),
        ("port", True, "v4.port: must be an integer 1..65535, got true"),
        ("listen_addr", "::", 'v4.listen_addr: must be an IPv4 address, got "::"'),
        ("algorithm", "hash", 'v4.algorithm: must be "xid" or "rr", got "hash"'),
        ("rc_ratio", 101, "v4.rc_ratio: must be an integer 0..100, got 101"),
        ("host_sourcer", "dns:x", "v4.host_sourcer: must be"),
        ("packet_buf_size", 10, "v4.packet_buf_size: must be an integer"),
        ("throttle_rate", -1, "v4.throttle_rate: must be an integer >= 0, got -1"),
        ("update_server_interval", "1s", "v4.update_server_interval: must be a number"),
        ("version", 6, "v4.version: must be 4, got 6"),
    ],
)
def test_bad_value_names_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(doc({**BASE4, key: value}), 4)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"lease_time": "10 minutes"}, "v4.handler.lease_time: must be a Go duration"),
        ({"start_ip": "10.0.0.300"}, "v4.handler.start_ip: must be an IPv4 address"),
        ({"end_ip": "192.168.100.1"}, "v4.handler.end_ip: must not be below start_ip"),
        ({"type": "file"}, 'v4.handler.type: must be "range"'),
        ({"options": {"dns-server": ["fd00::1"]}}, "v4.handler.options.dns-server[0]"),
        ({"options": {"subnet-mask": "255.0.255.0"}}, "v4.handler.options.subnet-mask"),
        ({"options": {"domain-search": ["bad domain"]}}, "v4.handler.options.domain-search[0]"),
    ],
)
def test_bad_handler_value_names_the_key(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(doc({**BASE4, "handler": {**HANDLER4, **patch}}), 4, server=True)
    assert str(err.value).startswith(message)


def test_v6_preference_range() -> None:
    bad = {**HANDLER6, "options": {"preference": 256}}
    with pytest.raises(ConfigError, match=r"^v6\.handler\.options\.preference: must be an "
                                          r"integer 0\.\.255, got 256$"):
        parse_config(doc(v6={"handler": bad}), 6, server=True)


def test_unknown_keys_warn() -> None:
    cfg = parse_config(json.dumps({"v4": {**BASE4, "colour": "blue"}, "v5": {}}), 4)
    assert "v4.colour: unknown key, ignored" in cfg.warnings
    assert "v5: unknown key, ignored" in cfg.warnings


def test_unknown_handler_option_warns() -> None:
    h = {**HANDLER4, "options": {**HANDLER4["options"], "ntp-server": ["1.2.3.4"]}}  # type: ignore[dict-item]
    cfg = parse_config(doc({**BASE4, "handler": h}), 4, server=True)
    assert "v4.handler.options.ntp-server: unknown key, ignored" in cfg.warnings


def test_missing_pieces() -> None:
    with pytest.raises(ConfigError, match="^v6: missing section$"):
        parse_config(doc(BASE4), 6)
    with pytest.raises(ConfigError, match="^v4.host_sourcer: missing"):
        parse_config(doc({"version": 4}), 4)
    with pytest.raises(ConfigError, match="^v4.handler: missing"):
        parse_config(doc(BASE4), 4, server=True)
    with pytest.raises(ConfigError, match="^config: invalid JSON"):
        parse_config("{", 4)


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("90s", 90),
                                               ("1.5h", 5400), ("500ms", 0.5), ("0", 0)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "1h 30m", "-1m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)
