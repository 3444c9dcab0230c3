"""Where the launcher's options end and the program's command line begins.

::

    python -m scoop_hpc [launcher options] program.py [args ...]
    python -m scoop_hpc [launcher options] -m module [args ...]

Everything from the program on is the program's, exactly as with
``python program.py args`` or ``python -m module args``: argparse only
sees the words before it. They are read left to right, each option
taking as many words as the parser gives it:

- ``-m MODULE`` (or ``-mMODULE``): MODULE is the program; every word
  after it is an argument of the module.
- ``--`` ends the launcher's options: the next word is the program (a
  ``--`` after the program is the program's, as with ``python``).
- Otherwise the first word that is neither an option nor an option's
  value is the program.
- ``--hosts``/``--host`` take the words after them up to the next option
  (``--`` included) or up to the program: among those words, the first
  that ends in ``.py``, else the first that names an existing file.
  When a word naming a file comes before one that ends in ``.py`` (in
  the list, or after the options that end it), either could be the
  program: that is a usage error, which shows both ways to say which
  (``--hosts=a,b prog.py`` or ``--hosts a -- prog``).
  With none of them the program, they are all hosts, and the program
  comes after an option or ``--``: ``--hosts a b -- prog args``.
"""
from __future__ import annotations

import argparse
import os
from typing import Dict, List, NamedTuple, Optional

from .errors import UsageError

_MODULE = "-m"
_LIST = -1     # an option that takes a list of words (--hosts)


class Split(NamedTuple):
    """A command line cut in two.

    ``launcher``: the words for argparse. ``module``: the ``-m`` module or
    None. ``program``: the script's path (None with ``-m`` or when there
    is none). ``args``: the program's arguments. ``hint``: why there is
    no program, when the words could have been meant as one.
    """

    launcher: List[str]
    module: Optional[str]
    program: Optional[str]
    args: List[str]
    hint: str = ""


def split(parser: argparse.ArgumentParser, argv: List[str]) -> Split:
    """Cut ``argv`` at the program (see the module's documentation).

    Raises:
        UsageError: a ``--hosts`` list where two words could each be the
            program.
    """
    arity = _arities(parser)
    launcher: List[str] = []
    at = 0
    while at < len(argv):
        word = argv[at]
        if word == "--":
            return _program(launcher, argv[at + 1:])
        if not word.startswith("-") or word == "-":
            return _program(launcher, argv[at:])
        before, module, taken = _option(word, arity)
        launcher.extend(before)
        if module is not None:
            return _module(launcher, module, argv[at + 1:])
        if taken == _MODULE:
            return _module(launcher, None, argv[at + 1:])
        if taken == _LIST:
            hosts = _host_list(argv[at + 1:])
            launcher.extend(argv[at + 1:at + 1 + len(hosts)])
            at += 1 + len(hosts)
            if at == len(argv) and hosts:
                return Split(launcher, None, None, [], _no_program(hosts))
            continue
        launcher.extend(argv[at + 1:at + 1 + taken])
        at += 1 + taken
    return Split(launcher, None, None, [])


def _arities(parser: argparse.ArgumentParser) -> Dict[str, tuple]:
    """Each option string -> (its action, the words it takes after it:
    a number, _LIST or _MODULE)."""
    arity: Dict[str, tuple] = {}
    for action in parser._actions:
        nargs = action.nargs
        if nargs is None:
            count: object = 1
        elif isinstance(nargs, int):
            count = nargs
        else:
            count = _LIST
        for option in action.option_strings:
            arity[option] = (action,
                             _MODULE if option == _MODULE else count)
    return arity


def _option(word: str, arity: Dict[str, tuple]) -> tuple:
    """``(words for argparse, module or None, words taken after)``.

    An unknown or ambiguous option takes nothing: argparse names it.
    """
    name, equals, _ = word.partition("=")
    if word.startswith("--"):
        taken = _taken(name, arity)
        return [word], None, 0 if equals or taken is None else taken
    if word in arity:
        return ([] if word == _MODULE else [word]), None, arity[word][1]
    for end in range(1, len(word)):          # -vv, -n4, -vmmodule
        option = "-" + word[end]
        rest = word[end + 1:]
        if option == _MODULE:
            return [word[:end]] if end > 1 else [], rest or None, _MODULE
        taken = arity[option][1] if option in arity else None
        if taken != 0:
            return [word], None, 0 if rest or taken is None else taken
    return [word], None, 0


def _taken(name: str, arity: Dict[str, tuple]) -> object:
    """The words the long option ``name``, or the one option it
    abbreviates, takes; None: no such option."""
    if name in arity:
        return arity[name][1]
    found = {arity[option] for option in arity if option.startswith(name)}
    return found.pop()[1] if len(found) == 1 else None


def _host_list(words: List[str]) -> List[str]:
    """The words of a ``--hosts`` list (see the module's documentation).

    Raises:
        UsageError: a word naming a file comes before one ending in .py,
            in the list or after the options that end it.
    """
    run = next((words[:at] for at, word in enumerate(words)
                if word.startswith("-") and word != "-"), words)
    script = next((at for at, word in enumerate(run)
                   if word.endswith(".py")), None)
    found = next((at for at, word in enumerate(run)
                  if os.path.isfile(word)), None)
    if found is not None and script is not None and found < script:
        raise UsageError(_ambiguous(run[:script], run[found], run[script]))
    later = next((word for word in words[len(run):]
                  if word.endswith(".py")), None)
    if found is not None and script is None and later is not None:
        raise UsageError(_ambiguous(run, run[found], later, " ..."))
    end = script if script is not None else found
    return list(run if end is None else run[:end])


def _ambiguous(hosts: List[str], file: str, script: str,
               between: str = "") -> str:
    """The usage error for a host list where ``file`` or ``script``
    could be the program (``between``: options come between them)."""
    before = hosts[:hosts.index(file)]
    what = (f"--hosts {' '.join(hosts)}{between} {script}: {file!r} names "
            f"a file here and {script!r} ends in .py, so either could be "
            f"the program; if {file!r} is a host, write the hosts as one "
            f"word: --hosts={','.join(hosts)}{between} {script}")
    if not before:
        return what
    return (f"{what}; if it is the program, end the host list with '--': "
            f"--hosts {' '.join(before)} -- {file} ...")


def _no_program(hosts: List[str]) -> str:
    return (f"--hosts took {' '.join(hosts)} as hosts: its list ends at "
            f"the first word that ends in .py or names an existing file; "
            f"to run another program, end the list with '--', as in "
            f"--hosts HOST ... -- PROGRAM ARGS")


def _program(launcher: List[str], words: List[str]) -> Split:
    if not words:
        return Split(launcher, None, None, [])
    return Split(launcher, None, words[0], list(words[1:]))


def _module(launcher: List[str], module: Optional[str],
            words: List[str]) -> Split:
    if module is None:
        if not words:
            raise UsageError("argument -m: expected a module name, as in "
                             "-m package.module")
        module, words = words[0], words[1:]
    return Split(launcher, module, None, list(words))
