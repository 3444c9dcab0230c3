"""Batch-scheduler adapters (``scoop_hpc.schedulers``), their precedence,
and the placement and ``scoop-hpc hosts`` output they lead to.

Every test passes the job's environment explicitly (``environ=`` or a
subprocess ``env=``), so the test process's own variables never leak in.
The launcher is looked up on ``os.environ["PATH"]``, which the fixtures
``no_launchers`` and ``stand_ins`` pin.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from scoop_hpc.schedulers import flux, lsf, pbs, sge, slurm
from scoop_hpc.schedulers.base import AllocationError
from scoop_hpc.schedulers.hostlist import HostlistError

from scoop_hpc import cli, placement, schedulers, starters
from scoop_hpc.errors import UsageError
from scoop_hpc.hosts import Host

from .conftest import ROOT

pytestmark = pytest.mark.timeout(30)

# The Slurm rig's job environment (two nodes, two tasks and CPUs each).
RIG = {"SLURM_JOB_ID": "4", "SLURM_JOB_NODELIST": "node[1-2]",
       "SLURM_TASKS_PER_NODE": "2(x2)", "SLURM_JOB_CPUS_PER_NODE": "2(x2)",
       "SLURMD_NODENAME": "node1"}

# Host names that resolve nowhere, so no DNS answer makes them local.
A, B, C = "cn-0017.invalid", "cn-0018.invalid", "cn-0019.invalid"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def executable(directory, name: str, script: str) -> str:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def fake_flux(directory, hostlist="node[1-2]", rank="0",
              resources="node[1-2] 8\n", fail=None) -> str:
    """A ``flux`` stand-in answering the three queries the adapter makes;
    ``fail`` makes that query exit 1 with a message on stderr."""
    answers = {"getattr hostlist": f"printf '%s\\n' '{hostlist}'",
               "getattr rank": f"printf '%s\\n' '{rank}'",
               "resource list*": f"printf '{resources}'"}
    if fail is not None:
        answers[fail] = ("echo 'flux-broker: Connection refused' >&2; "
                         "exit 1")
    cases = "".join(f'  "{key.rstrip("*")}"{"*" * key.endswith("*")}) '
                    f'{value};;\n' for key, value in answers.items())
    return executable(directory, "flux",
                      "#!/bin/sh\n"
                      "echo \"$*\" >> \"$(dirname \"$0\")/flux.log\"\n"
                      f'case "$*" in\n{cases}'
                      "  *) echo \"unexpected: $*\" >&2; exit 3;;\nesac\n")


def flux_env(directory) -> dict:
    return {"FLUX_URI": "local:///x", "PATH": f"{directory}:/usr/bin:/bin"}


@pytest.fixture
def no_launchers(tmp_path, monkeypatch):
    """An empty PATH for launcher lookups: no srun, qrsh, flux..."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    """A PATH of ``exit 0`` stand-ins; returns a function adding one."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))

    def add(name: str) -> str:
        return executable(directory, name, "#!/bin/sh\nexit 0\n")
    return add


# -- detection and precedence ---------------------------------------------

def all_schedulers(tmp_path) -> dict:
    """One environment that looks like a job of every scheduler at once."""
    pe = write(tmp_path, "pe_hostfile",
               f"{C} 3 all.q@{C} UNDEFINED\n")
    nodefile = write(tmp_path, "pbs_nodefile", f"{B}\n{B}\n")
    return {"FLUX_URI": "local:///x",
            "SLURM_JOB_ID": "4", "SLURM_JOB_NODELIST": A,
            "SLURM_TASKS_PER_NODE": "5",
            "LSB_JOBID": "77", "LSB_MCPU_HOSTS": f"{B} 6",
            "PE_HOSTFILE": pe, "NSLOTS": "3",
            "PBS_JOBID": "9.pbs", "PBS_NODEFILE": nodefile}


def test_adapter_order_and_names():
    assert schedulers.ADAPTERS == (flux, slurm, lsf, sge, pbs)
    assert [a.NAME for a in schedulers.ADAPTERS] == [
        "flux", "slurm", "lsf", "sge", "pbs"]
    assert [a.LAUNCHERS for a in schedulers.ADAPTERS] == [
        ("flux",), ("srun",), ("blaunch",), ("qrsh",),
        ("pbs_tmrsh", "pbsdsh")]


def test_every_scheduler_launcher_is_a_starter():
    for name in (n for a in schedulers.ADAPTERS for n in a.LAUNCHERS):
        assert name in starters.NAMES
        assert starters.native(name).name == name


@pytest.mark.parametrize("drop, expected", [
    ((), flux),
    (("FLUX_URI",), slurm),
    (("FLUX_URI", "SLURM_JOB_ID"), lsf),
    (("FLUX_URI", "SLURM_JOB_ID", "LSB_JOBID", "LSB_MCPU_HOSTS"), sge),
    (("FLUX_URI", "SLURM_JOB_ID", "LSB_JOBID", "LSB_MCPU_HOSTS",
      "PE_HOSTFILE"), pbs),
])
def test_detect_precedence(tmp_path, drop, expected):
    environ = all_schedulers(tmp_path)
    for name in drop:
        del environ[name]
    assert schedulers.detect(environ) is expected


@pytest.mark.parametrize("environ, expected", [
    ({}, None),
    ({"HOME": "/root", "PATH": "/usr/bin"}, None),
    ({"SLURM_JOB_ID": ""}, None),
    ({"SLURM_JOBID": "12"}, slurm),
    ({"SLURM_JOB_NODELIST": "node1"}, None),
    ({"LSB_MCPU_HOSTS": "a 1"}, lsf),
    ({"LSB_DJOB_HOSTFILE": "/x"}, lsf),
    ({"NSLOTS": "4"}, None),
    ({"PBS_JOBID": "1.server"}, pbs),
    ({"PBS_NODEFILE": "/x"}, pbs),
    ({"FLUX_URI": ""}, None),
])
def test_detect_single(environ, expected):
    assert schedulers.detect(environ) is expected


def test_resolve_slurm_over_lsf_sge_pbs(tmp_path, no_launchers):
    environ = all_schedulers(tmp_path)
    del environ["FLUX_URI"]
    found = placement.resolve(environ=environ)
    assert found.source == "slurm"
    assert found.hosts == [Host(A, 5)]


def test_resolve_lsf_over_sge_pbs(tmp_path, no_launchers):
    environ = all_schedulers(tmp_path)
    for name in ("FLUX_URI", "SLURM_JOB_ID"):
        del environ[name]
    found = placement.resolve(environ=environ)
    assert found.source == "lsf"
    assert found.hosts == [Host(B, 6)]


def test_resolve_sge_over_pbs(tmp_path, no_launchers):
    environ = all_schedulers(tmp_path)
    for name in ("FLUX_URI", "SLURM_JOB_ID", "LSB_JOBID", "LSB_MCPU_HOSTS"):
        del environ[name]
    found = placement.resolve(environ=environ)
    assert found.source == "sge"
    assert found.hosts == [Host(C, 3)]


def test_resolve_pbs_last(tmp_path, no_launchers):
    environ = {"PBS_JOBID": "9.pbs",
               "PBS_NODEFILE": all_schedulers(tmp_path)["PBS_NODEFILE"]}
    found = placement.resolve(environ=environ)
    assert found.source == "pbs"
    assert found.hosts == [Host(B, 2)]


def test_resolve_flux_over_everything(tmp_path, no_launchers):
    fake_flux(tmp_path / "fluxbin")
    environ = all_schedulers(tmp_path)
    environ.update(flux_env(tmp_path / "fluxbin"))
    found = placement.resolve(environ=environ)
    assert found.source == "flux"
    assert found.hosts == [Host("node1", 4), Host("node2", 4)]


def test_explicit_hosts_beat_every_scheduler(tmp_path, no_launchers):
    environ = all_schedulers(tmp_path)
    found = placement.resolve(["localhost", "localhost"], environ=environ)
    assert found.source == "hosts"
    assert found.hosts == [Host("localhost", 2)]
    assert found.starter.name == "ssh"


def test_explicit_hostfile_beats_every_scheduler(tmp_path, no_launchers):
    environ = all_schedulers(tmp_path)
    path = write(tmp_path, "hosts.txt", "localhost 3\n")
    found = placement.resolve(hostfile=path, environ=environ)
    assert found.source == "hostfile"
    assert found.hosts == [Host("localhost", 3)]


def test_explicit_hosts_skip_a_broken_allocation(no_launchers):
    """The allocation is not even read when hosts are given."""
    environ = {"SLURM_JOB_ID": "4", "SLURM_JOB_NODELIST": "node[1-3"}
    found = placement.resolve(["localhost"], environ=environ)
    assert found.source == "hosts"


def test_resolve_no_job_is_local(no_launchers):
    found = placement.resolve(workers=3, environ={"HOME": "/root"})
    assert found.source == "local"
    assert found.hosts == [Host(os.uname().nodename.split(".")[0], 3)]
    assert found.launcher == "local"


# -- Slurm ------------------------------------------------------------------

def test_slurm_rig_values():
    got = slurm.allocation(dict(RIG))
    assert got.scheduler == "slurm"
    assert got.hosts == [Host("node1", 2), Host("node2", 2)]
    assert got.here == "node1"
    assert got.launchers == ("srun",)
    assert got.ranks == {}
    assert got.notes == [
        "SLURM_JOB_NODELIST='node[1-2]' -> node1, node2",
        "SLURM_TASKS_PER_NODE='2(x2)' -> node1 x2, node2 x2 "
        "(--slurm-slots tasks)",
        "SLURMD_NODENAME=node1: the job script's node"]


def test_slurm_multi_group_padded_list():
    got = slurm.allocation({
        "SLURM_JOB_ID": "81", "SLURM_JOB_NODELIST":
        "node[001-003,007],gpu-[1-2]",
        "SLURM_TASKS_PER_NODE": "2(x3),1,4(x2)"})
    assert got.hosts == [Host("node001", 2), Host("node002", 2),
                         Host("node003", 2), Host("node007", 1),
                         Host("gpu-1", 4), Host("gpu-2", 4)]
    assert got.here is None
    assert got.notes == [
        "SLURM_JOB_NODELIST='node[001-003,007],gpu-[1-2]' -> node001, "
        "node002, node003, node007, gpu-1, gpu-2",
        "SLURM_TASKS_PER_NODE='2(x3),1,4(x2)' -> node001 x2, node002 x2, "
        "node003 x2, node007 x1, gpu-1 x4, gpu-2 x4 (--slurm-slots tasks)"]


def test_slurm_counts_2x3_1():
    got = slurm.allocation({
        "SLURM_JOBID": "5", "SLURM_JOB_NODELIST": "cn[08-11]",
        "SLURM_TASKS_PER_NODE": "2(x3),1"})
    assert got.hosts == [Host("cn08", 2), Host("cn09", 2), Host("cn10", 2),
                         Host("cn11", 1)]


def test_slurm_nodelist_fallback():
    got = slurm.allocation({
        "SLURM_JOB_ID": "5", "SLURM_NODELIST": "old[1-2]",
        "SLURM_TASKS_PER_NODE": "3,1"})
    assert got.hosts == [Host("old1", 3), Host("old2", 1)]
    assert got.notes[0] == "SLURM_NODELIST='old[1-2]' -> old1, old2"


def test_slurm_job_nodelist_wins_over_nodelist():
    got = slurm.allocation({
        "SLURM_JOB_ID": "5", "SLURM_JOB_NODELIST": "new1",
        "SLURM_NODELIST": "old[1-2]", "SLURM_TASKS_PER_NODE": "2"})
    assert got.hosts == [Host("new1", 2)]


def test_slurm_slots_cpus():
    environ = {"SLURM_JOB_ID": "6", "SLURM_JOB_NODELIST": "big[1-3]",
               "SLURM_TASKS_PER_NODE": "1(x3)",
               "SLURM_JOB_CPUS_PER_NODE": "72(x2),36"}
    got = slurm.allocation(environ, slots="cpus")
    assert got.hosts == [Host("big1", 72), Host("big2", 72),
                         Host("big3", 36)]
    assert got.notes[1] == ("SLURM_JOB_CPUS_PER_NODE='72(x2),36' -> "
                            "big1 x72, big2 x72, big3 x36 "
                            "(--slurm-slots cpus)")
    tasks = slurm.allocation(environ)
    assert tasks.hosts == [Host("big1", 1), Host("big2", 1),
                           Host("big3", 1)]


def test_slurm_slots_cpus_through_resolve(no_launchers):
    environ = {"SLURM_JOB_ID": "6", "SLURM_JOB_NODELIST": "big[1-3]",
               "SLURM_TASKS_PER_NODE": "1(x3)",
               "SLURM_JOB_CPUS_PER_NODE": "72(x2),36"}
    found = placement.resolve(environ=environ, slurm_slots="cpus")
    assert found.size == 180
    assert "SLURM_JOB_CPUS_PER_NODE='72(x2),36' -> big1 x72, big2 x72, " \
           "big3 x36 (--slurm-slots cpus)" in found.notes


def test_slurm_same_node_twice_is_summed():
    got = slurm.allocation({"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST":
                            "a,b,a", "SLURM_TASKS_PER_NODE": "2,1,3"})
    assert got.hosts == [Host("a", 5), Host("b", 1)]


@pytest.mark.parametrize("nodes, counts, n_nodes, n_counts", [
    ("node[1-3]", "2(x2)", 3, 2),
    ("node[1-2]", "2(x3),1", 2, 4),
])
def test_slurm_count_node_mismatch(nodes, counts, n_nodes, n_counts):
    with pytest.raises(AllocationError) as info:
        slurm.allocation({"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST": nodes,
                          "SLURM_TASKS_PER_NODE": counts})
    assert str(info.value) == (
        f"SLURM_JOB_NODELIST={nodes!r} names {n_nodes} nodes but "
        f"SLURM_TASKS_PER_NODE={counts!r} gives {n_counts} counts; "
        f"the job's environment is inconsistent")


def test_slurm_cpus_mismatch_names_cpus_variable():
    with pytest.raises(AllocationError) as info:
        slurm.allocation({"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST":
                          "node[1-3]", "SLURM_TASKS_PER_NODE": "1(x3)",
                          "SLURM_JOB_CPUS_PER_NODE": "72(x2)"}, slots="cpus")
    message = str(info.value)
    assert "SLURM_JOB_NODELIST='node[1-3]' names 3 nodes" in message
    assert "SLURM_JOB_CPUS_PER_NODE='72(x2)' gives 2 counts" in message


@pytest.mark.parametrize("slots, variable", [
    ("tasks", "SLURM_TASKS_PER_NODE"),
    ("cpus", "SLURM_JOB_CPUS_PER_NODE"),
])
def test_slurm_missing_counts(slots, variable):
    environ = dict(RIG)
    del environ[variable]
    with pytest.raises(AllocationError) as info:
        slurm.allocation(environ, slots=slots)
    assert str(info.value) == (
        f"{variable} is not set or empty, so the number of workers per "
        f"node cannot be read; pass --hosts or --hostfile to place the "
        f"workers by hand")


def test_slurm_missing_nodelist():
    with pytest.raises(AllocationError,
                       match=r"SLURM_JOB_NODELIST \(or SLURM_NODELIST\) is "
                             "not set or empty, so the Slurm job's node list "
                             "cannot be read"):
        slurm.allocation({"SLURM_JOB_ID": "1",
                          "SLURM_TASKS_PER_NODE": "1"})


def test_slurm_bad_counts_name_the_variable():
    with pytest.raises(HostlistError) as info:
        slurm.allocation({"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST": "a,b",
                          "SLURM_TASKS_PER_NODE": "2(3)"})
    assert info.value.source == "SLURM_TASKS_PER_NODE"
    assert str(info.value).startswith("SLURM_TASKS_PER_NODE='2(3)': ")


def test_slurm_bad_nodelist_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        slurm.allocation({"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST":
                          "node[1-3", "SLURM_TASKS_PER_NODE": "1(x3)"})
    assert str(info.value).startswith("SLURM_JOB_NODELIST='node[1-3': ")


def test_slurm_here_is_none_without_slurmd_nodename():
    environ = dict(RIG)
    del environ["SLURMD_NODENAME"]
    got = slurm.allocation(environ)
    assert got.here is None
    assert len(got.notes) == 2


# -- PBS --------------------------------------------------------------------

def test_pbs_torque_ppn_fqdn(tmp_path):
    # qsub -l nodes=3:ppn=4: four lines per node, in node order
    path = write(tmp_path, "aggregate",
                 "n17.cluster.example.org\n" * 4
                 + "n03.cluster.example.org\n" * 4
                 + "n11.cluster.example.org\n" * 4)
    got = pbs.allocation({"PBS_JOBID": "1234.torque", "PBS_NODEFILE": path,
                          "PBS_NP": "12"})
    assert got.scheduler == "pbs"
    assert got.hosts == [Host("n17.cluster.example.org", 4),
                         Host("n03.cluster.example.org", 4),
                         Host("n11.cluster.example.org", 4)]
    assert got.here == "n17.cluster.example.org"
    assert got.launchers == ("pbs_tmrsh", "pbsdsh")
    assert got.notes == [
        f"PBS_NODEFILE={path}: 12 lines -> n17.cluster.example.org x4, "
        f"n03.cluster.example.org x4, n11.cluster.example.org x4"]


def test_pbs_pro_select_default_mpiprocs(tmp_path):
    # select=2:ncpus=64 with mpiprocs defaulting to 1: two lines
    path = write(tmp_path, "nodefile", "x3005c0s13b0n0\nx3005c0s7b1n0\n")
    got = pbs.allocation({"PBS_JOBID": "55.pbspro", "PBS_NODEFILE": path,
                          "NCPUS": "64"})
    assert got.hosts == [Host("x3005c0s13b0n0", 1), Host("x3005c0s7b1n0", 1)]
    assert got.here == "x3005c0s13b0n0"


def test_pbs_pro_chunk_order_kept(tmp_path):
    # select=1:ncpus=8:mpiprocs=2+2:ncpus=4:mpiprocs=3, chunks on zeta,
    # alpha, mid: the file is in chunk order, not sorted
    path = write(tmp_path, "nodefile",
                 "zeta\nzeta\nalpha\nalpha\nalpha\nmid\nmid\nmid\n")
    got = pbs.allocation({"PBS_NODEFILE": path})
    assert got.hosts == [Host("zeta", 2), Host("alpha", 3), Host("mid", 3)]
    assert got.here == "zeta"


def test_pbs_interleaved_lines_summed_first_seen(tmp_path):
    path = write(tmp_path, "nodefile", "b\na\nb\n\na\nb\n")
    got = pbs.allocation({"PBS_NODEFILE": path})
    assert got.hosts == [Host("b", 3), Host("a", 2)]
    assert got.notes == [f"PBS_NODEFILE={path}: 5 lines -> b x3, a x2"]


def test_pbs_missing_file(tmp_path):
    path = str(tmp_path / "absent")
    with pytest.raises(AllocationError) as info:
        pbs.allocation({"PBS_JOBID": "1", "PBS_NODEFILE": path})
    assert str(info.value) == (f"PBS_NODEFILE={path}: cannot read the file "
                               f"(No such file or directory)")


def test_pbs_unset_nodefile():
    with pytest.raises(AllocationError) as info:
        pbs.allocation({"PBS_JOBID": "1"})
    assert str(info.value).startswith("PBS_NODEFILE is not set or empty")


def test_pbs_malformed_line(tmp_path):
    path = write(tmp_path, "nodefile", "n1\nn1\nn2 4\n")
    with pytest.raises(AllocationError) as info:
        pbs.allocation({"PBS_NODEFILE": path})
    assert str(info.value) == (f"PBS_NODEFILE={path}, line 3: 'n2 4': "
                               f"expected one host name")


def test_pbs_empty_file(tmp_path):
    path = write(tmp_path, "nodefile", "\n\n")
    with pytest.raises(AllocationError) as info:
        pbs.allocation({"PBS_NODEFILE": path})
    assert str(info.value) == f"PBS_NODEFILE={path}: the file names no host"


# -- Grid Engine --------------------------------------------------------------

def test_sge_single_host(tmp_path):
    path = write(tmp_path, "pe_hostfile",
                 "node3.example 32 all.q@node3.example UNDEFINED\n")
    got = sge.allocation({"PE_HOSTFILE": path, "NSLOTS": "32"})
    assert got.scheduler == "sge"
    assert got.hosts == [Host("node3.example", 32)]
    assert got.here == "node3.example"
    assert got.launchers == ("qrsh",)
    assert got.notes == [
        f"PE_HOSTFILE={path} -> node3.example x32 (master node3.example)",
        "NSLOTS=32 agrees"]


def test_sge_several_hosts_and_two_queues(tmp_path):
    path = write(tmp_path, "pe_hostfile",
                 "node7.example 4 all.q@node7.example UNDEFINED\n"
                 "node3.example 8 all.q@node3.example UNDEFINED\n"
                 "node7.example 2 long.q@node7.example 0,1\n"
                 "node5.example 1 long.q@node5.example UNDEFINED\n")
    got = sge.allocation({"PE_HOSTFILE": path, "NSLOTS": "15"})
    assert got.hosts == [Host("node7.example", 6), Host("node3.example", 8),
                         Host("node5.example", 1)]
    assert got.here == "node7.example"
    assert got.notes[0] == (f"PE_HOSTFILE={path} -> node7.example x6, "
                            f"node3.example x8, node5.example x1 "
                            f"(master node7.example)")


def test_sge_without_nslots(tmp_path):
    path = write(tmp_path, "pe_hostfile",
                 "a 2 all.q@a UNDEFINED\n\nb 2 all.q@b UNDEFINED\n")
    got = sge.allocation({"PE_HOSTFILE": path})
    assert got.hosts == [Host("a", 2), Host("b", 2)]
    assert len(got.notes) == 1


def test_sge_nslots_disagrees(tmp_path):
    path = write(tmp_path, "pe_hostfile",
                 "a 2 all.q@a UNDEFINED\nb 2 all.q@b UNDEFINED\n")
    with pytest.raises(AllocationError) as info:
        sge.allocation({"PE_HOSTFILE": path, "NSLOTS": "5"})
    assert str(info.value) == (
        f"NSLOTS=5 but PE_HOSTFILE={path} gives 4 slots; the job's "
        f"environment is inconsistent")


@pytest.mark.parametrize("line, why", [
    ("node1 x all.q@node1 UNDEFINED", "'x' is not a positive number of "
                                      "slots"),
    ("node1 0 all.q@node1 UNDEFINED", "'0' is not a positive number of "
                                      "slots"),
    ("node1", "expected 'host slots queue range'"),
])
def test_sge_malformed_line(tmp_path, line, why):
    path = write(tmp_path, "pe_hostfile",
                 f"node0 1 all.q@node0 UNDEFINED\n{line}\n")
    with pytest.raises(AllocationError) as info:
        sge.allocation({"PE_HOSTFILE": path})
    assert str(info.value) == f"PE_HOSTFILE={path}, line 2: {line!r}: {why}"


def test_sge_missing_and_empty_file(tmp_path):
    with pytest.raises(AllocationError, match="cannot read the file"):
        sge.allocation({"PE_HOSTFILE": str(tmp_path / "absent")})
    path = write(tmp_path, "pe_hostfile", "\n")
    with pytest.raises(AllocationError) as info:
        sge.allocation({"PE_HOSTFILE": path})
    assert str(info.value) == f"PE_HOSTFILE={path}: the file names no host"


# -- LSF --------------------------------------------------------------------

def test_lsf_mcpu_hosts():
    got = lsf.allocation({"LSB_JOBID": "3", "LSB_MCPU_HOSTS":
                          "hostA 4 hostB 4"})
    assert got.scheduler == "lsf"
    assert got.hosts == [Host("hostA", 4), Host("hostB", 4)]
    assert got.here == "hostA"
    assert got.launchers == ("blaunch",)
    assert got.notes == ["LSB_MCPU_HOSTS='hostA 4 hostB 4' -> hostA x4, "
                         "hostB x4"]


def test_lsf_mcpu_hosts_wins_over_hostfile(tmp_path):
    path = write(tmp_path, "djob", "other\n")
    got = lsf.allocation({"LSB_MCPU_HOSTS": "hostA 2",
                          "LSB_DJOB_HOSTFILE": path})
    assert got.hosts == [Host("hostA", 2)]


def test_lsf_odd_field_count():
    with pytest.raises(AllocationError) as info:
        lsf.allocation({"LSB_MCPU_HOSTS": "hostA 4 hostB"})
    assert str(info.value) == ("LSB_MCPU_HOSTS='hostA 4 hostB': expected "
                               "pairs of 'host slots'")


@pytest.mark.parametrize("count", ["four", "0", "-1"])
def test_lsf_bad_count(count):
    text = f"hostA {count} hostB 4"
    with pytest.raises(AllocationError) as info:
        lsf.allocation({"LSB_MCPU_HOSTS": text})
    assert str(info.value) == (f"LSB_MCPU_HOSTS={text!r}: {count!r} is not "
                               f"a positive number of slots")


def test_lsf_djob_hostfile(tmp_path):
    path = write(tmp_path, "hostfile",
                 "hostA\nhostA\nhostA\nhostB\nhostB\nhostB\n")
    got = lsf.allocation({"LSB_JOBID": "3", "LSB_DJOB_HOSTFILE": path})
    assert got.hosts == [Host("hostA", 3), Host("hostB", 3)]
    assert got.here == "hostA"
    assert got.notes == [f"LSB_DJOB_HOSTFILE={path} -> hostA x3, hostB x3"]


def test_lsf_djob_hostfile_malformed(tmp_path):
    path = write(tmp_path, "hostfile", "hostA\nhostA 2\n")
    with pytest.raises(AllocationError) as info:
        lsf.allocation({"LSB_DJOB_HOSTFILE": path})
    assert str(info.value) == (f"LSB_DJOB_HOSTFILE={path}, line 2: "
                               f"'hostA 2': expected one host name")


def test_lsf_neither_variable():
    with pytest.raises(AllocationError) as info:
        lsf.allocation({"LSB_JOBID": "3"})
    assert str(info.value) == (
        "neither LSB_MCPU_HOSTS nor LSB_DJOB_HOSTFILE is set, so the LSF "
        "job's hosts cannot be read; pass --hosts or --hostfile")


def test_lsf_skip_launch_node():
    got = lsf.allocation({"LSB_MCPU_HOSTS": "batch3 1 a01n01 42 a01n02 42"},
                         skip_launch_node=True)
    assert got.hosts == [Host("a01n01", 42), Host("a01n02", 42)]
    assert got.here == "batch3"
    assert got.notes == [
        "LSB_MCPU_HOSTS='batch3 1 a01n01 42 a01n02 42' -> batch3 x1, "
        "a01n01 x42, a01n02 x42",
        "launch node batch3 skipped (--skip-launch-node)"]


def test_lsf_skip_launch_node_through_resolve(no_launchers):
    environ = {"LSB_JOBID": "3",
               "LSB_MCPU_HOSTS": f"batch3 1 {A} 2 {B} 2"}
    found = placement.resolve(environ=environ, skip_launch_node=True)
    assert found.hosts == [Host(A, 2), Host(B, 2)]
    assert found.local == [False, False]
    kept = placement.resolve(environ=environ)
    assert kept.hosts == [Host("batch3", 1), Host(A, 2), Host(B, 2)]


def test_lsf_skip_launch_node_only_host():
    with pytest.raises(AllocationError) as info:
        lsf.allocation({"LSB_MCPU_HOSTS": "batch3 1"},
                       skip_launch_node=True)
    assert str(info.value) == (
        "--skip-launch-node: the job has only the launch node batch3; "
        "nothing would be left to run on")


# -- Flux -------------------------------------------------------------------

def test_flux_allocation(tmp_path):
    fake_flux(tmp_path)
    got = flux.allocation(flux_env(tmp_path))
    assert got.scheduler == "flux"
    assert got.hosts == [Host("node1", 4), Host("node2", 4)]
    assert got.here == "node1"
    assert got.ranks == {"node1": 0, "node2": 1}
    assert got.launchers == ("flux",)
    assert got.notes == ["flux getattr hostlist -> node[1-2]",
                         "flux resource list -> node1 x4, node2 x4",
                         "flux getattr rank -> 0 (node1)"]
    calls = (tmp_path / "flux.log").read_text().splitlines()
    assert calls == ["getattr hostlist",
                     "resource list -n -s up -o {nodelist} {ncores}",
                     "getattr rank"]


def test_flux_rank_and_several_groups(tmp_path):
    fake_flux(tmp_path, hostlist="fx[0-2]", rank="2",
              resources="fx[0-1] 16\\nfx2 4\\n")
    got = flux.allocation(flux_env(tmp_path))
    assert got.hosts == [Host("fx0", 8), Host("fx1", 8), Host("fx2", 4)]
    assert got.here == "fx2"
    assert got.ranks == {"fx0": 0, "fx1": 1, "fx2": 2}
    assert got.notes[2] == "flux getattr rank -> 2 (fx2)"


@pytest.mark.parametrize("fail", ["getattr hostlist", "resource list*",
                                  "getattr rank"])
def test_flux_failing_command(tmp_path, fail):
    fake_flux(tmp_path, fail=fail)
    with pytest.raises(AllocationError) as info:
        flux.allocation(flux_env(tmp_path))
    command = {"getattr hostlist": "flux getattr hostlist",
               "resource list*": "flux resource list -n -s up -o "
                                 "{nodelist} {ncores}",
               "getattr rank": "flux getattr rank"}[fail]
    assert str(info.value) == (f"FLUX_URI is set but {command} failed: "
                               f"flux-broker: Connection refused")


def test_flux_not_on_path(tmp_path):
    with pytest.raises(AllocationError) as info:
        flux.allocation({"FLUX_URI": "local:///x", "PATH": str(tmp_path)})
    assert str(info.value).startswith(
        "FLUX_URI is set but flux getattr hostlist failed: ")


def test_flux_uneven_cores(tmp_path):
    fake_flux(tmp_path, hostlist="node[1-3]", resources="node[1-3] 8\\n")
    with pytest.raises(AllocationError) as info:
        flux.allocation(flux_env(tmp_path))
    assert str(info.value) == (
        "flux resource list: 'node[1-3] 8': 8 cores do not divide evenly "
        "over 3 nodes; pass --hosts or --hostfile")


def test_flux_node_without_cores(tmp_path):
    fake_flux(tmp_path, hostlist="node[1-3]", resources="node[1-2] 8\\n")
    with pytest.raises(AllocationError) as info:
        flux.allocation(flux_env(tmp_path))
    assert str(info.value) == "flux resource list: no cores up on node3"


@pytest.mark.parametrize("rank", ["abc", "5"])
def test_flux_bad_rank_is_an_allocation_error(tmp_path, rank):
    fake_flux(tmp_path, rank=rank)
    with pytest.raises(AllocationError):
        flux.allocation(flux_env(tmp_path))


def test_flux_placement_ranks(tmp_path, monkeypatch):
    fake_flux(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = placement.resolve(environ=flux_env(tmp_path))
    assert found.source == "flux"
    assert found.ranks == {"node1": 0, "node2": 1}
    assert found.starter.name == "flux"
    assert found.launcher == "flux"
    assert found.local == [True, False]
    assert found.starter.argv("node2", "true", rank=found.ranks["node2"]) \
        == ["flux", "exec", "-r", "1", "/bin/sh", "-c", "true"]


def test_launcher_lookup_uses_the_given_environ(tmp_path, no_launchers):
    fake_flux(tmp_path)
    found = placement.resolve(environ=flux_env(tmp_path))
    assert found.starter.name == "flux"


# -- launcher choice and Placement.local --------------------------------------

def test_auto_picks_srun_when_on_path(stand_ins):
    srun = stand_ins("srun")
    found = placement.resolve(environ=dict(RIG))
    assert found.source == "slurm"
    assert found.starter.name == "srun"
    assert found.launcher == "srun"
    assert found.everywhere is False
    assert found.local == [True, False]
    assert found.notes[-1] == f"launcher: srun, the slurm job's own ({srun})"


def test_auto_falls_back_to_ssh_with_a_warning(no_launchers, caplog):
    with caplog.at_level(logging.WARNING, logger="scoop_hpc.launcher"):
        found = placement.resolve(environ=dict(RIG))
    assert found.starter.name == "ssh"
    assert found.starter.executable == "ssh"
    assert found.launcher == "ssh"
    assert found.everywhere is False
    assert found.notes[-1] == ("launcher: ssh, because none of srun is on "
                               "PATH, so other hosts are reached with ssh")
    assert [r.getMessage() for r in caplog.records] == [
        "slurm job: none of srun is on PATH, so other hosts are reached "
        "with ssh (name one with --launcher)"]


def test_auto_pbs_takes_the_first_launcher_found(tmp_path, stand_ins):
    stand_ins("pbsdsh")
    environ = {"PBS_NODEFILE": write(tmp_path, "nf", f"{A}\n{B}\n")}
    assert placement.resolve(environ=environ).starter.name == "pbsdsh"
    stand_ins("pbs_tmrsh")
    assert placement.resolve(environ=environ).starter.name == "pbs_tmrsh"


def test_explicit_launcher_not_on_path(no_launchers):
    with pytest.raises(UsageError) as info:
        placement.resolve(environ=dict(RIG), launcher="srun")
    assert str(info.value) == "--launcher srun: srun is not on PATH"


def test_explicit_launcher_mpirun_looks_for_mpiexec(stand_ins):
    with pytest.raises(UsageError, match="mpiexec is not on PATH"):
        placement.resolve(environ=dict(RIG), launcher="mpirun")
    stand_ins("mpiexec")
    found = placement.resolve(environ=dict(RIG), launcher="mpirun")
    assert found.launcher == "mpirun"
    assert found.everywhere is True


def test_everywhere_only_for_an_explicit_launcher(stand_ins):
    stand_ins("srun")
    single = {"SLURM_JOB_ID": "8", "SLURM_JOB_NODELIST": A,
              "SLURM_TASKS_PER_NODE": "4", "SLURMD_NODENAME": A}
    auto = placement.resolve(environ=single)
    assert auto.everywhere is False
    assert auto.local == [True]
    assert auto.launcher == "local"
    named = placement.resolve(environ=single, launcher="srun")
    assert named.everywhere is True
    assert named.launcher == "srun"
    assert named.notes[-1] == "--launcher srun"
    by_ssh = placement.resolve(environ=single, launcher="ssh")
    assert by_ssh.everywhere is True
    assert by_ssh.launcher == "ssh"
    one = placement.resolve(environ=single, launcher="srun", workers=1)
    assert one.launcher == "local"
    hosts = placement.resolve(["localhost"], environ=single)
    assert hosts.everywhere is False


def test_here_counts_as_this_host_without_resolving(no_launchers):
    environ = {"SLURM_JOB_ID": "8", "SLURM_JOB_NODELIST": f"{A},{B}",
               "SLURM_TASKS_PER_NODE": "2(x2)", "SLURMD_NODENAME": A}
    found = placement.resolve(environ=environ)
    assert found.local == [True, False]
    assert found.describe() == (
        "4 workers on 2 host(s) (from slurm; started by ssh):\n"
        f"  {A}     2  w0-w1 (this host, root)\n"
        f"  {B}     2  w2-w3 (remote)")
    del environ["SLURMD_NODENAME"]
    assert placement.resolve(environ=environ).local == [False, False]


def test_placement_local_uses_here_directly():
    hosts = [Host(B, 1), Host(A, 3)]
    found = placement.Placement("pbs", hosts, starters.native("pbsdsh"),
                                here=A)
    assert found.local == [False, True]
    assert placement.Placement("pbs", hosts, starters.ssh()).local == [
        False, False]


def test_resolve_n_over_an_allocation(no_launchers):
    found = placement.resolve(environ=dict(RIG), workers=3)
    assert found.hosts == [Host("node1", 2), Host("node2", 1)]
    assert found.notes[-2] == "-n 3: node1 x2, node2 x1"
    assert found.notes[0] == "inside a slurm job"


# -- scoop-hpc hosts in a Slurm-like environment ------------------------------

def hosts_cli(args, path, **extra) -> subprocess.CompletedProcess:
    env = {"PATH": str(path), **RIG, **extra}
    return subprocess.run(
        [sys.executable, "-m", "scoop_hpc.cli", "hosts", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=25)


RIG_JSON = {"source": "slurm",
            "hosts": [{"name": "node1", "workers": 2},
                      {"name": "node2", "workers": 2}],
            "workers": 4}


def test_cli_hosts_json_with_srun(tmp_path):
    executable(tmp_path / "bin", "srun", "#!/bin/sh\nexit 0\n")
    proc = hosts_cli(["--json"], tmp_path / "bin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == {**RIG_JSON, "launcher": "srun"}


def test_cli_hosts_json_without_srun(tmp_path):
    proc = hosts_cli(["--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {**RIG_JSON, "launcher": "ssh"}
    assert "none of srun is on PATH" in proc.stderr
    assert "reached with ssh" in proc.stderr


def test_cli_hosts_explain_with_srun(tmp_path):
    srun = executable(tmp_path / "bin", "srun", "#!/bin/sh\nexit 0\n")
    proc = hosts_cli(["--explain"], tmp_path / "bin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "How this placement was found:\n"
        "  - inside a slurm job\n"
        "  - SLURM_JOB_NODELIST='node[1-2]' -> node1, node2\n"
        "  - SLURM_TASKS_PER_NODE='2(x2)' -> node1 x2, node2 x2 "
        "(--slurm-slots tasks)\n"
        "  - SLURMD_NODENAME=node1: the job script's node\n"
        f"  - launcher: srun, the slurm job's own ({srun})\n"
        "4 workers on 2 host(s) (from slurm; started by srun):\n"
        "  node1     2  w0-w1 (this host, root)\n"
        "  node2     2  w2-w3 (remote)\n")


def test_cli_hosts_explain_without_srun(tmp_path):
    proc = hosts_cli(["--explain", "--slurm-slots", "cpus"], tmp_path,
                     SLURM_JOB_CPUS_PER_NODE="72(x2)")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert ("  - SLURM_JOB_CPUS_PER_NODE='72(x2)' -> node1 x72, node2 x72 "
            "(--slurm-slots cpus)") in lines
    assert ("  - launcher: ssh, because none of srun is on PATH, so other "
            "hosts are reached with ssh") in lines
    assert lines[-3] == ("144 workers on 2 host(s) (from slurm; started by "
                         "ssh):")


def test_cli_hosts_malformed_nodelist(tmp_path):
    proc = hosts_cli(["--json"], tmp_path, SLURM_JOB_NODELIST="node[1-3")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert ("scoop-hpc hosts: error: SLURM_JOB_NODELIST='node[1-3': "
            "unbalanced '[' in 'node[1-3'") in proc.stderr


def test_cli_hosts_launcher_srun_not_on_path(tmp_path):
    proc = hosts_cli(["--launcher", "srun"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.endswith(
        "scoop-hpc hosts: error: --launcher srun: srun is not on PATH\n")


def test_cli_hosts_in_process(tmp_path, monkeypatch, capsys):
    """cli.main reads os.environ: give it the rig's job."""
    for name in list(os.environ):
        if name.startswith(("SLURM", "FLUX_", "LSB_", "PE_HOSTFILE",
                            "PBS_")):
            monkeypatch.delenv(name)
    for name, value in RIG.items():
        monkeypatch.setenv(name, value)
    executable(tmp_path / "bin", "srun", "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert cli.main(["hosts", "--json", "-n", "3"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "source": "slurm", "hosts": [{"name": "node1", "workers": 2},
                                     {"name": "node2", "workers": 1}],
        "workers": 3, "launcher": "srun"}
    assert err == ""


def test_slurm_launcher_started_by_srun_counts_the_jobs_cpus():
    """In ``srun -n 1 python -m scoop_hpc`` srun set SLURM_TASKS_PER_NODE
    to its step's one task (the rig's values, seen in such a step)."""
    got = slurm.allocation({
        "SLURM_JOB_ID": "23", "SLURM_JOB_NODELIST": "node[1-2]",
        "SLURM_NODELIST": "node[1-2]", "SLURM_TASKS_PER_NODE": "1",
        "SLURM_JOB_CPUS_PER_NODE": "2(x2)", "SLURM_STEP_NODELIST": "node1",
        "SLURM_STEP_TASKS_PER_NODE": "1", "SLURMD_NODENAME": "node1"})
    assert got.hosts == [Host("node1", 2), Host("node2", 2)]
    assert got.here == "node1"
    assert got.notes[1] == (
        "SLURM_STEP_NODELIST='node1': started by srun, in a job step: "
        "SLURM_TASKS_PER_NODE is the step's, so the job's CPUs count")
    assert "(--slurm-slots cpus)" in got.notes[2]
