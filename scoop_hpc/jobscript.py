"""Job scripts from templates: settings -> checked variables -> text.

::

    merged settings (siteconfig)  ->  variables()  ->  render()  ->  text
      one scheduler's table           checks values      Jinja2,
      with origins                    and queue limits   StrictUndefined

A template receives every option under its long name with ``_`` for
``-`` (an option with no value is *undefined*: test it with ``is
defined``), ``prologue``, ``scheduler``, ``program``, ``args``,
``python``, ``command`` (the line that runs the program), and values
derived for the schedulers' own syntax: ``total_tasks``,
``max_tasks_per_node``, ``walltime_seconds``, ``walltime_hm``,
``memory_mb`` and ``memory_per_task_mb``. docs/architecture.md lists
them for admins. Every error names the field, its bad value and, for a
value from a file or variable, where it came from.
"""
from __future__ import annotations

import math
import os
import re
import shlex
import sys
from typing import Any, Dict, List, Optional

import jinja2

from . import siteconfig, submit_templates
from .errors import TemplateError, UsageError
from .siteconfig import Setting, origin_of

BUILT_IN_TEMPLATES = os.path.dirname(os.path.abspath(
    submit_templates.__file__))
#: Schedulers that ask for tasks per node (PBS Pro ``select``, Torque
#: ``ppn``), so that ``--ntasks`` must divide evenly over the nodes.
PER_NODE = ("pbs", "torque")

_WALLTIME = re.compile(r"(\d+):([0-5]\d):([0-5]\d)")
_MEMORY = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_MEGABYTES = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}
_JOB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
#: Control characters (a tab aside) and line separators: in a directive,
#: a newline would end it, and the rest would become a command before
#: which the scheduler stops reading directives.
_CONTROL = r"\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029"
_WORD = re.compile(r"[^\s'\"\\" + _CONTROL + "]+")
_NOT_ONE_LINE = re.compile(f"[{_CONTROL}]")
#: Values written into directives, where a blank or a newline would break
#: the line.
_ONE_WORD = ("queue", "account", "output", "pe", "job_name")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def variables(scheduler: str, table: Dict[str, Setting], program: str,
              args: List[str], directive_prefix: str) -> Dict[str, Any]:
    """The variables a template receives; raises ``UsageError`` naming
    the field and its bad value."""
    table = _exclusive(table)
    values = {key: setting.value for key, setting in table.items()
              if not key.startswith("queues.")}
    if not os.path.isfile(program):
        raise UsageError(f"program: no such file: {program!r}")
    values.update(scheduler=scheduler, program=program, args=list(args))
    for key in _ONE_WORD:
        if key in values and not _WORD.fullmatch(values[key]):
            raise UsageError(f"{_where(table, key)}: {values[key]!r} is "
                             f"not one word (no blank, quote, newline or "
                             f"other control character)")
    _tasks(values, scheduler, table)
    if "walltime" in values:
        seconds = parse_walltime(values["walltime"], _where(table,
                                                            "walltime"))
        values.update(walltime=_hms(seconds), walltime_seconds=seconds,
                      walltime_hm=f"{math.ceil(seconds / 60) // 60}:"
                                  f"{math.ceil(seconds / 60) % 60:02d}")
    if "memory" in values:
        megabytes = parse_memory(values["memory"], _where(table, "memory"))
        values.update(memory_mb=megabytes, memory_per_task_mb=math.ceil(
            megabytes / values["max_tasks_per_node"]))
    values["job_name"] = _job_name(values, table)
    values["env"] = _env(values["env"], _where(table, "env"))
    values["directive"] = [
        _directive(line, directive_prefix, _where(table, "directive"))
        for line in values["directive"]]
    if "venv" in values:
        values["venv"] = os.path.abspath(values["venv"])
    values["python"] = _python(values, table)
    values["command"] = " ".join(shlex.quote(part) for part in (
        values["python"], "-m", "scoop_hpc", program, *args))
    check_limits(values, table)
    return values


def _where(table: Dict[str, Setting], key: str) -> str:
    """``--key`` or ``key (origin)``, for messages."""
    setting = table[key]
    if setting.rank == siteconfig.CLI_RANK:
        return "--" + key.replace("_", "-")
    return f"{key} ({origin_of(setting, key)})"


def _exclusive(table: Dict[str, Setting]) -> Dict[str, Setting]:
    """Of two options that exclude each other, keep the higher layer's."""
    table = dict(table)
    for first, second in siteconfig.EXCLUSIVE:
        if first in table and second in table:
            one, other = table[first], table[second]
            if one.rank == other.rank:
                raise UsageError(
                    f"{_where(table, first)} and {_where(table, second)} "
                    f"exclude each other; give one")
            del table[first if one.rank < other.rank else second]
    return table


def _tasks(values: Dict[str, Any], scheduler: str,
           table: Dict[str, Setting]) -> None:
    nodes = values["nodes"]
    if "ntasks" in values:
        ntasks = values["ntasks"]
        if ntasks < nodes:
            raise UsageError(f"{_where(table, 'ntasks')} {ntasks} is fewer "
                             f"than the {nodes} nodes asked for")
        if scheduler in PER_NODE and ntasks % nodes:
            raise UsageError(
                f"{_where(table, 'ntasks')} {ntasks} does not divide evenly "
                f"over {nodes} nodes, and {scheduler} asks for tasks per "
                f"node; give --tasks-per-node")
        values.update(total_tasks=ntasks,
                      max_tasks_per_node=math.ceil(ntasks / nodes))
    else:
        per_node = values["tasks_per_node"]
        values.update(total_tasks=nodes * per_node,
                      max_tasks_per_node=per_node)


def parse_walltime(text: str, where: str = "walltime") -> int:
    """Seconds in ``[H]H:MM:SS``.

    >>> parse_walltime("1:30:00")
    5400
    """
    match = _WALLTIME.fullmatch(str(text).strip())
    if match is None:
        raise UsageError(f"{where}: {text!r} is not a walltime HH:MM:SS "
                         f"(minutes and seconds 00-59), as in '01:30:00'")
    hours, minutes, seconds = (int(part) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total == 0:
        raise UsageError(f"{where}: {text!r} is no time at all")
    return total


def parse_memory(text: str, where: str = "memory") -> int:
    """Megabytes (MiB, rounded up) in ``N``, ``NK``, ``NM``, ``NG``,
    ``NT`` (with or without ``B``/``iB``); a bare number is megabytes.

    >>> parse_memory("4G"), parse_memory("1500mb"), parse_memory("100")
    (4096, 1500, 100)
    """
    match = _MEMORY.fullmatch(str(text).strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"{where}: {text!r} is not an amount of memory "
                         f"per node, as in '4G' or '500M'")
    return math.ceil(int(match.group(1))
                     * _MEGABYTES[match.group(2).upper()])


def _hms(seconds: int) -> str:
    return (f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
            f"{seconds % 60:02d}")


def _job_name(values: Dict[str, Any], table: Dict[str, Setting]) -> str:
    if "job_name" not in values:
        stem = os.path.splitext(os.path.basename(values["program"]))[0]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
        return name if name[:1].isalpha() else f"job_{name}"
    name = values["job_name"]
    if not _JOB_NAME.fullmatch(name):
        raise UsageError(f"{_where(table, 'job_name')}: {name!r} is not a "
                         f"job name: a letter, then letters, digits, "
                         f"'_', '.' or '-'")
    return name


def _env(items: List[str], where: str) -> Dict[str, str]:
    env = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not _ENV_NAME.fullmatch(name):
            raise UsageError(f"{where}: {item!r} is not NAME=VALUE with a "
                             f"shell variable name")
        env[name] = value
    return env


def _directive(line: str, prefix: str, where: str) -> str:
    """A raw directive without its prefix (given or not), if it is one
    line.

    >>> _directive("#PBS -l ngpus=1", "#PBS", "--directive")
    '-l ngpus=1'
    """
    if _NOT_ONE_LINE.search(line):
        raise UsageError(
            f"{where}: {line!r} holds a newline or another control "
            f"character, which would end the directive and run the rest as "
            f"a command; give each directive on its own (one --directive, "
            f"or one list item, per directive)")
    line = line.strip()
    return line[len(prefix):].strip() if line.startswith(prefix) else line


def _python(values: Dict[str, Any], table: Dict[str, Setting]) -> str:
    """``python`` when set in a layer at least as high as ``venv``'s,
    else the venv's interpreter; with neither (nor ``conda``), the
    interpreter gen-submit runs in when it is a virtual environment's
    (it has scoop_hpc, and Grid Engine and PBS jobs do not get the
    submitting shell's PATH), else ``python3``."""
    if "venv" in values and (
            "python" not in table
            or table["python"].rank < table["venv"].rank):
        return os.path.join(values["venv"], "bin", "python")
    if values.get("python"):
        return values["python"]
    if "conda" not in values and sys.prefix != sys.base_prefix:
        return sys.executable
    return "python3"


def check_limits(values: Dict[str, Any],
                 table: Dict[str, Setting]) -> None:
    """The request against its queue's limits (``queues.Q.max_*``)."""
    queue = values.get("queue")
    if queue is None:
        return
    tasks = "ntasks" if "ntasks" in values else "tasks_per_node"
    asked = {"max_walltime": ("walltime", values.get("walltime_seconds")),
             "max_nodes": ("nodes", values["nodes"]),
             "max_tasks_per_node": (tasks, values["max_tasks_per_node"])}
    for limit, (key, amount) in asked.items():
        setting = table.get(f"queues.{queue}.{limit}")
        if setting is None or amount is None:
            continue
        where = f"{limit} of queue {queue!r} ({setting.origin})"
        most = setting.value
        if limit == "max_walltime":
            most = parse_walltime(setting.value, where)
        if amount > most:
            shown = values[key] if key != "ntasks" else (
                f"{values[key]} ({amount} per node)")
            raise UsageError(f"{_where(table, key)} {shown} is over the "
                             f"queue's limit: {where} = {setting.value!r}")


# -- rendering ----------------------------------------------------------------

def environment(template_dir: Optional[Setting]) -> jinja2.Environment:
    """Templates from ``template_dir`` first, then the built-in ones."""
    folders = [BUILT_IN_TEMPLATES]
    if template_dir and template_dir.value:
        folder = template_dir.value
        if not os.path.isdir(folder):
            raise UsageError(
                f"template_dir ({origin_of(template_dir, 'template_dir')}):"
                f" {folder!r} is not a directory; create it, or set "
                f"template_dir to the directory of the site's templates")
        folders.insert(0, folder)
    env = jinja2.Environment(
        loader=_Loader(folders),
        undefined=jinja2.StrictUndefined, autoescape=False,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["quote"] = lambda value: shlex.quote(str(value))
    return env


class _Loader(jinja2.FileSystemLoader):
    """Templates from files; one that cannot be read or is not UTF-8 is a
    ``TemplateError`` naming the file."""

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> Any:
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1
            raise TemplateError(
                f"{self._path(template)}, line {line}: not UTF-8 text "
                f"(byte {exc.object[exc.start]:#04x}); save the template "
                f"as UTF-8") from None
        except jinja2.TemplateNotFound:  # an OSError too
            raise
        except OSError as exc:
            raise TemplateError(
                f"{self._path(template)}: cannot read it "
                f"({exc.strerror or exc}); make it readable") from None

    def _path(self, template: str) -> str:
        """The file that ``template`` names, as the search finds it."""
        pieces = jinja2.loaders.split_template_path(template)
        for folder in self.searchpath:
            path = os.path.join(folder, *pieces)
            if os.path.isfile(path):
                return path
        return template


def render(env: jinja2.Environment, scheduler: str,
           values: Dict[str, Any]) -> str:
    """Render ``SCHEDULER.sh.j2``; raises ``TemplateError`` naming the
    template, the line and what went wrong."""
    name = f"{scheduler}.sh.j2"
    try:
        template = env.get_template(name)
        return template.render(values)
    except TemplateError:
        raise
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined(exc, name, scheduler)) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or exc.name}, line "
                            f"{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        where = _location(exc, "")
        raise TemplateError(
            f"{where + ': ' if where else ''}no template {exc.name!r} in "
            f"{', '.join(getattr(env.loader, 'searchpath', []))}; fix the "
            f"name, or add the file to template_dir") from None
    except Exception as exc:  # a template is code: its errors are its own
        raise TemplateError(
            f"{_location(exc, name)}: the template failed with "
            f"{type(exc).__name__}: {exc}; fix the template") from None


def _location(exc: BaseException, name: str) -> str:
    """``FILE, line N`` of the innermost template line in ``exc``'s
    traceback, else ``name``."""
    where, line = name, None
    frame = exc.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        if code.co_filename.endswith(".j2"):
            where, line = code.co_filename, frame.tb_lineno
        frame = frame.tb_next
    return where if line is None else f"{where}, line {line}"


def _undefined(exc: jinja2.UndefinedError, name: str,
               scheduler: str) -> str:
    where = _location(exc, name)
    match = re.search(r"'(\w+)' is undefined", str(exc))
    if match is None:
        return f"{where}: {exc}"
    variable = match.group(1)
    if variable in siteconfig.OPTIONS:
        return (f"{where}: the template needs {variable!r}, which has no "
                f"value: give --{variable.replace('_', '-')} or set "
                f"{variable} in the [{scheduler}] table of the site "
                f"configuration")
    return (f"{where}: {variable!r} is not a variable that templates "
            f"receive (see docs/site-config.md)")
