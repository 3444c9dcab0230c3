"""_agentwire.py (the agent's records) and relay.py (remote output)."""
from __future__ import annotations

import pytest

from scoop_hpc import _agentwire as W
from scoop_hpc.relay import Console

pytestmark = pytest.mark.timeout(30)

PROLOG = b"Loading modules...\nmodule: gcc/12 loaded\nscoop_hpc-agent/0 x\n"
BINARY = bytes(range(256)) + b"\n" + W.MAGIC + b"O w9 3\nabc"
RECORDS = [
    (W.READY, "agent", b'{"w0": 101, "w1": 102}'),
    (W.OUT, "w0", b"hello\n"),
    (W.ERR, "w1", BINARY),
    (W.OUT, "w1", b""),
    (W.OUT, "w0", b"no newline"),
    (W.EXIT, "w0", b"0"),
    (W.EXIT, "w1", b"-9"),
    (W.FAIL, "agent", "caf\u00e9 \u2603 failed\n".encode()),
]
STREAM = (PROLOG + W.MAGIC
          + b"".join(W.record(k, n, p) for k, n, p in RECORDS))


def decode(chunks):
    """Feed ``chunks`` to a fresh Reader; return (text, records, rest).

    ``text`` joins every TEXT chunk, which must all come first."""
    reader = W.Reader()
    text, records = b"", []
    for chunk in chunks:
        for kind, name, payload in reader.feed(chunk):
            if kind == W.TEXT:
                assert name == ""
                assert not records, "text after a record"
                text += payload
            else:
                records.append((kind, name, payload))
    return text, records, reader.rest()


def split(data: bytes, *cuts: int):
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


# -- record -------------------------------------------------------------------

def test_record_encoding():
    assert W.record(W.OUT, "w3", b"hi\n") == b"O w3 3\nhi\n"
    assert W.record(W.READY, "agent") == b"R agent 0\n"
    assert W.record(W.EXIT, "w12", b"-15") == b"X w12 3\n-15"
    assert W.record(W.ERR, "w0", b"\x00\n\xff") == b"E w0 3\n\x00\n\xff"


def test_constants():
    assert W.MAGIC == b"scoop_hpc-agent/1\n"
    assert (W.READY, W.OUT, W.ERR, W.EXIT, W.FAIL, W.TEXT) == (
        b"R", b"O", b"E", b"X", b"F", b"")


# -- Reader -------------------------------------------------------------------

def test_whole_stream_in_one_chunk():
    assert decode([STREAM]) == (PROLOG, RECORDS, b"")


def test_no_text_before_the_magic_line():
    reader = W.Reader()
    data = W.MAGIC + W.record(W.OUT, "w0", b"x")
    assert list(reader.feed(data)) == [(W.OUT, "w0", b"x")]
    assert reader.rest() == b""


def test_byte_by_byte():
    chunks = [STREAM[i:i + 1] for i in range(len(STREAM))]
    assert decode(chunks) == (PROLOG, RECORDS, b"")


@pytest.mark.parametrize("size", [2, 3, 5, 7, 16, 17, 18, 19, 64, 255])
def test_fixed_chunk_sizes(size):
    chunks = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
    assert decode(chunks) == (PROLOG, RECORDS, b"")


def test_every_single_cut():
    for cut in range(len(STREAM) + 1):
        assert decode(split(STREAM, cut)) == (PROLOG, RECORDS, b""), cut


def test_every_pair_of_cuts_around_the_magic_line():
    start = len(PROLOG) - 3
    end = len(PROLOG) + len(W.MAGIC) + 12
    for first in range(start, end):
        for second in range(first, end + 4):
            assert decode(split(STREAM, first, second)) == (
                PROLOG, RECORDS, b""), (first, second)


def test_empty_chunks_are_harmless():
    chunks = [b""]
    for piece in split(STREAM, 5, 30, 60, 90):
        chunks += [piece, b""]
    assert decode(chunks) == (PROLOG, RECORDS, b"")


def test_text_is_passed_on_before_the_magic_line_arrives():
    reader = W.Reader()
    data = b"x" * 40
    assert list(reader.feed(data)) == [(W.TEXT, "", b"x" * 23)]
    assert reader.rest() == b"x" * 17
    assert list(reader.feed(b"y")) == [(W.TEXT, "", b"x")]
    assert reader.rest() == b"x" * 16 + b"y"


def test_short_text_is_held_back():
    reader = W.Reader()
    assert list(reader.feed(b"short")) == []
    assert reader.rest() == b"short"


def test_stream_without_magic_line_is_all_text():
    text = b"bash: python: command not found\n" * 3
    got, records, rest = decode(split(text, 10, 50, 51))
    assert records == []
    assert got + rest == text
    assert len(rest) == len(W.MAGIC) - 1


def test_partial_magic_at_the_end_of_a_chunk_is_not_text():
    reader = W.Reader()
    first = list(reader.feed(b"hello\n" + W.MAGIC[:-1]))
    assert first == [(W.TEXT, "", b"hello\n")]
    assert reader.rest() == W.MAGIC[:-1]
    second = list(reader.feed(W.MAGIC[-1:] + b"X w2 1\n3"))
    assert second == [(W.EXIT, "w2", b"3")]
    assert reader.rest() == b""


def test_incomplete_record_waits():
    reader = W.Reader()
    assert list(reader.feed(W.MAGIC + b"O w1 10\n01234")) == []
    assert list(reader.feed(b"5678")) == []
    assert list(reader.feed(b"9O w1 1")) == [(W.OUT, "w1", b"0123456789")]
    assert list(reader.feed(b"\n!")) == [(W.OUT, "w1", b"!")]
    assert reader.rest() == b""


def test_only_the_first_magic_line_syncs():
    payload = W.MAGIC + W.MAGIC
    data = W.MAGIC + W.record(W.OUT, "w0", payload)
    assert decode([data]) == (b"", [(W.OUT, "w0", payload)], b"")


def test_header_too_long():
    reader = W.Reader()
    with pytest.raises(ValueError, match="header too long"):
        list(reader.feed(W.MAGIC + b"O " + b"w" * 600))


def test_long_header_under_the_limit_waits():
    reader = W.Reader()
    assert list(reader.feed(W.MAGIC + b"O " + b"w" * 500)) == []
    assert list(reader.feed(b" 1\nz")) == [(W.OUT, "w" * 500, b"z")]


def test_big_binary_payload_in_small_chunks():
    payload = bytes(range(256)) * 1000
    data = W.MAGIC + W.record(W.OUT, "w7", payload) + W.record(
        W.EXIT, "w7", b"0")
    chunks = [data[i:i + 4093] for i in range(0, len(data), 4093)]
    assert decode(chunks) == (
        b"", [(W.OUT, "w7", payload), (W.EXIT, "w7", b"0")], b"")


# -- relay.Console ------------------------------------------------------------

@pytest.fixture
def console():
    made = []

    def make(**kwargs) -> Console:
        made.append(Console(**kwargs))
        return made[-1]
    yield make
    for each in made:
        each.close()


def test_prefix_every_line(capsysbinary, console):
    out = console(prefix=True)
    out.write("w3@node1", b"a\nb\n")
    assert capsysbinary.readouterr() == (b"[w3@node1] a\n[w3@node1] b\n", b"")


def test_line_cut_across_chunks_keeps_one_prefix(capsysbinary, console):
    out = console(prefix=True)
    for chunk in (b"par", b"tial\nne", b"xt", b"\n", b"last"):
        out.write("w1@n", chunk)
    assert capsysbinary.readouterr().out == (
        b"[w1@n] partial\n[w1@n] next\n[w1@n] last")


def test_stderr_goes_to_stderr_with_its_own_line_state(capsysbinary,
                                                       console):
    out = console(prefix=True)
    out.write("w0@h", b"o1")
    out.write("w0@h", b"e1\n", error=True)
    out.write("w0@h", b" o2\n")
    out.write("w0@h", b"e2", error=True)
    out.write("w0@h", b"+\n", error=True)
    captured = capsysbinary.readouterr()
    assert captured.out == b"[w0@h] o1 o2\n"
    assert captured.err == b"[w0@h] e1\n[w0@h] e2+\n"


def test_sources_keep_their_own_line_state(capsysbinary, console):
    out = console(prefix=True)
    out.write("w1@a", b"one ")
    out.write("w2@b", b"two\n")
    out.write("w1@a", b"more\n")
    assert capsysbinary.readouterr().out == (
        b"[w1@a] one [w2@b] two\nmore\n")


def test_without_prefix_output_is_unchanged(capsysbinary, console):
    out = console()
    out.write("w1@a", b"x\ny\n")
    out.write("w1@a", b"\xff\x00 binary", error=True)
    assert capsysbinary.readouterr() == (b"x\ny\n", b"\xff\x00 binary")


def test_log_file_gets_prefixed_lines(capsysbinary, console, tmp_path):
    log = tmp_path / "run.log"
    out = console(log_path=str(log))
    out.write("w1@a", b"hello\nwor")
    out.write("w2@b", b"err\n", error=True)
    out.write("w1@a", b"ld\n")
    out.close()
    assert capsysbinary.readouterr() == (b"hello\nworld\n", b"err\n")
    assert log.read_bytes() == (
        b"[w1@a] hello\n[w1@a] wor[w2@b] err\nld\n")


def test_log_file_with_prefix(capsysbinary, console, tmp_path):
    log = tmp_path / "run.log"
    out = console(prefix=True, log_path=str(log))
    out.write("w0@h", b"a\n")
    out.write("w0@h", b"b\n", error=True)
    out.close()
    captured = capsysbinary.readouterr()
    assert captured == (b"[w0@h] a\n", b"[w0@h] b\n")
    assert log.read_bytes() == b"[w0@h] a\n[w0@h] b\n"


def test_log_file_is_appended_to(capsysbinary, console, tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(b"launcher: started\n")
    out = console(log_path=str(log))
    out.write("w0@h", b"x\n")
    assert log.read_bytes() == b"launcher: started\n[w0@h] x\n"  # flushed


def test_close_without_log(console):
    console().close()


@pytest.mark.parametrize("data, line_start, expected", [
    (b"a\nb", True, b"> a\n> b"),
    (b"a\n", False, b"a\n"),
    (b"a\n", True, b"> a\n"),
    (b"x\ny\nz\n", False, b"x\n> y\n> z\n"),
])
def test_tag(data, line_start, expected):
    assert Console._tag(data, b"> ", line_start) == expected


def test_blank_lines_tagged_the_same_whatever_the_chunks(capsysbinary,
                                                         console):
    out = console(prefix=True)
    out.write("w0@h", b"a\n\nb\n")
    whole = capsysbinary.readouterr().out
    out.write("w0@h", b"a\n")
    out.write("w0@h", b"\nb\n")
    assert capsysbinary.readouterr().out == whole
    assert whole == b"[w0@h] a\n[w0@h] \n[w0@h] b\n"
