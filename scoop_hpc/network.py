"""Which address the broker listens on, and which one each host dials.

The broker never listens on every interface. With remote hosts it binds
one TCP port on the address chosen by, in order:

- ``--interface NAME``: that interface's IPv4 address (e.g. ``ib0``);
- ``--broker-hostname``/``--external-hostname H``: the address ``H``
  resolves to, and remote hosts dial ``H``;
- otherwise, for each remote host, the local address the kernel routes
  to it from (no packet is sent to find it).
"""
from __future__ import annotations

import socket
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import UsageError

ANY = "0.0.0.0"


def interface_address(name: str) -> str:
    """The IPv4 address of interface ``name``.

    Raises:
        UsageError: no such interface, or it has no IPv4 address.
    """
    import psutil
    interfaces = psutil.net_if_addrs()
    if name not in interfaces:
        raise UsageError(f"--interface {name}: no such interface on this "
                         f"host (it has {', '.join(sorted(interfaces))})")
    for entry in interfaces[name]:
        if entry.family == socket.AF_INET:
            return entry.address
    raise UsageError(f"--interface {name}: the interface has no IPv4 "
                     f"address")


def resolve(name: str, option: str = "host") -> str:
    """The IPv4 address of ``name``.

    Raises:
        UsageError: the name does not resolve.
    """
    try:
        return socket.gethostbyname(name)
    except OSError as exc:
        raise UsageError(f"{option} {name}: cannot resolve it ({exc})") \
            from None


def facing_address(host: str) -> str:
    """The local address this host uses to reach ``host``.

    A UDP socket is connected (which sends nothing) and asked its own
    address: the source address of the route to ``host``.
    """
    target = resolve(host)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((target, 9))
        except OSError as exc:
            raise UsageError(f"no route from this host to {host} "
                             f"({target}): {exc}; name the address to use "
                             f"with --interface or --broker-hostname") \
                from None
        return probe.getsockname()[0]


def plan(remote_hosts: Iterable[str], interface: Optional[str] = None,
         hostname: Optional[str] = None,
         bind_all: bool = False) -> Tuple[List[str],
                                                  Dict[str, Tuple[str, str]],
                                                  Dict[str, str]]:
    """Choose what the broker binds and what each remote host dials.

    Returns ``(binds, routes, unreachable)``: the TCP addresses to bind
    (port 0: any free port); per remote host, ``(bound address, name to
    dial)``; and, per host without a route (its name does not resolve),
    why. Only the last way of choosing needs the hosts' addresses: with
    the first two, a host that cannot be reached fails when ssh tries it.

    ``bind_all`` (``--bind-all``) binds every interface instead; hosts
    still dial the address chosen for them.

    Raises:
        UsageError: a bad ``--interface`` or ``--broker-hostname``.
    """
    unreachable: Dict[str, str] = {}
    if interface:
        address = interface_address(interface)
        routes = {host: (address, address) for host in remote_hosts}
    elif hostname:
        address = resolve(hostname, "--broker-hostname")
        routes = {host: (address, hostname) for host in remote_hosts}
    else:
        routes = {}
        for host in remote_hosts:
            try:
                routes[host] = (facing_address(host),) * 2
            except UsageError as exc:
                unreachable[host] = str(exc)
    binds = sorted({f"tcp://{bound}:0" for bound, _ in routes.values()})
    if bind_all and binds:
        binds = [f"tcp://{ANY}:0"]
    return binds, routes, unreachable


def dial(bound: Dict[str, str], route: Tuple[str, str]) -> str:
    """The address a remote host dials, given the bound ``tcp://ip:port``
    of each address (``bound`` maps the ip to it; ``0.0.0.0`` serves
    every ip under ``--bind-all``)."""
    ip, name = route
    port = bound.get(ip, bound.get(ANY, "")).rsplit(":", 1)[1]
    return f"tcp://{name}:{port}"
