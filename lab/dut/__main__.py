"""CLI: ``python -m lab.dut -config FILE -version 4|6 [-server] [-overrides FILE] [-v N]``.

Flags follow Go's flag package, as dhcplb's do: one or two dashes, ``-name value`` or
``-name=value``, bool flags bare or ``=true/false``; an unknown flag is a one-line error.
Startup prints ``ready: listening on ADDR:PORT`` once the socket is bound; SIGTERM/SIGINT
print ``summary: received=N forwarded=N replied=N dropped=N malformed=N`` and exit 0.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from lab.dut import balancer, netio
from lab.dut.config import Config, load_config
from lab.dut.errors import ConfigError
from lab.dut.hosts import HostFile, OverridesFile, Selector, Watcher
from lab.dut.leases import LeaseStore, Pool
from lab.dut.stats import Counters
from lab.dut.throttle import make_throttle
from lab.errors import LabError, UsageError

log = logging.getLogger("dut")

USAGE = """usage: python -m lab.dut -config FILE [-version 4|6] [-server] [-overrides FILE] [-v N]
  -config FILE      dhcplb JSON config (required)
  -version N        4 or 6 (default 4); one process per address family
  -server           answer DHCP itself from the handler section instead of balancing
  -overrides FILE   dhcplb overrides JSON (MAC -> host/tier with expiration)
  -v N              verbosity; 1 or more logs one line per packet"""

_FLAGS: dict[str, type] = {"config": str, "version": int, "server": bool, "overrides": str,
                           "v": int}
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


@dataclass(frozen=True)
class Args:
    config: str
    version: int = 4
    server: bool = False
    overrides: str | None = None
    verbose: int = 0


class HelpRequested(Exception):
    pass


def _go_int(name: str, value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise UsageError(f'invalid value "{value}" for flag -{name}: parse error') from None


def parse_args(argv: list[str]) -> Args:
    """Go flag-package semantics for dhcplb's flags; UsageError on anything else."""
    values: dict[str, object] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        body = arg[2:] if arg.startswith("--") else arg[1:]
        if not body or body.startswith("-") or body.startswith("="):
            raise UsageError(f"bad flag syntax: {arg}")
        name, eq, value = body.partition("=")
        if name in ("h", "help"):
            raise HelpRequested()
        kind = _FLAGS.get(name)
        if kind is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if kind is bool:
            if not eq:
                values[name] = True
            elif value in _TRUE:
                values[name] = True
            elif value in _FALSE:
                values[name] = False
            else:
                raise UsageError(f'invalid boolean value "{value}" for -{name}: parse error')
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            values[name] = _go_int(name, value) if kind is int else value
        i += 1
    if i < len(argv):
        raise UsageError(f"unexpected argument: {argv[i]}")
    config = values.get("config")
    if not isinstance(config, str) or not config:
        raise UsageError("-config: missing (config file is necessary)")
    version = values.get("version", 4)
    if version not in (4, 6):
        raise UsageError(f"-version: must be 4 or 6, got {version}")
    verbose = values.get("v", 0)
    overrides = values.get("overrides")
    assert isinstance(version, int) and isinstance(verbose, int)
    return Args(config, version, bool(values.get("server", False)),
                overrides if isinstance(overrides, str) and overrides else None, verbose)


def _setup_logging(verbose: int) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    return handler


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build(cfg: Config, verbose: int, counters: Counters) -> tuple[str, Callable[[], None],
                                                                   Callable[[], None]]:
    """Everything that can fail before serving: host files, overrides, leases, socket.
    Returns (listen text, run loop, cleanup)."""
    where = (f"[{cfg.listen_addr}]:{cfg.port}" if cfg.version == 6
             else f"{cfg.listen_addr}:{cfg.port}")
    if not cfg.server:
        assert cfg.host_file is not None
        stable = HostFile(cfg.host_file, cfg.version, "stable")
        if not stable.servers:
            log.warning("host list %s is empty: requests will be dropped until it isn't",
                        cfg.host_file)
        rc = HostFile(cfg.rc_host_file, cfg.version, "rc") if cfg.rc_host_file else None
        overrides = None
        if cfg.overrides_file:
            try:
                overrides = OverridesFile(cfg.overrides_file, cfg.version)
            except ValueError as err:
                raise ConfigError(str(err)) from None
        selector = Selector(cfg.version, cfg.algorithm, cfg.rc_ratio, stable, rc, overrides)
        throttle = make_throttle(cfg.throttle_cache_size, cfg.throttle_cache_rate,
                                 cfg.throttle_rate)
        sources: list[HostFile | OverridesFile] = [stable]
        if rc is not None:
            sources.append(rc)
        if overrides is not None:
            sources.append(overrides)
        watcher = Watcher(cfg.update_server_interval, sources)
        sock, pktinfo = netio.open_socket(cfg.version, cfg.listen_addr, cfg.port, False)
        watcher.start()

        def run_balancer() -> None:
            if cfg.version == 4:
                b4 = balancer.Balancer4(selector, throttle, verbose)
                balancer.run4(sock, b4, cfg.packet_buf_size, counters, pktinfo)
            else:
                b6 = balancer.Balancer6(selector, cfg.packet_buf_size, throttle, verbose)
                balancer.run6(sock, b6, cfg.packet_buf_size, counters, pktinfo)

        def stop_balancer() -> None:
            watcher.stop()
            sock.close()

        log.info("dhcplb-py v%d balancer: algorithm=%s rc_ratio=%d", cfg.version,
                 cfg.algorithm, cfg.rc_ratio)
        return where, run_balancer, stop_balancer

    handler = cfg.handler
    assert handler is not None
    store = LeaseStore(handler.lease_file, Pool(handler.start_ip, handler.end_ip))
    default_local = None if netio.is_wildcard(cfg.listen_addr) else cfg.listen_addr
    raw = None
    if cfg.version == 4:
        from lab.dut.server4 import Server4

        s4 = Server4(handler, store)
        handle: netio.Handler = lambda data, peer, local, ifindex: s4.handle(  # noqa: E731
            data, peer, local, ifindex)  # type: ignore[arg-type]
        try:
            from lab.dut.rawsock import RawSender

            raw = RawSender()
        except OSError as err:
            log.warning("no raw socket (%s): L2 unicast replies will be broadcast", err)
    else:
        from lab.dut.server6 import Server6, load_or_create_duid

        s6 = Server6(handler, store, load_or_create_duid(handler.lease_file))
        log.info("server DUID %s", s6.duid.hex())
        handle = lambda data, peer, local, ifindex: s6.handle(data, peer, local)  # type: ignore[arg-type] # noqa: E731,E501
    sock, _ = netio.open_socket(cfg.version, cfg.listen_addr, cfg.port, True)
    sender = netio.ReplySender(sock, cfg.version, raw)

    def run_server() -> None:
        netio.serve(sock, cfg.version, handle, sender, counters, cfg.packet_buf_size, verbose,
                    default_local)

    def stop_server() -> None:
        sock.close()
        if raw is not None:
            raw.close()

    log.info("dhcplb-py v%d server: pool %s-%s lease %ds", cfg.version, handler.start_ip,
             handler.end_ip, handler.lease_time)
    return where, run_server, stop_server


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise netio.Shutdown(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except HelpRequested:
        _say(USAGE)
        return 0
    except UsageError as err:
        _say(f"error: {err}")
        return 2
    log_handler = _setup_logging(args.verbose)
    counters = Counters()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    stop: Callable[[], None] | None = None
    try:
        try:
            cfg = load_config(args.config, args.version, args.server, args.overrides)
            for warning in cfg.warnings:
                log.warning("%s", warning)
            where, run, stop = build(cfg, args.verbose, counters)
        except LabError as err:
            _say(f"error: {err}")
            return err.exit_code
        _say(f"ready: listening on {where}")
        try:
            run()
        except OSError as err:
            _say(f"error: socket failed: {err.strerror or err}")
            _say(counters.summary())
            return 1
    except netio.Shutdown as sig:
        log.info("got %s, stopping", sig)
        _say(counters.summary())
        return 0
    finally:
        if stop is not None:
            stop()
        for s, h in old.items():
            signal.signal(s, h)
        log.removeHandler(log_handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
