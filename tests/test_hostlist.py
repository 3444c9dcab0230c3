"""schedulers/hostlist.py: Slurm host lists and task-count lists."""
from __future__ import annotations

import pytest

# The tree's own copy: it is importable from the repository root whatever
# checkout the installed scoop_hpc.schedulers points at.
from scoop_hpc.schedulers.hostlist import (
    MAX_NAMES,
    HostlistError,
    expand,
    expand_counts,
)

from scoop_hpc.errors import UsageError

pytestmark = pytest.mark.timeout(30)


def error_of(function, text: str, **kwargs) -> str:
    """The message of the HostlistError that ``function(text)`` raises."""
    with pytest.raises(HostlistError) as caught:
        function(text, **kwargs)
    return str(caught.value)


# -- expand: good lists ------------------------------------------------------

@pytest.mark.parametrize("text, names", [
    ("node1", ["node1"]),
    ("node[1-2]", ["node1", "node2"]),
    ("node1,node2", ["node1", "node2"]),
    ("node[1-3]", ["node1", "node2", "node3"]),
    ("node[001-004,007]",
     ["node001", "node002", "node003", "node004", "node007"]),
    ("node[001-004,007],gpu-[1-2]",
     ["node001", "node002", "node003", "node004", "node007",
      "gpu-1", "gpu-2"]),
    ("gpu-[1-2]", ["gpu-1", "gpu-2"]),
    ("compute-b2[011,022]", ["compute-b2011", "compute-b2022"]),
    ("compute[042-043,045,048-049]",
     ["compute042", "compute043", "compute045", "compute048",
      "compute049"]),
    ("rack[1-2]-node[01-03]",
     ["rack1-node01", "rack1-node02", "rack1-node03",
      "rack2-node01", "rack2-node02", "rack2-node03"]),
    ("node[1-2]-ib", ["node1-ib", "node2-ib"]),
    ("p[00-3]p", ["p00p", "p01p", "p02p", "p03p"]),
    ("n[8-10]", ["n8", "n9", "n10"]),
    ("n[08-10]", ["n08", "n09", "n10"]),
    ("n[1-3]", ["n1", "n2", "n3"]),
    ("n[7]", ["n7"]),
    ("n[007]", ["n007"]),
    ("[1-2]", ["1", "2"]),
    ("n1.cluster.org,n2.cluster.org", ["n1.cluster.org", "n2.cluster.org"]),
    ("n[1-2].cluster.org", ["n1.cluster.org", "n2.cluster.org"]),
])
def test_expand(text, names):
    assert expand(text) == names


@pytest.mark.parametrize("text", [
    "n[1-2] m[3-4]",
    "n[1-2]\tm[3-4]",
    "n[1-2], m[3-4]",
    "n[1-2] ,\t m[3-4]",
    "  n[1-2],,m[3-4]\t",
])
def test_expand_splits_at_commas_spaces_and_tabs(text):
    assert expand(text) == ["n1", "n2", "m3", "m4"]


def test_expand_keeps_duplicates_and_order():
    assert expand("b,a,b") == ["b", "a", "b"]
    assert expand("n2,n[1-2],n1") == ["n2", "n1", "n2", "n1"]
    assert expand("n[3,1,3]") == ["n3", "n1", "n3"]


def test_expand_up_to_the_cap():
    names = expand(f"n[1-{MAX_NAMES}]")
    assert len(names) == MAX_NAMES == 65536
    assert names[0] == "n1" and names[-1] == "n65536"


# -- expand: errors ----------------------------------------------------------

@pytest.mark.parametrize("text, complaint", [
    ("node[1-3", "unbalanced '[' in 'node[1-3'"),
    ("a,node[1-3,n2", "unbalanced '[' in 'node[1-3,n2'"),
    ("node[1[2]]", "nested '[' in 'node[1[2]]'"),
    ("node1]", "stray ']' in 'node1]'"),
    ("n]1[2]", "stray ']' in 'n]1[2]'"),
    ("node[1-2]]", "stray ']' in 'node[1-2]]'"),
    ("node[5-3]", "range '5-3' in 'node[5-3]' runs backwards (lo > hi)"),
    ("node[a-b]", "'a-b' in 'node[a-b]' is not a number or a range"),
    ("node[1-x]", "'1-x' in 'node[1-x]' is not a number"),
    ("node[1-]", "'1-' in 'node[1-]' is not a number"),
    ("node[-1-3]", "'-1-3' in 'node[-1-3]' is not a number"),
    ("node[1,,3]", "'' in 'node[1,,3]' is not a number"),
    ("node[1, 3]", "' 3' in 'node[1, 3]' is not a number"),
    ("node[]", "empty brackets in 'node[]'"),
    ("", "no host names"),
    (" ,\t", "no host names"),
])
def test_expand_errors(text, complaint):
    message = error_of(expand, text)
    assert message.startswith(f"SLURM_JOB_NODELIST={text!r}: ")
    assert complaint in message


def test_expand_error_matches_the_documented_example():
    message = error_of(expand, "node[1-3")
    assert message.startswith(
        "SLURM_JOB_NODELIST='node[1-3': unbalanced '[' in 'node[1-3'; ")
    assert "close every '['" in message


@pytest.mark.parametrize("text, what", [
    (f"n[1-{MAX_NAMES + 1}]", f"range '1-{MAX_NAMES + 1}'"),
    ("n[1-40000,1-40000]", "[1-40000,1-40000]"),
    ("n[1-300]x[1-300]", "'n[1-300]x[1-300]' stands for 90000 names"),
    ("a[1-40000],b[1-40000]", "the list stands for 80000 names"),
])
def test_expand_refuses_more_than_slurms_cap(text, what):
    message = error_of(expand, text)
    assert message.startswith(f"SLURM_JOB_NODELIST={text!r}: ")
    assert what in message
    assert "Slurm's cap of 65536" in message


def test_expand_error_names_the_source():
    message = error_of(expand, "x[2-1]", source="SLURM_NODELIST")
    assert message.startswith("SLURM_NODELIST='x[2-1]': ")
    assert "'1-2'" in message  # what to write instead


def test_hostlist_error_is_a_usage_error():
    assert issubclass(HostlistError, UsageError)
    with pytest.raises(UsageError) as caught:
        expand("node[]")
    assert caught.value.source == "SLURM_JOB_NODELIST"
    assert caught.value.text == "node[]"


# -- expand_counts -----------------------------------------------------------

@pytest.mark.parametrize("text, counts", [
    ("2(x3),1", [2, 2, 2, 1]),
    ("72(x2),36", [72, 72, 36]),
    ("4", [4]),
    ("1(x1)", [1]),
    ("3,1(x2),5", [3, 1, 1, 5]),
    ("2(x2), 1", [2, 2, 1]),
])
def test_expand_counts(text, counts):
    assert expand_counts(text) == counts


@pytest.mark.parametrize("text, complaint", [
    ("2(x0)", "zero repeat '(x0)' in '2(x0)'"),
    ("(x2)", "repeat without a count before it in '(x2)'"),
    ("2(3)", "repeat without 'x' in '2(3)'"),
    ("-1", "negative count in '-1'"),
    ("2,-1(x2)", "negative count in '-1(x2)'"),
    ("two", "not a count N or N(xR) in 'two'"),
    ("2(x3", "not a count N or N(xR) in '2(x3'"),
    ("2(xa)", "not a count N or N(xR) in '2(xa)'"),
    ("1.5", "not a count N or N(xR) in '1.5'"),
    ("0", "zero count in '0'"),
    ("2,", "empty entry in ''"),
    ("", "no counts"),
    ("  ", "no counts"),
    (f"1(x{MAX_NAMES + 1})", "Slurm's cap of 65536"),
])
def test_expand_counts_errors(text, complaint):
    message = error_of(expand_counts, text)
    assert message.startswith(f"SLURM_TASKS_PER_NODE={text!r}: ")
    assert complaint in message


def test_expand_counts_error_names_the_source():
    message = error_of(expand_counts, "2(x0)",
                       source="SLURM_JOB_CPUS_PER_NODE")
    assert message.startswith("SLURM_JOB_CPUS_PER_NODE='2(x0)': ")
