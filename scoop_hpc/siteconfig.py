"""Layered configuration of ``scoop-hpc gen-submit`` and ``scoop-hpc
config``: a cluster's admins set defaults and limits once, for every user.

Layers, each overriding the ones before it, key by key::

    built-in  <  site file  <  user file  <  SCOOP_HPC_* variables  <  CLI
                 $SCOOP_HPC_SITE_CONFIG, else /etc/scoop_hpc/site.toml
                              $XDG_CONFIG_HOME/scoop_hpc/config.toml, else
                              ~/.config/scoop_hpc/config.toml

A file holds top-level keys (``scheduler``, ``template_dir``) and a table
per scheduler (``[slurm]``, ``[pbs]``, ``[torque]``, ``[sge]``, ``[lsf]``)
of option defaults under the options' long names with ``_`` for ``-``,
``prologue`` lines, and per-queue limits (``[slurm.queues.debug]``
``max_walltime``, ``max_nodes``, ``max_tasks_per_node``). Variables and the
command line apply to every scheduler. A list replaces the list of a
lower layer. Every value remembers where it came from (``--show-origin``).
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Mapping, NamedTuple, Optional

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

SCHEDULERS = ("slurm", "pbs", "torque", "sge", "lsf")
SITE_FILE = "/etc/scoop_hpc/site.toml"

#: Option defaults a scheduler table may hold: name -> kind.
OPTIONS = {
    "nodes": int, "tasks_per_node": int, "ntasks": int,
    "cpus_per_task": int, "walltime": str, "queue": str, "account": str,
    "job_name": str, "memory": str, "output": str, "pe": str,
    "module": list, "venv": str, "conda": str, "env": list,
    "directive": list, "python": str,
}
#: Keys of a scheduler table that are not command-line options.
TABLE_ONLY = {"prologue": list}
#: Keys of a ``[SCHEDULER.queues.NAME]`` table.
LIMITS = {"max_walltime": str, "max_nodes": int, "max_tasks_per_node": int}
#: Top-level keys.
TOP = {"scheduler": str, "template_dir": str}
#: Options that exclude each other: the one set in the higher layer wins.
EXCLUSIVE = (("tasks_per_node", "ntasks"), ("venv", "conda"))

BUILT_IN = {"nodes": 1, "tasks_per_node": 1, "cpus_per_task": 1,
            "module": [], "env": [], "directive": [], "prologue": []}

BUILT_IN_RANK, SITE_RANK, USER_RANK, ENV_RANK, CLI_RANK = range(5)


class Setting(NamedTuple):
    """A value and where it came from (``rank``: its layer, 0 to 4)."""

    value: Any
    origin: str
    rank: int


class Layer(NamedTuple):
    """One layer's values: top-level, per scheduler, and for every
    scheduler (variables and the command line)."""

    origin: str
    rank: int
    top: Dict[str, Any]
    tables: Dict[str, Dict[str, Any]]
    common: Dict[str, Any]


class Config:
    """The layers, merged on demand."""

    def __init__(self, layers: List[Layer]) -> None:
        self.layers = layers

    def top(self) -> Dict[str, Setting]:
        """Top-level settings, merged."""
        merged: Dict[str, Setting] = {}
        for layer in self.layers:
            for key, value in layer.top.items():
                merged[key] = Setting(value, layer.origin, layer.rank)
        return merged

    def table(self, scheduler: str) -> Dict[str, Setting]:
        """One scheduler's settings, merged; queue limits under
        ``queues.NAME.KEY``."""
        merged: Dict[str, Setting] = {}
        for layer in self.layers:
            for values in (layer.tables.get(scheduler, {}), layer.common):
                for key, value in values.items():
                    merged[key] = Setting(value, layer.origin, layer.rank)
        return merged


def user_file(environ: Mapping[str, str]) -> str:
    """Where the user's file is, as ``environ`` says."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(base, "scoop_hpc", "config.toml")


def load(environ: Mapping[str, str],
         cli: Optional[Dict[str, Any]] = None) -> Config:
    """Read every layer; ``cli`` holds the options given on the command
    line (long names with ``_``). Raises ``ConfigError``."""
    layers = [Layer("built-in", BUILT_IN_RANK, {}, {}, dict(BUILT_IN))]
    named = environ.get("SCOOP_HPC_SITE_CONFIG")
    site = _read_file(named or SITE_FILE, "site file", SITE_RANK,
                      required=bool(named))
    user = _read_file(user_file(environ), "user file", USER_RANK)
    layers += [layer for layer in (site, user) if layer is not None]
    layers.append(_from_environ(environ))
    if cli:
        kinds = {**TOP, **OPTIONS}
        for key, value in cli.items():
            _checked(value, kinds[key], "--" + key.replace("_", "-"))
        layers.append(Layer("command line", CLI_RANK,
                            {k: v for k, v in cli.items() if k in TOP},
                            {}, {k: v for k, v in cli.items()
                                 if k not in TOP}))
    return Config(layers)


def _read_file(path: str, what: str, rank: int,
               required: bool = False) -> Optional[Layer]:
    origin = f"{what} {path}"
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"SCOOP_HPC_SITE_CONFIG={path}: no such "
                              f"file") from None
        return None
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read it ({exc.strerror})"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    top: Dict[str, Any] = {}
    tables: Dict[str, Dict[str, Any]] = {}
    for key, value in data.items():
        if key in SCHEDULERS:
            tables[key] = _table(value, f"{origin}: [{key}]")
        elif key in TOP:
            top[key] = _checked(value, TOP[key], f"{origin}: {key}")
        else:
            raise ConfigError(
                f"{origin}: unknown key {key!r}; known: "
                f"{', '.join([*TOP, *SCHEDULERS])}")
    return Layer(origin, rank, top, tables, {})


def _table(data: Any, where: str) -> Dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    kinds = {**OPTIONS, **TABLE_ONLY}
    values: Dict[str, Any] = {}
    for key, value in data.items():
        if key == "queues":
            values.update(_queues(value, f"{where} queues"))
        elif key in kinds:
            values[key] = _checked(value, kinds[key], f"{where} {key}")
        else:
            raise ConfigError(f"{where}: unknown key {key!r}; known: "
                              f"{', '.join([*kinds, 'queues'])}")
    return values


def _queues(data: Any, where: str) -> Dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of queues")
    values = {}
    for queue, limits in data.items():
        if not isinstance(limits, dict):
            raise ConfigError(f"{where}.{queue}: expected a table")
        for key, value in limits.items():
            if key not in LIMITS:
                raise ConfigError(f"{where}.{queue}: unknown key {key!r}; "
                                  f"known: {', '.join(LIMITS)}")
            values[f"queues.{queue}.{key}"] = _checked(
                value, LIMITS[key], f"{where}.{queue} {key}")
    return values


def _checked(value: Any, kind: type, where: str) -> Any:
    """``value`` if it is of ``kind`` (a list: of strings)."""
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 1:
            raise ConfigError(f"{where} = {value!r}: expected a whole "
                              f"number, 1 or more")
    elif kind is list:
        if not isinstance(value, list) or not all(
                isinstance(item, str) for item in value):
            raise ConfigError(f"{where} = {value!r}: expected a list of "
                              f"strings")
    elif not isinstance(value, str):
        raise ConfigError(f"{where} = {value!r}: expected a string")
    return value


def _from_environ(environ: Mapping[str, str]) -> Layer:
    """``SCOOP_HPC_<KEY>`` for every top-level key and option; a list
    is split at white space."""
    top: Dict[str, Any] = {}
    common: Dict[str, Any] = {}
    for key, kind in {**TOP, **OPTIONS}.items():
        name = f"SCOOP_HPC_{key.upper()}"
        text = environ.get(name)
        if text is None or not text.strip():
            continue
        if kind is int:
            value: Any = int(text) if text.strip().isdigit() else text
        elif kind is list:
            value = text.split()
        else:
            value = text.strip()
        target = top if key in TOP else common
        target[key] = _checked(value, kind, name)
    return Layer("environment", ENV_RANK, top, {}, common)


def origin_of(setting: Setting, key: str) -> str:
    """Where a value came from, as a user would look for it."""
    if setting.rank == ENV_RANK:
        return f"SCOOP_HPC_{key.upper()}"
    if setting.rank == CLI_RANK:
        return "--" + key.replace("_", "-")
    return setting.origin


# -- scoop-hpc config ---------------------------------------------------------

def dump(config: Config, show_origin: bool = False) -> str:
    """The merged configuration as TOML; ``show_origin`` adds a comment
    after each value naming where it came from."""
    lines: List[str] = []

    def emit(key: str, setting: Setting) -> None:
        text = f"{key} = {_toml(setting.value)}"
        if show_origin:
            text = f"{text:<40} # {origin_of(setting, key)}"
        lines.append(text)

    for key, setting in config.top().items():
        emit(key, setting)
    for scheduler in SCHEDULERS:
        table = config.table(scheduler)
        lines.append(f"\n[{scheduler}]")
        queues: Dict[str, Dict[str, Setting]] = {}
        for key, setting in table.items():
            if key.startswith("queues."):
                _, queue, limit = key.split(".", 2)
                queues.setdefault(queue, {})[limit] = setting
            else:
                emit(key, setting)
        for queue, limits in queues.items():
            lines.append(f"\n[{scheduler}.queues.{_key(queue)}]")
            for key, setting in limits.items():
                emit(key, setting)
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() \
        else json.dumps(name)


def _toml(value: Any) -> str:
    """A TOML literal of a string, whole number or list of strings.

    >>> _toml(["python/3.11", 'say "hi"'])
    '["python/3.11", "say \\\\"hi\\\\""]'
    """
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
