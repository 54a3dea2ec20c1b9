"""The candidate process: runs the model's program and answers the test process's calls.

The test process (``_harness.py``) starts it inside the sandbox as
``python -I -S -c <_wire.py + this file> READ_FD WRITE_FD``. Its stdin, stdout and stderr
are /dev/null; the two pipes are its only other descriptors (it closes any other before
the program runs). Nothing here is secret or trusted: no nonce, no tests, no verdict.
The program may read, patch or replace every line of this file, or send any bytes on
the pipe; it gains nothing, because the test process believes only values that pass
``_wire.decode`` and decides every comparison itself.

Protocol (one object per frame, ``marshal`` in and JSON out; values as in ``_wire.py``):

1. in ``{"program": source, "names": [names the tests use], "path": sys.path}``; out
   ``{"names": {name: value}}`` (data as data, anything else as a ``ref``) or
   ``{"failed": "syntax error: …" | "program raised …"}``;
2. then, until the pipe closes: in ``{"op": op, "ref": n, "args": [...], "kwargs": [[k, v]]}``,
   out ``{"return": value, "changed": [[position or name, value]]}`` (list, dict, set
   and bytearray arguments the call mutated) or ``{"raise": exception}``. While answering,
   the program may call a function the tests lent it: ``{"op": "callback", "cb": n, ...}``
   goes out and the same kind of reply comes back.

The rlimits are the test process's, inherited; the wall deadline is the parent's.
"""

import builtins
import marshal
import operator
import os
import sys

if __name__ != "__main__":  # imported on the host; in the sandbox _wire.py's source comes first
    from selftaught.judges._wire import (
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

#: What the test process may do to an object of the program's (``op`` -> function).
OPS = {
    "call": lambda target, *args, **kwargs: target(*args, **kwargs),
    "getattr": getattr,
    "setattr": setattr,
    "len": len,
    "iter": iter,
    "next": next,
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "str": str,
    "repr": repr,
}
_MUTABLE = (list, dict, set, bytearray)


class Server:
    """The candidate's end of the pipes: the program's objects, numbered, and the call loop."""

    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.objects = []  # ref number -> object of the program's
        self.numbers = {}  # id(object) -> ref number (one handle per object)

    def export(self, obj):
        number = self.numbers.get(id(obj))
        if number is None:
            number = self.numbers[id(obj)] = len(self.objects)
            self.objects.append(obj)
        return {"ref": number}

    def resolve(self, tag, body):
        if tag == "ref" and type(body) is int and 0 <= body < len(self.objects):
            return self.objects[body]
        if tag == "cb" and type(body) is int:
            return _Lent(self, body)
        return None

    def encode(self, value):
        return encode(value, self.export)

    def decode(self, tree):
        return decode(tree, self.resolve)

    def run_program(self, message):
        """Execute the program; the reply names the values the tests asked for."""
        sys.path[:] = message["path"]  # started with -S: the test process's site folders
        import site

        site.setquit()  # exit() and quit(), as site would have made them
        try:
            code = compile(message["program"], "<program>", "exec")
        except (SyntaxError, ValueError) as exc:
            return {"failed": "syntax error: " + _short(exc)}
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        try:
            exec(code, namespace)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            return {"failed": "program raised " + _short(exc)}
        return {"names": {name: self.name(namespace[name]) for name in message["names"] if name in namespace}}

    def name(self, value):
        """A top-level value for the tests: data if it can cross as data, else a ``ref``."""
        try:
            return self.encode(value)
        except ValueError:  # nested too deep
            return self.export(value)

    def answer(self, request):
        """Do one operation on one of the program's objects; the reply says what came of it."""
        try:
            target = self.objects[request["ref"]]
            args = [self.decode(tree) for tree in request["args"]]
            kwargs = {key: self.decode(tree) for key, tree in request["kwargs"]}
            value = OPS[request["op"]](target, *args, **kwargs)
            return {"return": self.encode(value), "changed": self.changed(request, args, kwargs)}
        except BaseException as exc:
            return {"raise": describe_exception(exc, self.encode)}

    def changed(self, request, args, kwargs):
        """[position or name, value now] of each list/dict/set/bytearray argument the call changed."""
        changed = []
        for where, sent, now in _arguments(request, args, kwargs):
            if type(now) in _MUTABLE:
                tree = self.encode(now)
                if tree != sent:
                    changed.append([where, tree])
        return changed

    def exchange(self, message):
        """Send ``message``; answer the tests' requests until the reply to it arrives."""
        self.send(message)
        while True:
            incoming = self.receive()
            if "op" not in incoming:
                return incoming
            self.send(self.answer(incoming))

    def serve(self):
        self.send(self.run_program(self.receive()))
        while True:
            self.send(self.answer(self.receive()))

    def send(self, message):
        send(self.write_fd, message, to_json)

    def receive(self):
        return receive(self.read_fd, marshal.loads)


class _Lent:
    """A function of the tests' lent to the program: calling it asks the test process."""

    def __init__(self, server, number):
        self._server, self._number = server, number

    def __call__(self, *args, **kwargs):
        server = self._server
        reply = server.exchange(
            {
                "op": "callback",
                "cb": self._number,
                "args": [server.encode(a) for a in args],
                "kwargs": [[k, server.encode(v)] for k, v in kwargs.items()],
            }
        )
        if "raise" in reply:
            raise rebuild_exception(reply["raise"], server.decode)
        return server.decode(reply.get("return"))


def _arguments(request, args, kwargs):
    """(position or name, tree as sent, value now) for every argument of a request."""
    for index, value in enumerate(args):
        yield index, request["args"][index], value
    for key, tree in request["kwargs"]:
        yield key, tree, kwargs[key]


def _short(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "…"


def main():
    read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
    for fd in range(3, max(read_fd, write_fd)):
        if fd not in (read_fd, write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(max(read_fd, write_fd) + 1, 1 << 16)
    try:
        Server(read_fd, write_fd).serve()
    except (Gone, WireError, OSError):
        os._exit(0)


if __name__ == "__main__":
    main()
