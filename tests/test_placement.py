"""placement.py and ``scoop-hpc hosts``: where a run's workers would go."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scoop_hpc import cli, placement, starters
from scoop_hpc.errors import UsageError
from scoop_hpc.hosts import Host, HostfileError, local_name

from .conftest import ROOT

pytestmark = pytest.mark.timeout(30)

# ``python -m scoop_hpc`` is the launcher; the ``scoop-hpc`` console script
# calls cli.main, so run that the same way.
CLI = [sys.executable, "-c",
       "import sys; from scoop_hpc.cli import main; sys.exit(main())"]


def scoop_hpc(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=25)


# -- resolve ------------------------------------------------------------------

def test_resolve_hosts_all_local():
    found = placement.resolve(["localhost", "localhost", "127.0.0.1"])
    assert found.source == "hosts"
    assert found.hosts == [Host("localhost", 2), Host("127.0.0.1", 1)]
    assert found.size == 3
    assert found.local == [True, True]
    assert found.starter.name == "ssh"
    assert found.launcher == "local"


def test_resolve_hosts_with_a_remote_one_and_n():
    found = placement.resolve(["localhost", "127.0.0.2"], workers=5)
    assert found.source == "hosts"
    assert found.hosts == [Host("localhost", 3), Host("127.0.0.2", 2)]
    assert found.size == 5
    assert found.local == [True, False]
    assert found.launcher == "ssh"


def test_resolve_hosts_with_commas_and_fewer_workers():
    found = placement.resolve(["127.0.0.2,localhost", "127.0.0.2"],
                              workers=1)
    assert found.hosts == [Host("127.0.0.2", 1)]
    assert found.size == 1
    assert found.local == [False]
    assert found.launcher == "ssh"


def test_launcher_is_the_starters_base_name():
    found = placement.resolve(["127.0.0.2"],
                              ssh_executable="/usr/local/bin/rsh")
    assert found.starter.executable == "/usr/local/bin/rsh"
    assert found.launcher == "rsh"
    local = placement.resolve(["localhost"],
                              ssh_executable="/usr/local/bin/rsh")
    assert local.launcher == "local"


def test_resolve_hostfile(hostfile):
    path = hostfile("localhost 2\n127.0.0.2 slots=2 max_slots=4\n"
                    "localhost:1\n")
    found = placement.resolve(hostfile=path)
    assert found.source == "hostfile"
    assert found.hosts == [Host("localhost", 3), Host("127.0.0.2", 2)]
    assert found.size == 5
    assert found.local == [True, False]
    assert found.launcher == "ssh"


def test_resolve_hostfile_with_more_workers(hostfile):
    path = hostfile("localhost 2\n127.0.0.1 1\n")
    found = placement.resolve(hostfile=path, workers=7)
    assert found.hosts == [Host("localhost", 4), Host("127.0.0.1", 3)]
    assert found.size == 7
    assert found.launcher == "local"


def test_resolve_nothing_is_this_machines_cpus():
    found = placement.resolve()
    count = os.cpu_count() or 1
    assert found.source == "local"
    assert found.hosts == [Host(local_name(), count)]
    assert found.size == count
    assert found.local == [True]
    assert found.launcher == "local"


@pytest.mark.parametrize("workers", [1, 3, 17])
def test_resolve_nothing_with_n(workers):
    found = placement.resolve(workers=workers)
    assert found.source == "local"
    assert found.hosts == [Host(local_name(), workers)]
    assert found.size == workers
    assert found.launcher == "local"


def test_hosts_and_hostfile_exclude_each_other(hostfile):
    with pytest.raises(UsageError) as info:
        placement.resolve(["localhost"], hostfile("localhost 1\n"))
    assert str(info.value) == "--hosts and --hostfile exclude each other"


def test_an_empty_hostfile_name_is_not_ignored():
    with pytest.raises(UsageError, match="cannot read the hostfile : "):
        placement.resolve(hostfile="", workers=2)


@pytest.mark.parametrize("workers", [0, -3])
def test_resolve_rejects_fewer_than_one_worker(workers):
    with pytest.raises(UsageError) as info:
        placement.resolve(["localhost"], workers=workers)
    assert str(info.value) == f"-n must be at least 1, not {workers}"


def test_resolve_passes_hostfile_errors_on(hostfile):
    path = hostfile("localhost 1\nnode1 slots=x\n")
    with pytest.raises(HostfileError) as info:
        placement.resolve(hostfile=path)
    assert info.value.path == path
    assert info.value.lineno == 2


# -- as_dict, dumps, describe ------------------------------------------------

def test_as_dict_shape():
    found = placement.resolve(["localhost", "127.0.0.2", "localhost"])
    data = found.as_dict()
    assert data == {
        "source": "hosts",
        "hosts": [{"name": "localhost", "workers": 2},
                  {"name": "127.0.0.2", "workers": 1}],
        "workers": 3,
        "launcher": "ssh",
    }
    assert list(data) == ["source", "hosts", "workers", "launcher"]
    assert all(list(h) == ["name", "workers"] for h in data["hosts"])


def test_dumps_is_the_dict_as_json():
    found = placement.resolve(["localhost"], workers=2)
    text = placement.dumps(found)
    assert "\n" not in text
    assert json.loads(text) == {
        "source": "hosts", "hosts": [{"name": "localhost", "workers": 2}],
        "workers": 2, "launcher": "local"}


def test_describe():
    found = placement.resolve(["localhost", "localhost", "127.0.0.2"])
    assert found.describe() == (
        "3 workers on 2 host(s) (from hosts; started by ssh):\n"
        "  localhost     2  w0-w1 (this host, root)\n"
        "  127.0.0.2     1  w2 (remote)")


def test_describe_single_worker_hosts():
    found = placement.Placement(
        "hostfile", [Host("127.0.0.2", 1), Host("localhost", 1)],
        starters.ssh("rsh"))
    assert found.describe() == (
        "2 workers on 2 host(s) (from hostfile; started by rsh):\n"
        "  127.0.0.2     1  w0 (remote, root)\n"
        "  localhost     1  w1 (this host)")


# -- scoop-hpc hosts, in a subprocess -----------------------------------------

def test_cli_hosts_json_from_hostfile(hostfile):
    path = hostfile("localhost 2\n127.0.0.2 slots=2 max_slots=4\n")
    proc = scoop_hpc("hosts", "--json", "--hostfile", path, "-n", "5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("\n") == 1
    assert json.loads(proc.stdout) == {
        "source": "hostfile",
        "hosts": [{"name": "localhost", "workers": 3},
                  {"name": "127.0.0.2", "workers": 2}],
        "workers": 5,
        "launcher": "ssh",
    }


def test_cli_hosts_malformed_hostfile(hostfile):
    path = hostfile("localhost 2\n\nnode1 abc\n")
    proc = scoop_hpc("hosts", "--json", "--hostfile", path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("usage: scoop-hpc hosts ")
    assert (f"scoop-hpc hosts: error: hostfile {path}, line 3: "
            "'node1 abc': the count must be a whole number") in proc.stderr


def test_cli_hosts_local_json():
    proc = scoop_hpc("hosts", "--json", "-n", "3")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "source": "local",
        "hosts": [{"name": local_name(), "workers": 3}],
        "workers": 3,
        "launcher": "local",
    }


# -- scoop-hpc hosts, in this process -----------------------------------------

def test_cli_hosts_table(capsys):
    assert cli.main(["hosts", "--hosts", "localhost", "localhost",
                     "127.0.0.2"]) == 0
    out, err = capsys.readouterr()
    assert out == ("3 workers on 2 host(s) (from hosts; started by ssh):\n"
                   "  localhost     2  w0-w1 (this host, root)\n"
                   "  127.0.0.2     1  w2 (remote)\n")
    assert err == ""


def test_cli_hosts_json_with_commas_and_starter(capsys):
    assert cli.main(["hosts", "--json", "--hosts", "127.0.0.2,localhost",
                     "--ssh-executable", "/opt/bin/rsh", "-n", "3"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "source": "hosts",
        "hosts": [{"name": "127.0.0.2", "workers": 2},
                  {"name": "localhost", "workers": 1}],
        "workers": 3,
        "launcher": "rsh",
    }


@pytest.mark.parametrize("args, message", [
    (["--hosts", "localhost", "-n", "0"], "-n must be at least 1, not 0"),
    (["--hosts", "no/de"], "--hosts: 'no/de' is not a host name"),
    (["--hosts", "localhost", "--hostfile", "f"],
     "argument --hostfile: not allowed with argument --hosts/--host"),
    (["-n", "two"], "argument -n: invalid int value: 'two'"),
])
def test_cli_hosts_usage_errors(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        cli.main(["hosts", *args])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith(f"scoop-hpc hosts: error: {message}\n")


def test_cli_hosts_missing_hostfile(capsys, tmp_path):
    path = tmp_path / "absent"
    with pytest.raises(SystemExit) as info:
        cli.main(["hosts", "--hostfile", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"scoop-hpc hosts: error: cannot read the hostfile {path}: " in err


def test_cli_without_a_command(capsys):
    assert cli.main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: scoop-hpc COMMAND [options]\n")


def test_cli_help(capsys):
    assert cli.main(["--help"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: scoop-hpc COMMAND [options]\n")
    assert "hosts   print the placement" in out
    assert err == ""


def test_cli_unknown_command(capsys):
    assert cli.main(["bogus"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("scoop-hpc: unknown command 'bogus'\nusage: ")
