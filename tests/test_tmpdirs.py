"""The private folders of a job's sockets (``_tmpdirs``): what a sweep
removes (this user's folders whose every socket refuses a connection) and
what it leaves (a socket still listened on, a folder without sockets or
changed a moment ago, another user's folder, a symbolic link); and
``--tunnel``'s sockets, files of their own in ``/tmp``, alike; and the
job folders in the working directory, swept when their owner file names
this host, its pid space and a process that is gone."""
import os
import socket
import stat
import subprocess
import sys
import time

import psutil
import pytest

from scoop_hpc import _tmpdirs

pytestmark = pytest.mark.timeout(20)


def folder(base, name, *files):
    path = base / f"{_tmpdirs.PREFIX}{name}"
    path.mkdir(mode=0o700)
    for file in files:
        (path / file).write_text("record")
    return path


def dead_socket(path):
    """A socket file nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def settle(*paths):
    """Date the folders back past ``MIN_AGE``."""
    past = time.time() - _tmpdirs.MIN_AGE - 5
    for path in paths:
        os.utime(path, (past, past), follow_symlinks=False)


def test_a_sweep_removes_only_abandoned_folders_of_this_user(tmp_path):
    killed = folder(tmp_path, "1-killed", "w1.activity")
    dead_socket(killed / "broker")
    live = folder(tmp_path, "2-live")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(live / "broker"))
    listener.listen()
    half = folder(tmp_path, "3-half")        # one socket still listened on
    dead_socket(half / "old")
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(half / "node"))
    other.listen()
    empty = folder(tmp_path, "4-being-made")
    foreign = folder(tmp_path, "5-another-user")
    dead_socket(foreign / "broker")
    os.chown(foreign, 65534, 65534)
    target = tmp_path / "elsewhere"
    target.mkdir()
    dead_socket(target / "broker")
    (tmp_path / f"{_tmpdirs.PREFIX}6-link").symlink_to(target)
    unrelated = tmp_path / "mine"
    unrelated.mkdir()
    dead_socket(unrelated / "broker")
    young = folder(tmp_path, "8-just-bound")
    dead_socket(young / "broker")
    settle(killed, live, half, empty, foreign, target, unrelated,
           tmp_path / f"{_tmpdirs.PREFIX}6-link")
    try:
        assert _tmpdirs.sweep(str(tmp_path)) == [str(killed)]
    finally:
        listener.close()
        other.close()
    assert not killed.exists()
    for kept in (live, half, empty, foreign, target, unrelated, young):
        assert kept.is_dir(), kept
    assert _tmpdirs.sweep(str(tmp_path / "missing")) == []


def test_a_new_private_folder_comes_after_a_sweep(tmp_path, monkeypatch):
    killed = folder(tmp_path, "7-killed")
    dead_socket(killed / "broker")
    settle(killed)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    made = _tmpdirs.private_dir()
    assert os.listdir(tmp_path) == [os.path.basename(made)]
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    _tmpdirs.remove_dir(made)
    assert os.listdir(tmp_path) == []


def test_a_sweep_removes_tunnel_sockets_nothing_listens_on(tmp_path):
    killed = tmp_path / f"{_tmpdirs.PREFIX}0a1b-0.sock"
    dead_socket(killed)
    live = tmp_path / f"{_tmpdirs.PREFIX}0a1b-2.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(live))
    listener.listen()
    young = tmp_path / f"{_tmpdirs.PREFIX}2c3d-0.sock"
    unrelated = tmp_path / "other-0.sock"
    dead_socket(unrelated)
    plain = tmp_path / f"{_tmpdirs.PREFIX}notes"
    plain.write_text("not a socket")
    settle(killed, live, unrelated, plain)
    dead_socket(young)
    try:
        assert _tmpdirs.sweep(str(tmp_path)) == [str(killed)]
    finally:
        listener.close()
    assert not os.path.lexists(killed)
    for kept in (live, young, unrelated, plain):
        assert os.path.lexists(kept), kept


def job_folder(base, name, owner=None):
    path = base / f"{_tmpdirs.SHARED_PREFIX}{name}"
    path.mkdir(mode=0o700)
    (path / "w1").write_text("configuration")
    if owner is not None:
        (path / _tmpdirs.OWNER).write_text(owner)
    return path


def test_a_job_folder_is_swept_only_when_its_launcher_here_is_gone(
        tmp_path):
    host, space = socket.gethostname(), _tmpdirs.pid_space()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = psutil.Process()
    dead = job_folder(tmp_path, "dead", f"{host} {gone.pid} 1.0 {space}\n")
    reused = job_folder(tmp_path, "reused",   # same pid, another process
                        f"{host} {me.pid} {me.create_time() - 60!r} "
                        f"{space}\n")
    live = job_folder(tmp_path, "live", f"{host} {me.pid} "
                                        f"{me.create_time()!r} {space}\n")
    elsewhere = job_folder(tmp_path, "elsewhere",
                           f"{host}-other {gone.pid} 1.0 {space}\n")
    other_space = job_folder(tmp_path, "other-space",    # same name
                             f"{host} {gone.pid} 1.0 {space}0\n")
    older = job_folder(tmp_path, "older", f"{host} {gone.pid} 1.0\n")
    unowned = job_folder(tmp_path, "being-made")
    garbled = job_folder(tmp_path, "garbled", f"{host} {gone.pid}\n")
    foreign = job_folder(tmp_path, "another-user",
                         f"{host} {gone.pid} 1 {space}\n")
    os.chown(foreign, 65534, 65534)
    plain = tmp_path / f"{_tmpdirs.SHARED_PREFIX}file"
    plain.write_text(f"{host} {gone.pid} 1.0\n")
    assert sorted(_tmpdirs.sweep_shared(str(tmp_path))) == sorted(
        [str(dead), str(reused)])
    for kept in (live, elsewhere, other_space, older, unowned,
                 garbled, foreign, plain):
        assert kept.exists(), kept
    assert _tmpdirs.sweep_shared(str(tmp_path / "missing")) == []


def test_a_job_folder_names_its_owner_and_comes_after_a_sweep(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    job_folder(tmp_path, "dead", f"{socket.gethostname()} {gone.pid} 1.0 "
                                 f"{_tmpdirs.pid_space()}")
    made = _tmpdirs.shared_dir(str(tmp_path), "0a1b2c3d")
    assert os.listdir(tmp_path) == [".scoop_hpc-0a1b2c3d"]
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    # the launcher that made it runs: the next sweep leaves it
    assert _tmpdirs.sweep_shared(str(tmp_path)) == []
    _tmpdirs.remove_dir(made)
    assert os.listdir(tmp_path) == []


def test_a_job_folder_of_another_pid_namespace_is_not_swept(tmp_path):
    """A launcher of the same host name whose pids are not ours (another
    machine of that name, a container with its own pid namespace) may
    run: its folder stays, whatever its pid names here."""
    made = subprocess.Popen(
        ["unshare", "--fork", "--pid", "--mount-proc", sys.executable, "-c",
         "import sys; from scoop_hpc import _tmpdirs; "
         f"print(_tmpdirs.shared_dir({str(tmp_path)!r}, 'inner'), "
         "flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        path = made.stdout.readline().strip()
        if not path:
            pytest.skip(f"no pid namespace here: {made.stderr.read()}")
        owner = (tmp_path / ".scoop_hpc-inner" / _tmpdirs.OWNER).read_text()
        assert owner.split()[:2] == [socket.gethostname(), "1"]
        assert _tmpdirs.sweep_shared(str(tmp_path)) == []
        assert os.path.isdir(path)
    finally:
        made.communicate("", timeout=10)
