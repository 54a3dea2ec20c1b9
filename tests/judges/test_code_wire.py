"""The wire between the code judge's test and candidate processes, tested in-process.

``_wire.decode`` is what stands between the program's bytes and the tests, so it gets
its own table: every value type round-trips exactly, subclasses arrive as their base
type's value, and each malformed tree is a ``WireError``, never an object of someone
else's choosing. Frames go through real pipes.
"""

from __future__ import annotations

import enum
import json
import marshal
import os
import subprocess
from collections import Counter, OrderedDict, defaultdict, deque, namedtuple
from decimal import Decimal
from fractions import Fraction

import pytest

from selftaught.judges._wire import (
    MAX_DEPTH,
    MAX_FRAME,
    Gone,
    WireError,
    decode,
    describe_exception,
    encode,
    rebuild_exception,
    receive,
    send,
    to_json,
)


def no_export(value):
    raise AssertionError(f"{value!r} should have been data")


def round_trip(value):
    return decode(encode(value, no_export), resolve=None)


def types_of(value):
    """The value's exact type tree, so that 1 == 1.0 == True cannot hide a change."""
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        return (type(value), sorted(map(repr, map(types_of, value))))
    if isinstance(value, dict):
        return (type(value), sorted(repr((types_of(k), types_of(v))) for k, v in value.items()))
    return type(value)


VALUES = [
    None, True, False, 0, -7, 2**53, -(2**200), 1.5, float("inf"), -0.0, "", "é\udcff", b"\x00\xff",
    bytearray(b"ab"), 1 + 2j, range(1, 10, 3), [1, [2, [3]]], (1, (2,)), {1, "a"}, frozenset({(1, 2)}),
    {1: "a", (2, 3): [4], "x": {"y": None}}, Fraction(-1, 3), Decimal("1.10"), deque([1, 2], maxlen=5),
    OrderedDict(b=1, a=2), Counter("hello"), [(), [], {}, set(), ""],
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_every_data_type_round_trips_exactly(value):
    back = round_trip(value)
    assert back == value or (value != value and back != back)
    assert types_of(back) == types_of(value)
    if isinstance(value, deque):
        assert back.maxlen == value.maxlen


class Colour(enum.IntEnum):
    RED = 1


class LyingStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


SUBCLASSES = [
    ("an IntEnum is its int", Colour.RED, 1, int),
    ("a namedtuple is its tuple", namedtuple("P", "x y")(1, 2), (1, 2), tuple),
    ("a defaultdict is its dict", defaultdict(int, a=1), {"a": 1}, dict),
    ("a str with a lying __eq__ is a plain str", LyingStr("no"), "no", str),
]


@pytest.mark.parametrize("why, value, expected, kind", SUBCLASSES, ids=[s[0] for s in SUBCLASSES])
def test_subclasses_of_data_cross_as_their_base_value(why, value, expected, kind):
    back = round_trip(value)
    assert type(back) is kind and back == expected


def test_anything_else_is_exported_as_a_reference():
    exported = []

    def export(value):
        exported.append(value)
        return {"ref": len(exported) - 1}

    def f():
        pass

    tree = encode([f, 1, object], export)
    assert tree == {"list": [{"ref": 0}, 1, {"ref": 1}]}
    assert exported == [f, object]
    assert decode(tree, lambda tag, n: ("resolved", tag, n)) == [("resolved", "ref", 0), 1, ("resolved", "ref", 1)]


def nested(depth):
    tree = 1
    for _ in range(depth):
        tree = {"list": [tree]}
    return tree


MALFORMED = [
    ("a bare JSON list", [1, 2]),
    ("a tag object with two keys", {"list": [], "set": []}),
    ("an unknown tag", {"object": "os.system"}),
    ("an int whose body is not hex text", {"int": 12}),
    ("bytes that are not hex", {"bytes": "zz"}),
    ("a set of unhashable lists", {"set": [{"list": []}]}),
    ("a dict entry that is not a pair", {"dict": [[1]]}),
    ("a Fraction with a zero denominator", {"Fraction": [1, 0]}),
    ("a Fraction with a bool part", {"Fraction": [True, 2]}),
    ("a complex with a text part", {"complex": ["1", 0]}),
    ("a range of floats", {"range": [0, 1.5]}),
    ("a deque without items", {"deque": [None]}),
    ("a Decimal from a number", {"Decimal": 1.5}),
    ("a reference where none is allowed", {"ref": 0}),
    ("a callback where none is allowed", {"cb": 0}),
    ("nesting past MAX_DEPTH", nested(MAX_DEPTH + 5)),
]


@pytest.mark.parametrize("why, tree", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_values_are_wire_errors(why, tree):
    with pytest.raises(WireError):
        decode(tree, resolve=lambda tag, body: None)


def test_values_nested_past_the_limit_are_not_encoded():
    value: list = []
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(ValueError, match="nested deeper"):
        encode(value, no_export)


@pytest.fixture()
def pipe():
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.parametrize("dumps, loads", [(to_json, json.loads), (marshal.dumps, marshal.loads)],
                         ids=["candidate to test process: JSON", "test process to candidate: marshal"])
def test_a_message_crosses_a_real_pipe(dumps, loads, pipe):
    read_fd, write_fd = pipe
    message = {"op": "call", "ref": 0, "args": [encode([1, "é\udcff", b"x", -0.0, 2**60], no_export)],
               "kwargs": [["key", encode({"a": float("nan")}, no_export)]]}
    send(write_fd, message, dumps)
    received = receive(read_fd, loads)
    assert repr(received) == repr(message)


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_the_candidates_json_writer_agrees_with_the_json_module(value):
    tree = encode(value, no_export)
    assert to_json(tree) == json.dumps(tree, separators=(",", ":")).encode()


BAD_FRAMES = [
    ("a length past MAX_FRAME", (MAX_FRAME + 1).to_bytes(4, "big"), WireError),
    ("a frame that is not JSON", (3).to_bytes(4, "big") + b"{{{", WireError),
    ("a frame that is not an object", (3).to_bytes(4, "big") + b"[1]", WireError),
    ("a pipe closed mid-frame", (10).to_bytes(4, "big") + b"{}", Gone),
]


@pytest.mark.parametrize("why, data, error", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_bad_frames(why, data, error, pipe):
    read_fd, write_fd = pipe
    os.write(write_fd, data)
    os.close(write_fd)
    with pytest.raises(error):
        receive(read_fd, json.loads)


@pytest.mark.timeout(20)
def test_an_exited_peer_is_gone_even_while_someone_holds_its_pipe(pipe):
    """A forked child may keep the pipe open: the pidfd, not end-of-pipe, says the peer died."""
    read_fd, write_fd = pipe  # we hold the write end: the pipe never reaches EOF
    peer = subprocess.Popen(["sleep", "0.2"])
    try:
        exited_fd = os.pidfd_open(peer.pid)
        with pytest.raises(Gone):
            receive(read_fd, json.loads, exited_fd)
        os.close(exited_fd)
    finally:
        peer.wait()


def test_exceptions_cross_as_their_nearest_builtin_class():
    class BadInput(KeyError):
        pass

    described = describe_exception(BadInput("k", 2), lambda v: encode(v, no_export))
    rebuilt = rebuild_exception(described, lambda tree: decode(tree, resolve=None))
    assert type(rebuilt) is KeyError and rebuilt.args == ("k", 2)


REBUILT = [
    ("an unknown class name becomes a RuntimeError", ["Boom", None, "bad"], RuntimeError),
    ("a non-exception builtin becomes a RuntimeError", ["print", None, "x"], RuntimeError),
    ("args that cannot be decoded fall back to the message", ["OSError", {"tuple": [{"ref": 0}]}, "m"], OSError),
    ("a class neither the args nor the message can build", ["UnicodeDecodeError", {"tuple": [1]}, "m"], RuntimeError),
    ("SystemExit keeps its class (the unit runner catches it)", ["SystemExit", {"tuple": [0]}, "0"], SystemExit),
]


@pytest.mark.parametrize("why, described, kind", REBUILT, ids=[r[0] for r in REBUILT])
def test_rebuilt_exceptions(why, described, kind):
    rebuilt = rebuild_exception(described, lambda tree: decode(tree, resolve=None))
    assert type(rebuilt) is kind
