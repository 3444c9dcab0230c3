"""The private folders of a job's sockets (``_tmpdirs``): what a sweep
removes (this user's folders whose every socket refuses a connection) and
what it leaves (a socket still listened on, a folder without sockets or
changed a moment ago, another user's folder, a symbolic link); and
``--tunnel``'s sockets, files of their own in ``/tmp``, alike."""
import os
import socket
import stat
import time

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
