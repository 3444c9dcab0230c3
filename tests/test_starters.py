"""starters.py (the command each launcher runs) and remote.Starter (the
shell command run on the host)."""
from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from scoop_hpc import starters
from scoop_hpc.remote import Starter

pytestmark = pytest.mark.timeout(30)

CMD = "exec python3 -m scoop_hpc.agent"
SSH_OPTIONS = ["-T", "-x", "-oBatchMode=yes", "-oConnectTimeout=10",
               "-oServerAliveInterval=5", "-oServerAliveCountMax=3",
               "-oLogLevel=ERROR"]


def test_names():
    assert starters.NAMES == ("ssh", "srun", "qrsh", "pbs_tmrsh", "pbsdsh",
                              "blaunch", "flux", "mpirun")


# -- ssh and rsh-like ---------------------------------------------------------

def test_ssh():
    launcher = starters.ssh()
    assert (launcher.name, launcher.executable, launcher.stdin) == (
        "ssh", "ssh", True)
    assert launcher.argv("node2", CMD, workers=8) == [
        "ssh", *SSH_OPTIONS, "node2", CMD]


def test_ssh_by_path_gets_ssh_options():
    assert starters.ssh("/usr/bin/ssh").argv("node2", CMD) == [
        "/usr/bin/ssh", *SSH_OPTIONS, "node2", CMD]


def test_ssh_with_forward():
    forward = "/tmp/r.sock:/tmp/l.sock"
    assert starters.ssh().argv("node2", CMD, forward=forward) == [
        "ssh", *SSH_OPTIONS, "-oExitOnForwardFailure=yes",
        "-oStreamLocalBindUnlink=yes", "-R", forward, "node2", CMD]


@pytest.mark.parametrize("exe", ["rsh", "/usr/bin/rsh", "/opt/bin/myssh",
                                 "ssh-wrapper"])
def test_rsh_like_gets_no_ssh_options(exe):
    launcher = starters.ssh(exe)
    assert launcher.name == "ssh"
    assert launcher.argv("node2", CMD) == [exe, "node2", CMD]
    assert launcher.argv("node2", CMD, forward="/a:/b") == [
        exe, "node2", CMD]


# -- scheduler launchers ------------------------------------------------------

def test_srun():
    launcher = starters.native("srun")
    assert (launcher.name, launcher.executable, launcher.stdin) == (
        "srun", "srun", True)
    assert launcher.argv("node2", CMD, workers=4) == [
        "srun", "--overlap", "--nodes=1", "--ntasks=1", "--cpus-per-task=4",
        "--cpu-bind=none", "--mpi=none", "--quiet", "--unbuffered",
        "-w", "node2", "/bin/sh", "-c", CMD]


def test_srun_default_one_cpu():
    assert "--cpus-per-task=1" in starters.native("srun").argv("n", CMD)


def test_qrsh():
    launcher = starters.native("qrsh")
    assert (launcher.executable, launcher.stdin) == ("qrsh", True)
    assert launcher.argv("node3.example", CMD, workers=32) == [
        "qrsh", "-inherit", "node3.example", CMD]


def test_pbs_tmrsh():
    launcher = starters.native("pbs_tmrsh")
    assert (launcher.executable, launcher.stdin) == ("pbs_tmrsh", True)
    assert launcher.argv("x3005c0s7b1n0", CMD, workers=64) == [
        "pbs_tmrsh", "x3005c0s7b1n0", CMD]


def test_pbsdsh_has_no_stdin():
    launcher = starters.native("pbsdsh")
    assert (launcher.name, launcher.executable, launcher.stdin) == (
        "pbsdsh", "pbsdsh", False)
    assert launcher.argv("n03", CMD, workers=4) == [
        "pbsdsh", "-o", "-h", "n03", "/bin/sh", "-c", CMD]


def test_blaunch():
    launcher = starters.native("blaunch")
    assert (launcher.executable, launcher.stdin) == ("blaunch", True)
    assert launcher.argv("hostB", CMD, workers=4) == [
        "blaunch", "hostB", "/bin/sh", "-c", CMD]


def test_flux_with_rank():
    launcher = starters.native("flux")
    assert (launcher.executable, launcher.stdin) == ("flux", True)
    assert launcher.argv("node2", CMD, rank=1) == [
        "flux", "exec", "-r", "1", "/bin/sh", "-c", CMD]
    assert launcher.argv("node1", CMD, rank=0) == [
        "flux", "exec", "-r", "0", "/bin/sh", "-c", CMD]


def test_flux_without_rank():
    with pytest.raises(ValueError) as info:
        starters.native("flux").argv("node2", CMD)
    assert str(info.value) == "flux exec needs the rank of node2"


def test_mpirun_runs_mpiexec():
    launcher = starters.native("mpirun")
    assert (launcher.name, launcher.executable, launcher.stdin) == (
        "mpirun", "mpiexec", True)
    assert launcher.argv("node2", CMD, workers=3) == [
        "mpiexec", "-n", "1", "-host", "node2", "/bin/sh", "-c", CMD]


def test_unknown_native():
    with pytest.raises(KeyError):
        starters.native("ssh")


@pytest.mark.parametrize("name", ["srun", "pbsdsh", "blaunch", "flux",
                                  "mpirun"])
def test_sh_c_tail_runs_the_command(name):
    """The ``/bin/sh -c CMD`` tail runs a command with quoting intact."""
    command = "printf '%s|' \"$0\" 'a b' && echo end"
    argv = starters.native(name).argv("h", command, rank=0)
    done = subprocess.run(argv[-3:], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "/bin/sh|a b|end\n"


# -- remote.Starter -----------------------------------------------------------

def test_remote_command_plain():
    starter = Starter(starters.ssh())
    assert starter.remote_command() == "exec python3 -m scoop_hpc.agent"


def test_remote_command_everything_with_spaces():
    starter = Starter(starters.ssh(), python="/opt/my py/bin/python3",
                      pythonpath="/home/u/my lib:/x",
                      prolog="/home/u/env setup.sh")
    assert starter.remote_command("/tmp/cfg dir/a.json") == (
        ". '/home/u/env setup.sh' && "
        "PYTHONPATH='/home/u/my lib:/x'${PYTHONPATH:+:$PYTHONPATH}; "
        "export PYTHONPATH && "
        "exec '/opt/my py/bin/python3' -m scoop_hpc.agent "
        "--config '/tmp/cfg dir/a.json'")


def test_remote_command_plain_paths_unquoted():
    starter = Starter(starters.ssh(), python="/usr/bin/python3",
                      pythonpath="/src", prolog="/etc/prolog.sh")
    assert starter.remote_command("/tmp/c.json") == (
        ". /etc/prolog.sh && "
        "PYTHONPATH=/src${PYTHONPATH:+:$PYTHONPATH}; export PYTHONPATH && "
        "exec /usr/bin/python3 -m scoop_hpc.agent --config /tmp/c.json")


def test_remote_command_quote_in_path():
    starter = Starter(starters.ssh(), python="/o'brien/python")
    assert starter.remote_command() == (
        "exec '/o'\"'\"'brien/python' -m scoop_hpc.agent")


def test_starter_command_through_launchers():
    starter = Starter(starters.native("pbsdsh"), python="/usr/bin/python3")
    assert starter.command("n03", workers=2,
                           config_file="/tmp/c.json") == [
        "pbsdsh", "-o", "-h", "n03", "/bin/sh", "-c",
        "exec /usr/bin/python3 -m scoop_hpc.agent --config /tmp/c.json"]
    flux = Starter(starters.native("flux"), python="/usr/bin/python3")
    assert flux.command("node2", rank=1) == [
        "flux", "exec", "-r", "1", "/bin/sh", "-c",
        "exec /usr/bin/python3 -m scoop_hpc.agent"]
    srun = Starter(starters.native("srun"), python="/usr/bin/python3")
    assert srun.command("node2", workers=6)[4] == "--cpus-per-task=6"


def fake_python(directory) -> str:
    """A stand-in interpreter that prints what it was given."""
    directory.mkdir()
    path = directory / "python 3"
    path.write_text("#!/bin/sh\n"
                    "printf '%s\\n' \"PYTHONPATH=$PYTHONPATH\" "
                    "\"PROLOG=$FROM_PROLOG\" \"$@\"\n")
    path.chmod(0o755)
    return str(path)


def test_remote_command_runs_in_a_shell(tmp_path):
    """Run the remote command as an rsh-like launcher would: through sh,
    with the prolog sourced and PYTHONPATH prepended."""
    python = fake_python(tmp_path / "my bin")
    prolog = tmp_path / "my prolog.sh"
    prolog.write_text("FROM_PROLOG='loaded it'; export FROM_PROLOG\n")
    rsh = tmp_path / "fake rsh"
    rsh.write_text('#!/bin/sh\nshift\nexec /bin/sh -c "$*"\n')
    rsh.chmod(0o755)
    starter = Starter(starters.ssh(str(rsh)), python=python,
                      pythonpath="/a b:/c", prolog=str(prolog))
    argv = starter.command("node2", config_file=str(tmp_path / "c f.json"))
    assert argv[:2] == [str(rsh), "node2"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/old"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env,
                          check=True)
    assert done.stdout.splitlines() == [
        "PYTHONPATH=/a b:/c:/old", "PROLOG=loaded it", "-m",
        "scoop_hpc.agent", "--config", str(tmp_path / "c f.json")]
    env.pop("PYTHONPATH")
    done = subprocess.run(argv, capture_output=True, text=True, env=env,
                          check=True)
    assert done.stdout.splitlines()[0] == "PYTHONPATH=/a b:/c"


def test_remote_command_through_sh_c_launcher(tmp_path):
    python = fake_python(tmp_path / "bin dir")
    starter = Starter(starters.native("blaunch"), python=python,
                      pythonpath="/p q")
    argv = starter.command("hostB")
    assert argv[:2] == ["blaunch", "hostB"]
    done = subprocess.run(argv[2:], capture_output=True, text=True,
                          env={"PATH": os.defpath}, check=True)
    assert done.stdout.splitlines() == [
        "PYTHONPATH=/p q", "PROLOG=", "-m", "scoop_hpc.agent"]
    assert shlex.split(argv[-1])[-3:] == [python, "-m", "scoop_hpc.agent"]
