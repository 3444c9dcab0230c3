"""hosts.py: hostfiles, --hosts lists, SCOOP's -n rules, local names."""
from __future__ import annotations

import socket

import pytest

from scoop_hpc import hosts as H
from scoop_hpc.errors import UsageError
from scoop_hpc.hosts import Host, HostfileError

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def fresh_caches():
    """Forget cached name resolutions before and after the test."""
    caches = (H._local_names, H._local_addresses, H._address_of)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


# -- read_hostfile: the formats ---------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("node1 4", Host("node1", 4)),
    ("node1 slots=4", Host("node1", 4)),
    ("node1 slots=4 max_slots=8", Host("node1", 4)),
    ("node1 4 max_slots=8", Host("node1", 4)),
    ("node1:4", Host("node1", 4)),
    ("node1", Host("node1", 1)),
    ("node1 12", Host("node1", 12)),
    ("node1 007", Host("node1", 7)),
    ("  node1\t3  ", Host("node1", 3)),
    ("node1.example.org 2", Host("node1.example.org", 2)),
    ("10.0.0.7:3", Host("10.0.0.7", 3)),
    ("::1 2", Host("::1", 2)),
    ("::1", Host("::1", 1)),
    ("node1 2 # two of them", Host("node1", 2)),
    ("node1#no space before the comment", Host("node1", 1)),
])
def test_one_line_formats(hostfile, line, expected):
    assert H.read_hostfile(hostfile(line + "\n")) == [expected]


def test_last_line_without_newline(hostfile):
    assert H.read_hostfile(hostfile("a 2\nb 3")) == [Host("a", 2),
                                                     Host("b", 3)]


def test_crlf_line_endings(hostfile):
    path = hostfile("a 2\r\nb slots=3\r\nc:4\r\n")
    assert H.read_hostfile(path) == [Host("a", 2), Host("b", 3),
                                     Host("c", 4)]


def test_mixed_formats_comments_and_blank_lines(hostfile):
    path = hostfile(
        "# the cluster\n"
        "\n"
        "node1 4\n"
        "   \n"
        "node2 slots=2 max_slots=8   # MPI style\n"
        "\t# indented comment\n"
        "node3:3\n"
        "node4\n"
        "#node5 9\n")
    assert H.read_hostfile(path) == [Host("node1", 4), Host("node2", 2),
                                     Host("node3", 3), Host("node4", 1)]


def test_repeated_names_add_up_in_first_appearance_order(hostfile):
    path = hostfile("b 2\na\nb:3\nc slots=1\na 4\nb\n")
    assert H.read_hostfile(path) == [Host("b", 6), Host("a", 5),
                                     Host("c", 1)]


def test_result_is_a_list_of_hosts(hostfile):
    layout = H.read_hostfile(hostfile("a 2\n"))
    assert type(layout) is list
    assert type(layout[0]) is Host
    assert layout[0].name == "a"
    assert layout[0].workers == 2


# -- read_hostfile: Slurm-style ranges ----------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("node[1-3] 2", [Host("node1", 2), Host("node2", 2), Host("node3", 2)]),
    ("gpu[01-02]:3", [Host("gpu01", 3), Host("gpu02", 3)]),
    ("n[1,3] slots=2 max_slots=4", [Host("n1", 2), Host("n3", 2)]),
    ("rack[1-2]-n[1-2]", [Host("rack1-n1", 1), Host("rack1-n2", 1),
                          Host("rack2-n1", 1), Host("rack2-n2", 1)]),
    ("node[1-2]", [Host("node1", 1), Host("node2", 1)]),
])
def test_a_range_gives_each_of_its_hosts_the_lines_count(
        hostfile, line, expected):
    assert H.read_hostfile(hostfile(line + "\n")) == expected


def test_ranged_and_plain_lines_add_up(hostfile):
    path = hostfile("node2 1\nnode[1-3] 2\n")
    assert H.read_hostfile(path) == [Host("node2", 3), Host("node1", 2),
                                     Host("node3", 2)]


@pytest.mark.parametrize("line, why", [
    ("node[1-3 2", "unbalanced '[' in 'node[1-3'; close every '[' with "
                   "']', as in 'node[1-3]'"),
    ("node1] 2", "stray ']' in 'node1]'; remove it or add the '[' it "
                 "closes"),
    ("node[3-1]", "range '3-1' in 'node[3-1]' runs backwards (lo > hi); "
                  "write it low to high, as in '1-3'"),
    ("node[a-b] 2", "'a-b' in 'node[a-b]' is not a number or a range "
                    "'lo-hi'; use decimal numbers and ranges only, as in "
                    "'node[001-004,007]'"),
    ("node[1-2] x", "the count must be a whole number, as in 'node1 4', "
                    "'node1 slots=4' or 'node1:4'"),
])
def test_a_malformed_range_names_file_and_line(hostfile, line, why):
    path = hostfile("good 1\n" + line + "\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    assert (info.value.path, info.value.lineno) == (path, 2)
    assert str(info.value) == f"hostfile {path}, line 2: {line!r}: {why}"


# -- read_hostfile: errors ---------------------------------------------------

WHOLE = ("the count must be a whole number, as in 'node1 4', "
         "'node1 slots=4' or 'node1:4'")


@pytest.mark.parametrize("line, why", [
    ("node1 abc", WHOLE),
    ("node1 0", "the count must be at least 1"),
    ("node1 slots=0", "the count must be at least 1"),
    ("node1:0", "the count must be at least 1"),
    ("node1 slots=x", WHOLE),
    ("node1 -2", WHOLE),
    ("node1 2.5", WHOLE),
    ("node1 slots=", WHOLE),
    ("node1:", WHOLE),
    ("node1:x", WHOLE),
    ("node1 max_slots=4", WHOLE),
    ("node1 4 5", "unexpected '5' after the count"),
    ("node1 slots=4 extra", "unexpected 'extra' after the count"),
    (":4", "not a host name"),
    ("no/de 2", "not a host name"),
    ("node@1", "not a host name"),
])
def test_malformed_line_names_file_and_line(hostfile, line, why):
    path = hostfile("# header\n\ngood 1\n" + line + "\nother 2\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    error = info.value
    assert error.path == path
    assert error.lineno == 4
    assert str(error) == f"hostfile {path}, line 4: {line!r}: {why}"
    assert isinstance(error, UsageError)


def test_count_error_message_exact(hostfile):
    path = hostfile("node1 2\nnode2 abc\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    assert str(info.value) == (
        f"hostfile {path}, line 2: 'node2 abc': the count must be a whole "
        "number, as in 'node1 4', 'node1 slots=4' or 'node1:4'")


def test_error_on_first_line(hostfile):
    path = hostfile("node1 0\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    assert info.value.lineno == 1
    assert str(info.value) == (f"hostfile {path}, line 1: 'node1 0': "
                               "the count must be at least 1")


def test_error_text_keeps_the_comment_but_not_the_newline(hostfile):
    path = hostfile("node1 x   # bad\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    assert str(info.value).startswith(
        f"hostfile {path}, line 1: 'node1 x   # bad': ")


def test_first_bad_line_is_reported(hostfile):
    path = hostfile("a 1\nb 0\nc x\n")
    with pytest.raises(HostfileError) as info:
        H.read_hostfile(path)
    assert info.value.lineno == 2


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n",
                                  "  \n# a\n\t\n"])
def test_no_host_at_all(hostfile, text):
    path = hostfile(text)
    with pytest.raises(UsageError) as info:
        H.read_hostfile(path)
    assert str(info.value) == f"the hostfile {path} names no host"
    assert not isinstance(info.value, HostfileError)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nowhere.txt")
    with pytest.raises(UsageError) as info:
        H.read_hostfile(path)
    assert str(info.value).startswith(f"cannot read the hostfile {path}: ")
    assert "No such file or directory" in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(UsageError) as info:
        H.read_hostfile(str(tmp_path))
    assert str(info.value).startswith(
        f"cannot read the hostfile {tmp_path}: ")


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "hosts.bin"
    path.write_bytes(b"node1 2\n\xff\xfe\n")
    with pytest.raises(UsageError) as info:
        H.read_hostfile(str(path))
    assert str(info.value).startswith(f"cannot read the hostfile {path}: ")
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


# -- from_names ---------------------------------------------------------------

@pytest.mark.parametrize("names, expected", [
    (["a"], [Host("a", 1)]),
    (["a", "b"], [Host("a", 1), Host("b", 1)]),
    (["a", "a", "b"], [Host("a", 2), Host("b", 1)]),
    (["b", "a", "b", "b"], [Host("b", 3), Host("a", 1)]),
    (["a,b"], [Host("a", 1), Host("b", 1)]),
    (["a,b,a", "c", "b"], [Host("a", 2), Host("b", 2), Host("c", 1)]),
    (["a,,b,"], [Host("a", 1), Host("b", 1)]),
    (["localhost", "127.0.0.1"], [Host("localhost", 1),
                                  Host("127.0.0.1", 1)]),
])
def test_from_names(names, expected):
    assert H.from_names(names) == expected


@pytest.mark.parametrize("names, expected", [
    (["node1:2"], [Host("node1", 2)]),
    (["node1:2", "node1"], [Host("node1", 3)]),
    (["node[1-3]"], [Host("node1", 1), Host("node2", 1), Host("node3", 1)]),
    (["node[1-2]:2", "a"], [Host("node1", 2), Host("node2", 2),
                            Host("a", 1)]),
    (["a,node[1,3]"], [Host("a", 1), Host("node1", 1), Host("node3", 1)]),
    (["gpu[08-10]"], [Host("gpu08", 1), Host("gpu09", 1), Host("gpu10", 1)]),
    (["::1", "fe80::1"], [Host("::1", 1), Host("fe80::1", 1)]),
])
def test_from_names_expands_ranges_and_reads_counts(names, expected):
    assert H.from_names(names) == expected


@pytest.mark.parametrize("word, message", [
    ("node[1-3", "--hosts: 'node[1-3': unbalanced '[' in 'node[1-3'; "
                 "close every '[' with ']', as in 'node[1-3]'"),
    ("a,n[2-1]", "--hosts: 'a,n[2-1]': range '2-1' in 'n[2-1]' runs "
                 "backwards (lo > hi); write it low to high, as in '1-2'"),
    ("node1:x", "--hosts: 'node1:x': the count after ':' must be a whole "
                "number, at least 1, as in 'node1:4'"),
    ("node1:0", "--hosts: 'node1:0': the count after ':' must be a whole "
                "number, at least 1, as in 'node1:4'"),
])
def test_from_names_malformed_range_or_count(word, message):
    with pytest.raises(UsageError) as info:
        H.from_names([word])
    assert str(info.value) == message


@pytest.mark.parametrize("names", [[], [""], [","], [",,", ""]])
def test_from_names_without_a_name(names):
    with pytest.raises(UsageError) as info:
        H.from_names(names)
    assert str(info.value) == "--hosts: no host given"


@pytest.mark.parametrize("names, bad", [
    (["a", "b c"], "b c"),
    (["a,no/de"], "no/de"),
    (["user@node"], "user@node"),
])
def test_from_names_rejects_bad_names(names, bad):
    with pytest.raises(UsageError) as info:
        H.from_names(names)
    assert str(info.value) == f"--hosts: {bad!r} is not a host name"


# -- merge --------------------------------------------------------------------

def test_merge_sums_in_first_seen_order():
    merged = H.merge([Host("b", 1), Host("a", 2), Host("b", 4),
                      Host("c", 1), Host("a", 1)])
    assert merged == [Host("b", 5), Host("a", 3), Host("c", 1)]


def test_merge_keeps_distinct_names_and_accepts_iterators():
    merged = H.merge(iter([Host("a", 1), Host("A", 2), Host("a.x", 3)]))
    assert merged == [Host("a", 1), Host("A", 2), Host("a.x", 3)]


def test_merge_of_nothing():
    assert H.merge([]) == []


# -- distribute: SCOOP's -n rules --------------------------------------------

TWO_TWO = [Host("a", 2), Host("b", 2)]
THREE = [Host("a", 3), Host("b", 1), Host("c", 2)]


@pytest.mark.parametrize("layout, workers, expected", [
    # None keeps the counts
    (TWO_TWO, None, [Host("a", 2), Host("b", 2)]),
    # fewer: fill the hosts in order, the last used gets the rest
    (TWO_TWO, 1, [Host("a", 1)]),
    (TWO_TWO, 2, [Host("a", 2)]),
    (TWO_TWO, 3, [Host("a", 2), Host("b", 1)]),
    (THREE, 2, [Host("a", 2)]),
    (THREE, 3, [Host("a", 3)]),
    (THREE, 4, [Host("a", 3), Host("b", 1)]),
    (THREE, 5, [Host("a", 3), Host("b", 1), Host("c", 1)]),
    # equal
    (TWO_TWO, 4, [Host("a", 2), Host("b", 2)]),
    (THREE, 6, [Host("a", 3), Host("b", 1), Host("c", 2)]),
    # more: the extras go one per host, round-robin from the first
    (TWO_TWO, 5, [Host("a", 3), Host("b", 2)]),
    (TWO_TWO, 6, [Host("a", 3), Host("b", 3)]),
    (TWO_TWO, 7, [Host("a", 4), Host("b", 3)]),
    (THREE, 7, [Host("a", 4), Host("b", 1), Host("c", 2)]),
    (THREE, 8, [Host("a", 4), Host("b", 2), Host("c", 2)]),
    (THREE, 9, [Host("a", 4), Host("b", 2), Host("c", 3)]),
    (THREE, 13, [Host("a", 6), Host("b", 3), Host("c", 4)]),
    ([Host("a", 2), Host("b", 1)], 6, [Host("a", 4), Host("b", 2)]),
    ([Host("solo", 1)], 1, [Host("solo", 1)]),
    ([Host("solo", 1)], 5, [Host("solo", 5)]),
])
def test_distribute(layout, workers, expected):
    before = list(layout)
    result = H.distribute(layout, workers)
    assert result == expected
    assert sum(h.workers for h in result) == (
        workers if workers is not None else sum(h.workers for h in layout))
    assert layout == before            # the input is left alone


def test_distribute_none_returns_a_copy():
    result = H.distribute(TWO_TWO, None)
    assert result == TWO_TWO
    assert result is not TWO_TWO


@pytest.mark.parametrize("workers", [0, -1, -10])
def test_distribute_rejects_fewer_than_one(workers):
    with pytest.raises(UsageError) as info:
        H.distribute(TWO_TWO, workers)
    assert str(info.value) == f"-n must be at least 1, not {workers}"


def test_distribute_without_hosts_is_a_usage_error():
    with pytest.raises(UsageError, match="no host to place workers on"):
        H.distribute([], 2)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "hosts"
    path.write_bytes(b"\xef\xbb\xbfnode1 2\n")
    assert H.read_hostfile(str(path)) == [Host("node1", 2)]


# -- is_local -----------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "localhost", "127.0.0.1", socket.gethostname(),
    socket.gethostname().split(".")[0], H.local_name()])
def test_is_local(fresh_caches, name):
    assert H.is_local(name) is True


def test_loopback_alias_address_is_not_local(fresh_caches):
    assert H.is_local("127.0.0.2") is False


def test_name_resolving_to_a_local_address_is_local(fresh_caches,
                                                    monkeypatch):
    table = {"alias-of-loopback": "127.0.0.1",
             "alias-of-other": "127.0.0.2"}
    monkeypatch.setattr(socket, "gethostbyname", table.__getitem__)
    assert H.is_local("alias-of-loopback") is True
    assert H.is_local("alias-of-other") is False


def test_unresolvable_name_is_not_local(fresh_caches, monkeypatch):
    def fail(name):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "gethostbyname", fail)
    assert H._address_of("no-such-host") is None
    assert H.is_local("no-such-host") is False


def test_address_of_normalises_ip_literals(fresh_caches):
    assert H._address_of("127.0.0.1") == "127.0.0.1"
    assert H._address_of("0:0:0:0:0:0:0:1") == "::1"


def test_local_name_is_the_short_node_name():
    name = H.local_name()
    assert name
    assert "." not in name
    assert socket.gethostname().split(".")[0] == name
