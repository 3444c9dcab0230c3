"""Every runnable code block of the documentation runs, and says so.

Collected from docs/*.md, docs/schedulers/*.md and README.md, by the
language of each fence:

- ``sh``: a shell script, run with ``bash -e -o pipefail`` from the top of
  the checkout, with this venv's ``bin`` first on PATH; it must exit 0.
- ``python`` (docs/ only): a complete program, written to a temporary file
  and run with ``python -m scoop_hpc -n 2``; it must exit 0, and when an
  ``output`` block follows it, print exactly that. README.md's ``python``
  blocks are not run: they include fragments (the import line).

Not run: ``console`` and ``bash-cluster`` (they need a cluster, other hosts
over ssh, a scheduler's commands, the network or pip), ``bash`` (README.md
only: its blocks are the set-up commands, which install, placeholders such
as ``program.py [args...]`` and cluster commands), ``py`` (fragments),
``output``, ``text``, ``toml``, ``jinja``, ``json`` and fences without a
language.

Each block runs with no scheduler or MPI variables, no ``SCOOP_HPC_*``
variables, an empty site file (``SCOOP_HPC_SITE_CONFIG``) and HOME and
XDG_CONFIG_HOME in a temporary directory, so that neither this machine's
nor the user's configuration changes what it does. A block that leaves a
process behind fails.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import List, NamedTuple, Optional

import psutil
import pytest

from .conftest import ROOT, run_watched

DOCS = sorted([*ROOT.glob("docs/*.md"), *ROOT.glob("docs/schedulers/*.md")])
README = ROOT / "README.md"
TIMEOUT = 60
SHELL = "sh"
PROGRAM = "python"
OUTPUT = "output"
#: Fences that are never run (see the module's docstring).
NOT_RUN = {"console", "bash-cluster", "bash", "py", "output", "text",
           "toml", "jinja", "json", ""}

_FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<lang>[\w-]*)\s*$")
_DROPPED = re.compile(
    r"^(SLURM_|SLURMD_|PBS_|PE_HOSTFILE$|NSLOTS$|LSB_|LSF_|FLUX_|JOB_ID$|"
    r"SGE_|PMI_|PMIX_|OMPI_|MPI_LOCALRANKID$|HYDRA_|I_MPI_|SCOOP_HPC_)")
_MARKER = "SCOOP_HPC_DOCS_TEST"


class Block(NamedTuple):
    """One fenced block: where it is, its language, its text, and the
    text of the ``output`` block right after it (if any)."""

    path: Path
    line: int
    lang: str
    text: str
    output: Optional[str]

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> List[Block]:
    """The fenced blocks of a Markdown file, in order."""
    found: List[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        opened = _FENCE.match(lines[number])
        number += 1
        if opened is None:
            continue
        start, body = number, []
        indent, ticks = len(opened["indent"]), opened["ticks"]
        while number < len(lines) and not re.match(
                rf"^ *{ticks}\s*$", lines[number]):
            body.append(lines[number][indent:])
            number += 1
        number += 1
        found.append(Block(path, start, opened["lang"],
                           "\n".join(body) + "\n", None))
    # an output block belongs to the block right before it
    paired = []
    for at, block in enumerate(found):
        after = found[at + 1] if at + 1 < len(found) else None
        if after is not None and after.lang == OUTPUT:
            block = block._replace(output=after.text)
        paired.append(block)
    return paired


def runnable() -> List[Block]:
    every = [b for path in DOCS for b in blocks(path)
             if b.lang in (SHELL, PROGRAM)]
    every += [b for b in blocks(README) if b.lang == SHELL]
    return every


RUNNABLE = runnable()


def test_docs_exist_and_have_runnable_blocks():
    names = {str(p.relative_to(ROOT)) for p in DOCS}
    for wanted in ("quickstart.md", "api.md", "site-config.md",
                   "migrating-from-scoop.md", "schedulers/slurm.md",
                   "schedulers/pbs.md", "schedulers/sge.md",
                   "schedulers/lsf.md", "schedulers/flux.md",
                   "schedulers/mpi.md"):
        assert f"docs/{wanted}" in names
    assert len(RUNNABLE) >= 20


def test_every_fence_is_known():
    """A typo in a fence would silently keep a block from running."""
    for path in [*DOCS, README]:
        for block in blocks(path):
            known = NOT_RUN | {SHELL, PROGRAM}
            assert block.lang in known, (
                f"{block.name}: fence {block.lang!r} is neither run "
                f"({SHELL}, {PROGRAM}) nor known not to be")


def test_readme_links_every_doc():
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    for path in DOCS:
        assert f"({path.relative_to(ROOT)})" in section, path


def test_relative_links_resolve():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    for path in [*DOCS, README]:
        for target in link.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (path.parent / target).exists(), f"{path}: {target}"


def _named(options, text: str) -> bool:
    """Whether ``text`` names one of ``options`` (``-n`` not in ``-nx``)."""
    return any(re.search(re.escape(o) + r"(?![\w-])", text)
               for o in options)


def test_readme_lists_every_launcher_and_gen_submit_option():
    """The README's synopsis of ``python -m scoop_hpc`` and its list of
    gen-submit's options, and the site configuration's table of keys,
    name every option the parsers take."""
    from scoop_hpc import options, submit
    readme = README.read_text(encoding="utf-8")
    synopsis = readme.split("## Launcher options", 1)[1].split("```")[1]
    job_scripts = readme.split("## Job scripts", 1)[1].split("\n## ")[0]
    site = (ROOT / "docs" / "site-config.md").read_text(encoding="utf-8")
    for parser, text in ((options.make_parser(), synopsis),
                         (submit.make_parser(), job_scripts)):
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert _named(action.option_strings, text), \
                    action.option_strings
    for action in submit.make_parser()._actions:
        if action.option_strings and action.dest not in (
                "help", "file", "submit", "scheduler"):
            assert f"| `{action.dest}` |" in site, action.dest


@pytest.fixture
def environ(tmp_path):
    """A clean environment: no scheduler, MPI or scoop_hpc variables, an
    empty site file, HOME and XDG_CONFIG_HOME in ``tmp_path``."""
    site = tmp_path / "site.toml"
    site.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not _DROPPED.match(k)}
    bin_dir = os.path.dirname(sys.executable)
    env.update(PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
               VIRTUAL_ENV=os.path.dirname(bin_dir),
               SCOOP_HPC_SITE_CONFIG=str(site), HOME=str(home),
               XDG_CONFIG_HOME=str(home / ".config"),
               TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1",
               PYTHONDONTWRITEBYTECODE="1")
    env[_MARKER] = str(tmp_path)
    return env


def _left_behind(marker: str) -> set:
    """Processes still carrying this test's marker in their environment
    (re-parented ones included)."""
    left = set()
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and \
                    proc.environ().get(_MARKER) == marker:
                left.add(proc)
    return left


@pytest.mark.timeout(TIMEOUT * 2)
@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_block_runs(block, environ, tmp_path):
    if "mpiexec" in block.text and shutil.which(
            "mpiexec", path=environ["PATH"]) is None:
        pytest.skip("no mpiexec on PATH")
    if block.lang == SHELL:
        script = tmp_path / "block.sh"
        script.write_text(block.text)
        cmd = ["bash", "-e", "-o", "pipefail", str(script)]
    else:
        script = tmp_path / "program.py"
        script.write_text(block.text)
        cmd = [sys.executable, "-m", "scoop_hpc", "-n", "2", str(script)]
    try:
        run = run_watched(cmd, cwd=ROOT, timeout=TIMEOUT, env=environ)
    finally:
        left = _left_behind(environ[_MARKER])
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
    assert not left, f"{block.name} left processes behind: {left}"
    assert run.returncode == 0, f"{block.name}:\n{block.text}\n{run!r}"
    if block.output is not None:
        assert run.stdout.strip() == block.output.strip(), (
            f"{block.name}: the output differs from the docs\n{run!r}")
