"""_argv.py: where the launcher's options end and the program begins."""
from __future__ import annotations

import pytest

from scoop_hpc import _argv
from scoop_hpc.errors import UsageError
from scoop_hpc.options import make_parser

pytestmark = pytest.mark.timeout(30)


def cut(words):
    return _argv.split(make_parser(), list(words))


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in an empty directory holding ``prog`` and ``runner`` (files
    without .py)."""
    for name in ("prog", "runner"):
        (tmp_path / name).write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("words, launcher, program, args", [
    (["p.py", "-v", "--foo"], [], "p.py", ["-v", "--foo"]),
    (["-n", "2", "p.py", "-n", "1", "x"], ["-n", "2"], "p.py",
     ["-n", "1", "x"]),
    (["-n2", "-vv", "p.py", "-q"], ["-n2", "-vv"], "p.py", ["-q"]),
    (["-vn", "2", "p.py"], ["-vn", "2"], "p.py", []),
    (["--log", "x.log", "p.py", "a"], ["--log", "x.log"], "p.py", ["a"]),
    (["--log=x.log", "p.py"], ["--log=x.log"], "p.py", []),
    (["--verb", "p.py", "-v"], ["--verb"], "p.py", ["-v"]),
    (["p.py", "--", "-x"], [], "p.py", ["--", "-x"]),
    (["-n", "1", "--", "p.py", "-x"], ["-n", "1"], "p.py", ["-x"]),
    (["--", "--", "x"], [], "--", ["x"]),
    (["--hosts", "a", "b", "p.py", "-v"], ["--hosts", "a", "b"], "p.py",
     ["-v"]),
    (["--hosts", "a", "b", "p.py", "-n", "1", "x"], ["--hosts", "a", "b"],
     "p.py", ["-n", "1", "x"]),
    (["--host", "a", "p.py", "--foo"], ["--host", "a"], "p.py", ["--foo"]),
    (["--hosts", "a", "-n", "2", "p.py"], ["--hosts", "a", "-n", "2"],
     "p.py", []),
    (["--hosts", "a", "b", "--", "q", "x"], ["--hosts", "a", "b"], "q",
     ["x"]),
    (["--hosts=a,b", "q", "x"], ["--hosts=a,b"], "q", ["x"]),
    (["--hosts", "a", "prog", "x"], ["--hosts", "a"], "prog", ["x"]),
    (["--bogus", "p.py"], ["--bogus"], "p.py", []),
    ([], [], None, []),
])
def test_the_program_and_everything_after_it_are_the_programs(
        here, words, launcher, program, args):
    assert cut(words) == _argv.Split(launcher, None, program, args)


@pytest.mark.parametrize("words, launcher, module, args", [
    (["-m", "mod", "-v", "--flag"], [], "mod", ["-v", "--flag"]),
    (["-n", "1", "-m", "mod", "-n", "2", "b"], ["-n", "1"], "mod",
     ["-n", "2", "b"]),
    (["-mmod", "--", "x"], [], "mod", ["--", "x"]),
    (["-vm", "mod", "a"], ["-v"], "mod", ["a"]),
    (["-vmmod", "a"], ["-v"], "mod", ["a"]),
    (["--hosts", "a", "b", "-m", "mod", "-v"], ["--hosts", "a", "b"],
     "mod", ["-v"]),
])
def test_everything_after_the_module_is_the_modules(
        here, words, launcher, module, args):
    assert cut(words) == _argv.Split(launcher, module, None, args)


def test_dash_m_without_a_module():
    with pytest.raises(UsageError, match="-m: expected a module name"):
        cut(["-n", "2", "-m"])


def test_a_host_list_without_a_program_says_where_it_ended(here):
    split = cut(["--hosts", "a", "b", "progx"])
    assert split.program is None
    assert split.launcher == ["--hosts", "a", "b", "progx"]
    assert "--hosts took a b progx as hosts" in split.hint
    assert "--hosts HOST ... -- PROGRAM ARGS" in split.hint


def test_a_file_before_a_py_word_in_a_host_list_is_ambiguous(here):
    with pytest.raises(UsageError) as info:
        cut(["--hosts", "a", "runner", "p.py", "x"])
    assert str(info.value) == (
        "--hosts a runner p.py: 'runner' names a file here and 'p.py' ends"
        " in .py, so either could be the program; if 'runner' is a host, "
        "write the hosts as one word: --hosts=a,runner p.py; if it is the "
        "program, end the host list with '--': --hosts a -- runner ...")


def test_a_file_in_a_host_list_before_options_and_a_py_word(here):
    """The list ends at ``-n``; the file in it would be the program and
    ``p.py`` its argument: ambiguous too."""
    with pytest.raises(UsageError) as info:
        cut(["--hosts", "a", "runner", "-n", "2", "p.py"])
    assert str(info.value) == (
        "--hosts a runner ... p.py: 'runner' names a file here and 'p.py' "
        "ends in .py, so either could be the program; if 'runner' is a "
        "host, write the hosts as one word: --hosts=a,runner ... p.py; if "
        "it is the program, end the host list with '--': --hosts a -- "
        "runner ...")
    assert cut(["--hosts=a,runner", "-n", "2", "p.py"]).program == "p.py"


def test_both_ways_out_of_the_ambiguity_work(here):
    assert cut(["--hosts=a,runner", "p.py", "x"]) == _argv.Split(
        ["--hosts=a,runner"], None, "p.py", ["x"])
    assert cut(["--hosts", "a", "--", "runner", "p.py"]) == _argv.Split(
        ["--hosts", "a"], None, "runner", ["p.py"])
