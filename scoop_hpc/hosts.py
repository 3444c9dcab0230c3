"""Where the workers go: host lists, hostfiles and SCOOP's ``-n`` rules.

A layout is a list of :class:`Host` (a name and a worker count) in the order
the workers are numbered: worker ``w0``, the root, runs on the first host.

Hostfile lines (``#`` starts a comment; blank lines are skipped)::

    node1 4           SCOOP: a name and a worker count
    node2 slots=4     MPI style (max_slots=... is accepted and ignored)
    node3:4           MPICH style
    node4             one worker; a name repeated on several lines adds up
    gpu[01-04] 2      a Slurm-style range: gpu01 ... gpu04, 2 workers each

``--hosts`` takes the same names (once per worker, or ``node3:4``, or a
range such as ``gpu[01-04]``: one worker on each), several to a word
when separated by commas.
"""
from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import re
import socket
from typing import Iterable, List, NamedTuple, Optional, Sequence

from .errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9_.\-:]+$")
_COUNT = re.compile(r"^(?:slots=)?(\d+)$")
_BRACKETS = "[]"


class Host(NamedTuple):
    """A host and the number of workers it runs."""

    name: str
    workers: int


class HostfileError(UsageError):
    """A hostfile line that cannot be read; names the file and the line."""

    def __init__(self, path: str, lineno: int, text: str, why: str) -> None:
        super().__init__(f"hostfile {path}, line {lineno}: {text.strip()!r}:"
                         f" {why}")
        self.path = path
        self.lineno = lineno


def read_hostfile(path: str) -> List[Host]:
    """Read a hostfile (see the module's documentation) into a layout.

    Raises:
        UsageError: the file cannot be read or holds no host.
        HostfileError: a line is malformed.
    """
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the hostfile {path}: {exc}") from exc
    hosts: List[Host] = []
    for lineno, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            hosts.extend(_parse_line(path, lineno, line, text))
    if not hosts:
        raise UsageError(f"the hostfile {path} names no host")
    return merge(hosts)


def _parse_line(path: str, lineno: int, line: str,
                text: str) -> List[Host]:
    fields = text.split()
    count = fields[1] if len(fields) > 1 else None
    extra = [f for f in fields[2:] if not f.startswith("max_slots=")]
    if extra:
        raise HostfileError(path, lineno, line,
                            f"unexpected {extra[0]!r} after the count")
    try:
        return [_host(name, count) for name in _expand(fields[0])]
    except ValueError as exc:
        raise HostfileError(path, lineno, line, str(exc)) from None


def _expand(word: str) -> List[str]:
    """``node[1-3]`` -> ``node1 node2 node3`` (``schedulers.hostlist``);
    a word without brackets is one name.

    Raises:
        ValueError: a malformed range: what is wrong and what to do.
    """
    if not any(bracket in word for bracket in _BRACKETS):
        return [word]
    from .schedulers import hostlist  # which imports this module
    try:
        return hostlist.expand(word, "host")
    except hostlist.HostlistError as exc:
        raise ValueError(f"{exc.problem}; {exc.hint}") from None


class _NotAName(ValueError):
    """A word that is not a host name (as opposed to a bad count)."""


def _host(name: str, count: Optional[str]) -> Host:
    """A host from a name (``node1`` or MPICH's ``node1:4``) and the
    count after it on its line, if any.

    Raises:
        _NotAName: the name is not one.
        ValueError: why the count is not one.
    """
    if count is None:
        count = "1"
        if name.count(":") == 1:               # not IPv6's ::1
            name, count = name.split(":")
    if not _NAME.match(name):
        raise _NotAName("not a host name")
    match = _COUNT.match(count)
    if match is None:
        raise ValueError("the count must be a whole number, as in "
                         "'node1 4', 'node1 slots=4' or 'node1:4'")
    workers = int(match.group(1))
    if workers < 1:
        raise ValueError("the count must be at least 1")
    return Host(name, workers)


def from_names(names: Sequence[str]) -> List[Host]:
    """``--hosts a a b``: a name once per worker -> ``[a: 2, b: 1]``.

    A word may hold several names separated by commas, ranges
    (``node[1-3]``: one worker on each) and counts (``node1:4``).

    >>> from_names(["a,node[1-2]:2", "a"])
    [Host(name='a', workers=2), Host(name='node1', workers=2), \
Host(name='node2', workers=2)]
    """
    hosts = []
    for word in names:
        try:
            parts = (_expand(word) if any(b in word for b in _BRACKETS)
                     else word.split(","))
        except ValueError as exc:
            raise UsageError(f"--hosts: {word!r}: {exc}") from None
        for part in filter(None, parts):
            try:
                hosts.append(_host(part, None))
            except _NotAName:
                raise UsageError(
                    f"--hosts: {part!r} is not a host name") from None
            except ValueError:
                raise UsageError(
                    f"--hosts: {part!r}: the count after ':' must be a "
                    f"whole number, at least 1, as in 'node1:4'") from None
    if not hosts:
        raise UsageError("--hosts: no host given")
    return merge(hosts)


def merge(hosts: Iterable[Host]) -> List[Host]:
    """Add up the counts of repeated names, keeping first-seen order."""
    counts: dict = {}
    for host in hosts:
        counts[host.name] = counts.get(host.name, 0) + host.workers
    return [Host(name, count) for name, count in counts.items()]


def distribute(hosts: Sequence[Host], workers: Optional[int]) -> List[Host]:
    """Apply SCOOP's ``-n`` rules to a layout.

    ``None`` keeps the counts. Fewer workers than the counts add up to:
    the hosts are filled in order, each with its whole count, and the last
    one used gets what is left. More: the extra workers are added one per
    host, round-robin from the first.

    >>> distribute([Host("a", 2), Host("b", 2)], 3)
    [Host(name='a', workers=2), Host(name='b', workers=1)]
    >>> distribute([Host("a", 2), Host("b", 1)], 6)
    [Host(name='a', workers=4), Host(name='b', workers=2)]
    """
    if workers is None:
        return list(hosts)
    if workers < 1:
        raise UsageError(f"-n must be at least 1, not {workers}")
    if not hosts:
        raise UsageError("no host to place workers on")
    placed, left = [], workers
    for host in hosts:
        if left == 0:
            break
        placed.append(Host(host.name, min(host.workers, left)))
        left -= placed[-1].workers
    for turn in range(left):
        index = turn % len(placed)
        placed[index] = Host(placed[index].name, placed[index].workers + 1)
    return placed


def summary(hosts: Iterable[Host]) -> str:
    """``node1 x2, node2 x2``."""
    return ", ".join(f"{h.name} x{h.workers}" for h in hosts)


def is_local(name: str) -> bool:
    """Whether ``name`` is this machine (its names or one of its addresses).

    Only addresses held by an interface count: ``127.0.0.2`` is not this
    machine even though it routes through its loopback interface.
    """
    return name in _local_names() or _address_of(name) in _local_addresses()


@functools.lru_cache(maxsize=1)
def _local_names() -> frozenset:
    hostname = socket.gethostname()
    names = {"localhost", hostname, hostname.split(".")[0]}
    fqdn = socket.getfqdn()
    if fqdn != "localhost":
        names.add(fqdn)
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def _local_addresses() -> frozenset:
    import psutil
    addresses = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addresses.add(entry.address.split("%")[0])
    return frozenset(addresses)


@functools.lru_cache(maxsize=256)
def _address_of(name: str) -> Optional[str]:
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(name))
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None


def local_name() -> str:
    """This machine's short host name."""
    return os.uname().nodename.split(".")[0]
