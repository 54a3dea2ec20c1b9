"""The wire between the code judge's two processes: frames of plain data, strictly decoded.

The test process (``_harness.py``) and the candidate process (``_candidate.py``) talk
over two pipes. This file is the only code both run: ``code_judge`` puts its source in
front of each of theirs (stdlib only, Python 3.11, no ``from __future__``); on the host
it is an ordinary module, so the decoder can be tested alone.

Frames: a 4-byte big-endian length, then that many bytes holding one message (an
object); a frame over ``MAX_FRAME`` is refused before it is read. The candidate writes
ASCII JSON (``to_json``), which the test process reads with the ``json`` module: strict,
and safe on hostile bytes. The test process writes ``marshal``, which the candidate
reads: its bytes are trusted there, and a candidate that imports neither ``json`` nor
``re`` starts about 20 ms sooner.

Values inside messages are JSON trees. ``None``, ``bool``, ``str``, ``float`` and small
``int`` are themselves; everything else is a one-key object naming its type::

    {"int": "-0x1f"}  {"list": [...]}  {"tuple": [...]}  {"set": [...]}
    {"frozenset": [...]}  {"dict": [[k, v], ...]}  {"bytes": "hex"}  {"bytearray": "hex"}
    {"complex": [re, im]}  {"range": [start, stop, step]}  {"Fraction": [n, d]}
    {"Decimal": "1.5"}  {"deque": [maxlen, [...]]}  {"OrderedDict": [[k, v], ...]}
    {"Counter": [[k, v], ...]}  {"ref": n}  {"cb": n}

``ref`` is an object that lives in the candidate process (a function, an instance, a
generator): the other side gets a handle, never the object. ``cb`` is a function of the
tests lent to the program.

Trust: the candidate process runs hostile code and may send any bytes. ``decode``, run
by the test process, builds every value anew from exact builtin (or listed stdlib) types,
so no object of the program's ever reaches the tests: an ``__eq__`` that lies, a ``str``
subclass, a patched builtin have nowhere to live. A subclass of a data type (an
``IntEnum``, a namedtuple, a ``defaultdict``) crosses as its base type's value.
"""

import os
import sys

#: The largest frame either side reads (a returned value, a batch of names).
MAX_FRAME = 64 << 20
#: Values nested deeper than this do not cross (the decoder is recursive).
MAX_DEPTH = 200
#: Ints this small cross as JSON numbers; larger ones as hex (no 4,300-digit limit).
_SMALL_INT = 1 << 53


class WireError(Exception):
    """A frame or a value that does not follow this protocol."""


class Gone(Exception):
    """The other process closed its pipe or exited."""


# --- frames --------------------------------------------------------------------------


def send(fd, message, dumps):
    """Write one message as one frame with ``dumps`` (blocking until the pipe took it all)."""
    body = dumps(message)
    data = memoryview(len(body).to_bytes(4, "big") + body)
    while data:
        data = data[os.write(fd, data) :]


def receive(fd, loads, exited_fd=None):
    """Read one frame's message with ``loads``; ``Gone`` at end of pipe or once
    ``exited_fd`` (a pidfd) says the writer exited."""
    size = int.from_bytes(_read_exactly(fd, 4, exited_fd), "big")
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size} bytes (limit {MAX_FRAME})")
    try:
        message = loads(_read_exactly(fd, size, exited_fd))
    except (ValueError, TypeError, EOFError, RecursionError) as exc:
        raise WireError(f"an unreadable frame: {type(exc).__name__}") from None
    if type(message) is not dict:
        raise WireError("a frame that is not an object")
    return message


def to_json(tree):
    """A message as compact ASCII JSON bytes, without importing ``json`` (or ``re``).

    >>> to_json({"list": [1, -2.5, "é\\n", None, True, float("inf")]})
    b'{"list":[1,-2.5,"\\\\u00e9\\\\n",null,true,Infinity]}'
    """
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:  # pragma: no cover - CPython always has _json
        from json.encoder import py_encode_basestring_ascii as quote
    return _json_text(tree, quote).encode("ascii")


def _json_text(tree, quote):
    kind = type(tree)
    if kind is str:
        return quote(tree)
    if tree is None or kind is bool:
        return {None: "null", True: "true", False: "false"}[tree]
    if kind is int:
        return str(tree)
    if kind is float:
        if tree != tree:
            return "NaN"
        return repr(tree) if abs(tree) != float("inf") else ("Infinity" if tree > 0 else "-Infinity")
    if kind is list:
        return "[" + ",".join(_json_text(item, quote) for item in tree) + "]"
    if kind is dict:
        return "{" + ",".join(quote(k) + ":" + _json_text(v, quote) for k, v in tree.items()) + "}"
    raise TypeError(f"not a JSON tree: {kind.__name__}")


def _read_exactly(fd, size, exited_fd):
    chunks, left = [], size
    while left:
        if exited_fd is not None:
            _wait_readable(fd, exited_fd)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Gone("the other process closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _wait_readable(fd, exited_fd):
    """Block until ``fd`` has data; ``Gone`` if the process behind ``exited_fd`` ended first."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(exited_fd, select.POLLIN)
    while True:
        ready = dict(poller.poll())
        if fd in ready:
            return
        if exited_fd in ready:
            raise Gone("the other process exited")


# --- values --------------------------------------------------------------------------


def encode(value, export, depth=0):
    """``value`` as a JSON tree; ``export(obj)`` gives the tree of anything not data.

    >>> encode((1, [2.5, "x"], {3: None}), export=None)
    {'tuple': [1, {'list': [2.5, 'x']}, {'dict': [[3, None]]}]}
    >>> encode(2**70, export=None)
    {'int': '0x400000000000000000'}
    """
    if depth > MAX_DEPTH:
        raise ValueError(f"a value nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value
    if kind is int:
        return value if -_SMALL_INT < value < _SMALL_INT else {"int": hex(value)}
    encoder = _ENCODERS.get(kind) or _STDLIB_ENCODERS.get(_stdlib_name(kind))
    if encoder is not None:
        return encoder(value, lambda item: encode(item, export, depth + 1))
    for base in _DATA_BASES:
        if isinstance(value, base):  # IntEnum, namedtuple, defaultdict, ...: the base's value
            return encode(base(value), export, depth)
    return export(value)


def _pairs(items, sub):
    return [[sub(k), sub(v)] for k, v in items]


_ENCODERS = {
    list: lambda v, sub: {"list": [sub(x) for x in v]},
    tuple: lambda v, sub: {"tuple": [sub(x) for x in v]},
    set: lambda v, sub: {"set": [sub(x) for x in v]},
    frozenset: lambda v, sub: {"frozenset": [sub(x) for x in v]},
    dict: lambda v, sub: {"dict": _pairs(v.items(), sub)},
    bytes: lambda v, sub: {"bytes": v.hex()},
    bytearray: lambda v, sub: {"bytearray": v.hex()},
    complex: lambda v, sub: {"complex": [v.real, v.imag]},
    range: lambda v, sub: {"range": [v.start, v.stop, v.step]},
}
_STDLIB_ENCODERS = {
    "fractions.Fraction": lambda v, sub: {"Fraction": [sub(v.numerator), sub(v.denominator)]},
    "decimal.Decimal": lambda v, sub: {"Decimal": str(v)},
    "collections.deque": lambda v, sub: {"deque": [v.maxlen, [sub(x) for x in v]]},
    "collections.OrderedDict": lambda v, sub: {"OrderedDict": _pairs(v.items(), sub)},
    "collections.Counter": lambda v, sub: {"Counter": _pairs(v.items(), sub)},
}
_DATA_BASES = (int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)


def _stdlib_name(kind):
    """``"fractions.Fraction"`` for the real stdlib class, else None."""
    module = sys.modules.get(getattr(kind, "__module__", None) or "")
    name = getattr(kind, "__qualname__", None)
    if module is None or not isinstance(name, str) or getattr(module, name, None) is not kind:
        return None
    return f"{module.__name__}.{name}"


def decode(tree, resolve, depth=0):
    """Build a value from a JSON tree using only exact builtin (and listed stdlib) types.

    ``resolve(tag, body)`` turns ``ref`` and ``cb`` leaves into objects (None:
    refused). Anything malformed is a ``WireError``.

    >>> decode({"tuple": [1, {"set": ["a"]}, {"int": "-0x10"}]}, resolve=None)
    (1, {'a'}, -16)
    >>> decode({"list": [1], "tuple": []}, resolve=None)
    Traceback (most recent call last):
    ...
    selftaught.judges._wire.WireError: not a value: a dict with keys ['list', 'tuple']
    """
    try:
        return _decode(tree, resolve, depth)
    except WireError:
        raise
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError) as exc:
        raise WireError(f"not a value: {type(exc).__name__}: {exc}"[:200]) from None


def _decode(tree, resolve, depth):
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested deeper than {MAX_DEPTH}")
    kind = type(tree)
    if tree is None or kind is bool or kind is int or kind is float or kind is str:
        return tree
    if kind is not dict or len(tree) != 1:
        keys = sorted(tree) if kind is dict else None
        raise WireError(f"not a value: a {kind.__name__}" + (f" with keys {keys}" if keys else ""))
    ((tag, body),) = tree.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise WireError(f"not a value: unknown tag {tag[:40]!r}")
    return decoder(body, lambda item: _decode(item, resolve, depth + 1), resolve)


def _items(body, sub):
    if type(body) is not list:
        raise WireError("a container whose body is not a list")
    return [sub(item) for item in body]


def _pairs_of(body, sub):
    pairs = []
    for pair in _items(body, lambda item: item):
        if type(pair) is not list or len(pair) != 2:
            raise WireError("a mapping entry that is not a [key, value] pair")
        pairs.append((sub(pair[0]), sub(pair[1])))
    return pairs


def _exact(body, kind):
    if type(body) is not kind:
        raise WireError(f"expected {kind.__name__}, got {type(body).__name__}")
    return body


def _number(item):
    if type(item) not in (int, float):
        raise WireError("a complex part that is not a number")
    return item


def _leaf(tag):
    def decoder(body, sub, resolve):
        found = resolve(tag, body) if resolve is not None else None
        if found is None:
            raise WireError(f"a {tag!r} that is not allowed here")
        return found

    return decoder


def _stdlib(module, name):
    return getattr(__import__(module), name)


_DECODERS = {
    "int": lambda b, sub, r: int(_exact(b, str), 16),
    "list": lambda b, sub, r: _items(b, sub),
    "tuple": lambda b, sub, r: tuple(_items(b, sub)),
    "set": lambda b, sub, r: set(_items(b, sub)),
    "frozenset": lambda b, sub, r: frozenset(_items(b, sub)),
    "dict": lambda b, sub, r: dict(_pairs_of(b, sub)),
    "bytes": lambda b, sub, r: bytes.fromhex(_exact(b, str)),
    "bytearray": lambda b, sub, r: bytearray.fromhex(_exact(b, str)),
    "complex": lambda b, sub, r: complex(*[_number(x) for x in _exact(b, list)][:2]),
    "range": lambda b, sub, r: range(*[_exact(x, int) for x in _exact(b, list)][:3]),
    "Fraction": lambda b, sub, r: _stdlib("fractions", "Fraction")(*[_exact(sub(x), int) for x in _exact(b, list)][:2]),
    "Decimal": lambda b, sub, r: _stdlib("decimal", "Decimal")(_exact(b, str)),
    "deque": lambda b, sub, r: _stdlib("collections", "deque")(
        _items(_exact(b, list)[1], sub), None if b[0] is None else _exact(b[0], int)
    ),
    "OrderedDict": lambda b, sub, r: _stdlib("collections", "OrderedDict")(_pairs_of(b, sub)),
    "Counter": lambda b, sub, r: _stdlib("collections", "Counter")(dict(_pairs_of(b, sub))),
    "ref": _leaf("ref"),
    "cb": _leaf("cb"),
}


# --- exceptions ----------------------------------------------------------------------


def describe_exception(exc, encode_value):
    """``[builtin type name, args tree or None, message]`` of an exception, for the other side.

    A class the program defined crosses as its nearest builtin base (a ``ValueError``
    subclass is a ``ValueError`` to the tests).
    """
    kind = next(k for k in type(exc).__mro__ if k.__module__ == "builtins")
    try:
        message = str(exc)[:500]
    except Exception:
        message = "?"
    try:
        args = encode_value(tuple(exc.args))
    except Exception:
        args = None
    return [kind.__name__, args, message]


def rebuild_exception(described, decode_value):
    """The exception ``describe_exception`` described, as a builtin exception of this process."""
    if type(described) is not list or len(described) != 3:
        raise WireError("an exception that is not [type, args, message]")
    name, args, message = described
    if type(name) is not str or type(message) is not str:
        raise WireError("an exception whose type or message is not a string")
    kind = getattr(__import__("builtins"), name, None)
    if not (isinstance(kind, type) and issubclass(kind, BaseException)):
        return RuntimeError(f"{name[:60]}: {message}")
    try:
        values = decode_value(args) if args is not None else (message,)
        return kind(*values) if type(values) is tuple else kind(message)
    except Exception:
        try:
            return kind(message)
        except Exception:
            return RuntimeError(f"{name}: {message}")
