"""Slurm's compressed host lists and task-count lists, in pure Python.

Slurm hands a job its nodes as a compressed *hostlist* (for example in
``SLURM_JOB_NODELIST``) and its tasks per node as a *count list* (for
example in ``SLURM_TASKS_PER_NODE``). This module expands both without
running ``scontrol``, so it works wherever the variables are set.

Hostlist grammar (``expand``)::

    hostlist := token { sep token }
    sep      := one or more of ',' ' ' '\\t'    (outside brackets only)
    token    := { literal | group }             (at least one character)
    group    := '[' item { ',' item } ']'
    item     := number | number '-' number      (decimal digits only)

A token with several groups stands for the cartesian product of its
groups, leftmost group slowest. Numbers in a range ``lo-hi`` are
zero-padded to the width of ``lo`` as written, as Slurm does, so
``[08-10]`` gives 08, 09, 10 while ``[8-10]`` gives 8, 9, 10. Names
keep their order and duplicates are kept. At most 65536 names may come
out of one list, Slurm's own cap.

>>> expand("node[001-003,007],gpu-[1-2]")
['node001', 'node002', 'node003', 'node007', 'gpu-1', 'gpu-2']
>>> expand("rack[1-2]-node[01-02]")
['rack1-node01', 'rack1-node02', 'rack2-node01', 'rack2-node02']
>>> expand("node[8-10]-ib n1.cluster.org")
['node8-ib', 'node9-ib', 'node10-ib', 'n1.cluster.org']

Count-list grammar (``expand_counts``)::

    counts := entry { ',' entry }
    entry  := count | count '(x' repeat ')'     (count >= 1, repeat >= 1)

>>> expand_counts("2(x3),1")
[2, 2, 2, 1]

Errors raise ``HostlistError``, a ``UsageError`` whose message names
the variable, quotes its whole value and points at the bad part:

>>> try:
...     expand("node[1-3")
... except HostlistError as error:
...     print(error)  # doctest: +NORMALIZE_WHITESPACE
SLURM_JOB_NODELIST='node[1-3': unbalanced '[' in 'node[1-3';
close every '[' with ']', as in 'node[1-3]'
"""
from __future__ import annotations

import itertools
import re
from typing import List, Optional, Sequence

from scoop_hpc.errors import UsageError

__all__ = ["HostlistError", "MAX_NAMES", "expand", "expand_counts"]

#: Slurm refuses host lists and ranges of more names than this.
MAX_NAMES = 64 * 1024

_SEPARATORS = ",\t "
_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_COUNT = re.compile(r"([0-9]+)(?:\(x([0-9]+)\))?")


class HostlistError(UsageError):
    """A host list or count list from the scheduler cannot be parsed.

    ``source`` is the variable it came from and ``text`` its whole value;
    ``problem`` says what is wrong and ``hint`` what to do.
    """

    def __init__(self, source: str, text: str, problem: str,
                 hint: str) -> None:
        super().__init__(f"{source}={text!r}: {problem}; {hint}")
        self.source = source
        self.text = text
        self.problem = problem
        self.hint = hint


class _Problem(Exception):
    """What is wrong and what to do; ``expand*`` add source and text."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def expand(text: str, source: str = "SLURM_JOB_NODELIST") -> List[str]:
    """Expand a Slurm hostlist such as ``node[1-3],gpu1`` into names.

    ``source`` names where ``text`` came from, for error messages.
    Raises ``HostlistError`` when ``text`` is empty or malformed.
    """
    try:
        return _expand_all(_split_tokens(text))
    except _Problem as bad:
        raise HostlistError(source, text, bad.problem, bad.hint) from None


def expand_counts(text: str,
                  source: str = "SLURM_TASKS_PER_NODE") -> List[int]:
    """Expand a Slurm count list such as ``2(x3),1`` into ``[2, 2, 2, 1]``.

    ``source`` names where ``text`` came from, for error messages.
    Raises ``HostlistError`` when ``text`` is empty or malformed.
    """
    try:
        return _expand_counts(text)
    except _Problem as bad:
        raise HostlistError(source, text, bad.problem, bad.hint) from None


# -- host lists -------------------------------------------------------------

def _split_tokens(text: str) -> List[str]:
    """Split at separators outside brackets; drop empty tokens."""
    tokens: List[str] = []
    current: List[str] = []
    depth = 0
    for char in text:
        if char in _SEPARATORS and depth == 0:
            tokens.append("".join(current))
            current = []
            continue
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        current.append(char)
    tokens.append("".join(current))
    tokens = [token for token in tokens if token]
    if not tokens:
        raise _Problem("no host names in it",
                       "it should list the job's hosts, as in 'node[1-3]'")
    return tokens


def _expand_all(tokens: Sequence[str]) -> List[str]:
    """Expand every token in order, keeping the total under the cap."""
    names: List[str] = []
    for token in tokens:
        groups = _parse_token(token)
        _check_size(_product_size(groups), repr(token))
        _check_size(len(names) + _product_size(groups), "the list")
        names.extend("".join(parts) for parts in itertools.product(*groups))
    return names


def _product_size(groups: Sequence[Sequence[str]]) -> int:
    size = 1
    for group in groups:
        size *= len(group)
    return size


def _check_size(size: int, what: str) -> None:
    if size > MAX_NAMES:
        raise _Problem(
            f"{what} stands for {size} names, more than Slurm's cap of "
            f"{MAX_NAMES}",
            "split the job or check the list for a mistyped range")


def _parse_token(token: str) -> List[List[str]]:
    """Cut a token into literal parts (one choice) and bracket groups."""
    groups: List[List[str]] = []
    pos = 0
    while pos < len(token):
        opening = token.find("[", pos)
        closing = _find(token, "]", pos, opening)
        if closing is not None:
            raise _Problem(f"stray ']' in {token!r}",
                           "remove it or add the '[' it closes")
        if opening < 0:
            groups.append([token[pos:]])
            break
        if opening > pos:
            groups.append([token[pos:opening]])
        pos = _group_end(token, opening)
        groups.append(_expand_group(token[opening + 1:pos], token))
        pos += 1
    return groups


def _find(token: str, char: str, start: int, end: int) -> Optional[int]:
    """Index of ``char`` in ``token[start:end]`` (end < 0: to the end)."""
    found = token.find(char, start, end if end >= 0 else len(token))
    return found if found >= 0 else None


def _group_end(token: str, opening: int) -> int:
    """Index of the ']' closing the '[' at ``opening``."""
    closing = token.find("]", opening)
    nested = _find(token, "[", opening + 1, closing)
    if nested is not None:
        raise _Problem(f"nested '[' in {token!r}",
                       "brackets cannot nest; write one range per group, "
                       "as in 'rack[1-2]-node[1-3]'")
    if closing < 0:
        raise _Problem(f"unbalanced '[' in {token!r}",
                       f"close every '[' with ']', as in {token + ']'!r}")
    return closing


def _expand_group(inner: str, token: str) -> List[str]:
    """Expand the inside of one bracket group, e.g. ``001-004,007``."""
    if not inner:
        raise _Problem(f"empty brackets in {token!r}",
                       "put numbers or ranges inside, as in 'node[1-3]'")
    numbers: List[str] = []
    for item in inner.split(","):
        numbers.extend(_expand_item(item, token))
        _check_size(len(numbers), f"[{inner}] in {token!r}")
    return numbers


def _expand_item(item: str, token: str) -> List[str]:
    """Expand ``7`` or ``lo-hi``, padding to the width of ``lo``."""
    match = _ITEM.fullmatch(item)
    if match is None:
        raise _Problem(
            f"{item!r} in {token!r} is not a number or a range 'lo-hi'",
            "use decimal numbers and ranges only, as in 'node[001-004,007]'")
    low, high = match.group(1), match.group(2)
    if high is None:
        return [low]
    first, last = int(low), int(high)
    if first > last:
        raise _Problem(f"range {item!r} in {token!r} runs backwards "
                       f"(lo > hi)",
                       f"write it low to high, as in '{high}-{low}'")
    _check_size(last - first + 1, f"range {item!r} in {token!r}")
    width = len(low)
    return [str(number).zfill(width) for number in range(first, last + 1)]


# -- count lists ------------------------------------------------------------

def _expand_counts(text: str) -> List[int]:
    """Expand ``2(x3),1``-style text; see ``expand_counts``."""
    if not text.strip():
        raise _Problem("no counts in it",
                       "it should list one count per node, as in '2(x3),1'")
    counts: List[int] = []
    for entry in text.split(","):
        count, repeat = _parse_count(entry.strip())
        _check_size(len(counts) + repeat, "the list")
        counts.extend([count] * repeat)
    return counts


def _parse_count(entry: str) -> tuple[int, int]:
    """Return (count, repeat) for ``N`` or ``N(xR)``."""
    match = _COUNT.fullmatch(entry)
    if match is None:
        raise _Problem(f"{_count_complaint(entry)} in {entry!r}",
                       "write each entry as N or N(xR) with whole numbers "
                       "N, R >= 1, as in '2(x3),1'")
    count = int(match.group(1))
    repeat = int(match.group(2) or "1")
    if count == 0:
        raise _Problem(f"zero count in {entry!r}",
                       "every node runs at least one task; check the job")
    if repeat == 0:
        raise _Problem(f"zero repeat '(x0)' in {entry!r}",
                       "a repeat (xR) needs R >= 1, as in '2(x3)'")
    return count, repeat


def _count_complaint(entry: str) -> str:
    """Say why ``entry`` is not ``N`` or ``N(xR)``."""
    if not entry:
        return "empty entry"
    if entry.startswith("-"):
        return "negative count"
    if entry.startswith("("):
        return "repeat without a count before it"
    if "(" in entry and "(x" not in entry:
        return "repeat without 'x'"
    return "not a count N or N(xR)"
