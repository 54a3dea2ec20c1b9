"""The test process: runs a problem's tests against a program that lives in another process.

Inside the sandbox (``sandbox.py``) this is pid 1 of the run's pid namespace. It reads
one JSON request on stdin (``nonce``, ``program``, ``tests``, ``entry_point``, ``limits``
and ``candidate``, the source of the candidate process) and then:

1. keeps stdout as the verdict channel (a close-on-exec copy) and points fd 0 at
   /dev/null and fd 1 at stderr; makes itself non-dumpable; applies the rlimits, which
   the candidate process inherits;
2. starts the candidate process (``_candidate.py``) with /dev/null and two pipes, and
   splits the tests into units: each top-level ``assert`` is one test, a HumanEval
   ``check(candidate)`` is one test, other statements are setup run in order;
3. sends the program and the names the tests use, and builds the tests' namespace from
   the answer: data as data, every function, class or instance of the program's as a
   ``Remote`` whose every use is a request on the pipe; modules the tests use as
   ``math.isclose`` are imported here, never taken from the program;
4. runs the units and writes ONE line, ``<nonce> {json}``, on the verdict channel, then
   ``os._exit(0)``: the pid namespace, and the candidate with it, ends.

Why the program cannot forge a pass. It runs in another interpreter: patching
builtins, ``AssertionError`` or this file's functions, reading frames or
``gc.get_objects()``, ``sys.exit``/``os._exit``, ``atexit`` hooks and leftover threads
all act on the candidate process, which holds no nonce, no tests and no verdict
channel. What comes back is plain data rebuilt by ``_wire.decode`` from exact builtin
types, so every comparison in the tests runs this interpreter's own code; a ``Remote``
refuses ``==``, ``<``, ``in``, ``bool()`` and ``hash()`` (``Refused``) because its answer
would be the program's word. A candidate that dies, closes its pipes or breaks the
protocol fails the test it was in and every later one, and the verdict fails.

What the sandbox allows the candidate (bwrap 0.8, ``--unshare-all --disable-userns
--as-pid-1``, uid 65534; checked by tests/judges/test_code_hostile.py): it has the same
uid as this process, no capabilities (CapEff 0), no_new_privs, and cannot make a user
namespace to gain any. Same-uid is enough to ptrace a dumpable process and open its
``/proc/<pid>/mem``, ``environ`` and ``fd/``: the old single-process harness was open to
exactly that. ``PR_SET_DUMPABLE 0`` makes all four EPERM/EACCES without
``CAP_SYS_PTRACE``, which nothing in the sandbox has. As pid 1, this process gets no
signal sent from inside its namespace unless it installed a handler (SIGKILL and
SIGSTOP included); it resets Python's SIGINT handler and installs none, so the
candidate cannot kill, stop or interrupt it. The rlimits bind both processes; the
parent's wall deadline ends the whole namespace.
Without bubblewrap (``unsafe_no_sandbox``) it is not pid 1: the candidate can kill it,
which is a fail.

What crosses and what does not: arguments and results are data (see ``_wire.py``);
lists, dicts, sets and bytearrays the program mutates are updated in place here; the
tests may lend the program their own functions, a short list of builtins and
``math``/``operator`` functions as callbacks. Program objects cannot be ``isinstance``
targets or ``except`` classes in the tests; program exceptions reach the tests as their
nearest builtin class; a program constant the tests read is its value when the program
finished loading.
"""

import ast
import builtins
import importlib
import importlib.util
import json
import marshal
import os
import signal
import sys
import types

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
    )

MAX_FAILURES = 5
#: Usual aliases of modules the tests use as ``np.allclose(...)`` (see ``_oracle_modules``).
MODULE_ALIASES = {"np": "numpy", "pd": "pandas", "ET": "xml.etree.ElementTree"}
#: Builtins the tests may pass to the program as callbacks (``sorted(xs, key=len)`` style).
LENDABLE_BUILTINS = (
    abs, all, any, ascii, bin, bool, bytes, chr, complex, dict, divmod, float, format,
    frozenset, hash, hex, int, len, list, max, min, oct, ord, pow, repr, round, set,
    sorted, str, sum, tuple,
)  # fmt: skip
_DATA_TYPES = (int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)
_UPDATE_IN_PLACE = {
    list: lambda old, new: old.__setitem__(slice(None), new),
    bytearray: lambda old, new: old.__setitem__(slice(None), new),
    dict: lambda old, new: (old.clear(), old.update(new)),
    set: lambda old, new: (old.clear(), old.update(new)),
}
PR_SET_DUMPABLE = 4


class Refused(BaseException):
    """The tests compared, hashed or tested the truth of an object of the program's."""


class CandidateGone(BaseException):
    """The candidate process exited, closed its pipes or broke the protocol."""


class Remote:
    """An object that lives in the candidate process; every use is a request to it."""

    __slots__ = ("_candidate", "_ref")

    def __init__(self, candidate, ref):
        object.__setattr__(self, "_candidate", candidate)
        object.__setattr__(self, "_ref", ref)

    def _ask(self, op, *args, **kwargs):
        return self._candidate.request(op, self._ref, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._ask("call", *args, **kwargs)

    def __getattr__(self, name):
        if name in Remote.__slots__:
            raise AttributeError(name)
        return self._ask("getattr", name)

    def __setattr__(self, name, value):
        self._ask("setattr", name, value)

    def __len__(self):
        return self._ask("len")

    def __iter__(self):
        return self._ask("iter")

    def __next__(self):
        return self._ask("next")

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __setitem__(self, key, value):
        self._ask("setitem", key, value)

    def __str__(self):
        return self._ask("str")

    def __repr__(self):
        return self._ask("repr")

    def _refuse(self, *_):
        raise Refused(
            "the program gave an object, not plain data: comparing it, hashing it, testing "
            "its truth or membership would take the program's word for the result"
        )

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __bool__ = __hash__ = __contains__ = _refuse


class Candidate:
    """This process's end of the pipes to the candidate process."""

    def __init__(self, source):
        self.pid, self.to_fd, self.from_fd = _spawn(source)
        try:
            self.exited_fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # pragma: no cover - Linux < 5.3
            self.exited_fd = None
        self.lent = []  # cb number -> function of the tests' lent to the program
        self.lent_numbers = {}  # id(function) -> cb number
        self.remotes = {}  # ref number -> Remote
        self.gone = None  # why the candidate is gone, once it is

    # -- values across the pipe --

    def encode(self, value):
        return encode(value, self.export)

    def export(self, value):
        if type(value) is Remote and value._candidate is self:
            return {"ref": value._ref}
        if _lendable(value):
            if id(value) not in self.lent_numbers:
                self.lent_numbers[id(value)] = len(self.lent)
                self.lent.append(value)
            return {"cb": self.lent_numbers[id(value)]}
        raise TypeError(
            f"the tests passed a {type(value).__name__} to the program: only data, the "
            "program's own objects and the tests' functions can cross"
        )

    def decode(self, tree):
        return decode(tree, self.resolve)

    def resolve(self, tag, body):
        if type(body) is not int or body < 0:
            return None
        if tag == "ref":
            if body not in self.remotes:
                self.remotes[body] = Remote(self, body)
            return self.remotes[body]
        if tag == "cb" and body < len(self.lent):
            return self.lent[body]
        return None

    # -- requests --

    def start(self, program, wanted):
        """Run the program over there: (names for the tests, None) or (None, why it failed)."""
        reply = self.exchange({"program": program, "names": sorted(wanted), "path": sys.path})
        if "failed" in reply:
            return None, str(reply["failed"])[:300]
        names = reply.get("names")
        if type(names) is not dict:
            raise self.lost(WireError("no names in the program's first reply"))
        return {name: self.checked(self.decode, tree) for name, tree in names.items() if name in wanted}, None

    def request(self, op, ref, args=(), kwargs=None):
        """Do ``op`` to the program's object ``ref`` over there; its result, as data or a Remote."""
        if self.gone:
            raise CandidateGone(self.gone)
        kwargs = kwargs or {}
        message = {
            "op": op,
            "ref": ref,
            "args": [self.encode(value) for value in args],
            "kwargs": [[key, self.encode(value)] for key, value in kwargs.items()],
        }
        reply = self.exchange(message)
        if "raise" in reply:
            raise self.checked(rebuild_exception, reply["raise"], self.decode)
        if "return" not in reply:
            raise self.lost(WireError("a reply with neither return nor raise"))
        value = self.checked(self.decode, reply["return"])
        self.checked(self.apply_changes, reply.get("changed") or [], args, kwargs)
        return value

    def apply_changes(self, changed, args, kwargs):
        """Update the tests' list/dict/set/bytearray arguments the program mutated."""
        if type(changed) is not list:
            raise WireError("changed arguments that are not a list")
        for entry in changed:
            if type(entry) is not list or len(entry) != 2:
                raise WireError("a changed argument that is not [where, value]")
            where, tree = entry
            if type(where) is int and 0 <= where < len(args):
                old = args[where]
            elif type(where) is str and where in kwargs:
                old = kwargs[where]
            else:
                raise WireError("a changed argument that was never passed")
            new = self.decode(tree)
            if type(old) not in _UPDATE_IN_PLACE or type(new) is not type(old):
                raise WireError("a changed argument of another type")
            _UPDATE_IN_PLACE[type(old)](old, new)

    def serve(self, request):
        """Answer the program's call of a function the tests lent it."""
        if request.get("op") != "callback" or type(request.get("cb")) is not int:
            raise WireError("a request other than a callback")
        if not 0 <= request["cb"] < len(self.lent):
            raise WireError("a callback that was never lent")
        function = self.lent[request["cb"]]
        args = [self.decode(tree) for tree in _list(request.get("args"))]
        kwargs = {_key(pair): self.decode(pair[1]) for pair in _list(request.get("kwargs"))}
        try:
            return {"return": self.encode(function(*args, **kwargs))}
        except CandidateGone:
            raise
        except BaseException as exc:
            return {"raise": describe_exception(exc, self.encode)}

    def exchange(self, message):
        """Send ``message``; serve callbacks until its reply comes. A broken pipe is ``CandidateGone``."""
        try:
            send(self.to_fd, message, marshal.dumps)
            while True:
                incoming = receive(self.from_fd, json.loads, self.exited_fd)
                if "op" not in incoming:
                    return incoming
                send(self.to_fd, self.serve(incoming), marshal.dumps)
        except (Gone, WireError, OSError) as exc:
            raise self.lost(exc) from None

    def checked(self, function, *args):
        """``function(*args)``, with a malformed value counted as a broken candidate."""
        try:
            return function(*args)
        except WireError as exc:
            raise self.lost(exc) from None

    # -- life and death --

    def lost(self, why):
        """Mark the candidate gone (killing it if need be); the exception to raise."""
        if not self.gone:
            self.alive(wait_s=0.1)  # an exiting process: let its own status tell
            status = self.kill()
            self.gone = f"the program's process is gone ({why}; {status})"
        return CandidateGone(self.gone)

    def alive(self, wait_s=0.0):
        """False once the candidate has exited (waiting up to ``wait_s`` for that)."""
        if self.gone:
            return False
        if self.exited_fd is None:
            return os.waitpid(self.pid, os.WNOHANG)[0] == 0
        import select

        return not select.select([self.exited_fd], [], [], wait_s)[0]

    def kill(self):
        """SIGKILL the candidate and reap it; how it had ended, in words."""
        try:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return "killed by the judge"
        except ChildProcessError:
            return "already reaped"
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"


def _spawn(source):
    """Start the candidate: /dev/null on fds 0-2, a request and a reply pipe, nothing else.

    Its argv holds the (public) source and two fd numbers; its environment is the
    sandbox's (PATH, HOME, LANG): no nonce, no tests, no verdict channel anywhere.
    """
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    os.set_inheritable(to_read, True)
    os.set_inheritable(from_write, True)
    argv = [sys.executable, "-I", "-S", "-c", source, str(to_read), str(from_write)]
    devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:
        pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=devnull)
    finally:
        os.close(to_read)
        os.close(from_write)
    return pid, to_write, from_read


def _lendable(value):
    """True for a function the tests may let the program call (it runs here, on data)."""
    if type(value) is types.FunctionType:
        return value.__code__.co_filename == "<tests>"
    if any(value is allowed for allowed in LENDABLE_BUILTINS):
        return True
    if type(value) is types.BuiltinFunctionType:
        return getattr(value.__self__, "__name__", None) in ("math", "_operator", "operator")
    if type(value) is types.MethodDescriptorType:  # str.lower, list.count, ...
        return value.__objclass__ in _DATA_TYPES
    return False


def _oracle_modules(tests_tree):
    """Modules the tests use only as ``name.attr`` (``math.isclose``), imported HERE.

    MBPP tests often call ``math`` without importing it, relying on the program's
    import; taking that name from the program would let it hand the tests a fake
    ``math`` whose ``isclose`` always says yes. A name the tests use only this way and
    that names an importable module (or a usual alias: ``np``, ``pd``, ``ET``) is this
    process's own import, whatever the program bound to it.
    """
    names = [node for node in ast.walk(tests_tree) if isinstance(node, ast.Name)]
    bases = {id(node.value) for node in ast.walk(tests_tree) if isinstance(node, ast.Attribute)}
    only_bases = {n.id for n in names} - {n.id for n in names if id(n) not in bases}
    modules = {}
    for name in sorted(only_bases):
        target = MODULE_ALIASES.get(name, name)
        try:
            if importlib.util.find_spec(target) is not None:
                modules[name] = importlib.import_module(target)
        except (ImportError, ValueError):
            continue
    return modules


def _list(value):
    if type(value) is not list:
        raise WireError("expected a list")
    return value


def _key(pair):
    if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
        raise WireError("a keyword argument that is not [name, value]")
    return pair[0]


def _limit(resource, name, value):
    if value is None:
        return
    kind = getattr(resource, name)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(kind)
        if hard == resource.RLIM_INFINITY or value <= hard:
            resource.setrlimit(kind, (value, hard))


def _apply_limits(limits):
    import resource

    _limit(resource, "RLIMIT_CORE", 0)
    _limit(resource, "RLIMIT_CPU", limits.get("cpu_s"))
    _limit(resource, "RLIMIT_AS", limits.get("memory_bytes"))
    _limit(resource, "RLIMIT_NPROC", limits.get("processes"))
    _limit(resource, "RLIMIT_FSIZE", limits.get("file_bytes"))
    _limit(resource, "RLIMIT_NOFILE", limits.get("open_files"))


def _undumpable():
    """PR_SET_DUMPABLE 0: no ptrace, no /proc/<pid>/mem|environ|fd for the same uid."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _verdict_channel():
    """A private copy of stdout for the verdict; fd 0 becomes /dev/null, fd 1 stderr."""
    verdict_fd = os.dup(1)  # close-on-exec: no child inherits it
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return verdict_fd


def _source(node):
    if node is None:
        return "check(candidate)"
    try:
        text = ast.unparse(node)
    except Exception:
        text = "?"
    text = text if len(text) <= 80 else text[:80] + "…"
    return f"line {getattr(node, 'lineno', '?')} `{text}`"


def _short(exc):
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _units(tests_tree, entry_point):
    """[(kind, code or None, shown)]: "setup" runs in order, "test" and "check" are counted."""
    units = []
    for node in tests_tree.body:
        module = ast.Module(body=[node], type_ignores=[])
        kind = "test" if isinstance(node, ast.Assert) else "setup"
        units.append((kind, compile(module, "<tests>", "exec"), _source(node)))
    has_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tests_tree.body)
    if has_check and entry_point:
        units.append(("check", None, _source(None)))
    return units


def _wanted_names(tests_tree, entry_point, modules):
    """Names the tests read that the program may define (builtins and oracle modules excluded)."""
    names = {node.id for node in ast.walk(tests_tree) if isinstance(node, ast.Name)}
    if entry_point:
        names.add(entry_point)
    return {name for name in names if name not in builtins.__dict__ and name not in modules}


def run_units(units, namespace, candidate, entry_point, result):
    """Run the tests; a test during which the candidate went away counts as failed."""
    for kind, code, shown in units:
        try:
            if kind == "check":
                function = namespace.get(entry_point)
                if function is None:
                    raise NameError(f"the program defines no {entry_point!r}")
                namespace["check"](function)
            else:
                exec(code, namespace)
            if candidate.gone:
                raise CandidateGone(candidate.gone)
            if kind != "setup":
                result["passed"] += 1
        except BaseException as exc:
            if len(result["failures"]) < MAX_FAILURES:
                result["failures"].append(shown + ": " + _short(exc))
            if kind == "setup":
                result["error"] = "test setup raised " + _short(exc)
                return


def main():
    request = json.loads(sys.stdin.read())
    nonce = request.pop("nonce")
    verdict_fd = _verdict_channel()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as pid 1: no signal from inside gets in
    result = {"passed": 0, "total": 0, "error": None, "judge_error": None, "failures": []}
    candidate = None

    def report():
        if candidate is not None:
            candidate.kill()
        data = (nonce + " " + json.dumps(result) + "\n").encode()
        while data:
            data = data[os.write(verdict_fd, data) :]
        os._exit(0)

    try:
        _undumpable()
        _apply_limits(request.get("limits", {}))
        candidate = Candidate(request["candidate"])
    except Exception as exc:
        result["judge_error"] = "could not start the candidate process: " + _short(exc)
        report()
    entry_point = request.get("entry_point")
    try:
        tests_tree = ast.parse(request.get("tests") or "", "<tests>")
        units = _units(tests_tree, entry_point)
    except (SyntaxError, ValueError) as exc:
        result["judge_error"] = "tests do not compile: " + _short(exc)
        report()
    result["total"] = sum(1 for kind, _, _ in units if kind != "setup")
    if result["total"] == 0:
        result["judge_error"] = "the tests contain no assert and no check(candidate)"
        report()
    modules = _oracle_modules(tests_tree)
    try:
        wanted = _wanted_names(tests_tree, entry_point, modules)
        names, failed = candidate.start(request.get("program") or "", wanted)
    except (CandidateGone, Refused) as exc:
        names, failed = None, str(exc)
    if failed is not None:
        result["error"] = failed
        report()
    namespace = {**names, **modules, "__name__": "__main__", "__builtins__": builtins}
    run_units(units, namespace, candidate, entry_point, result)
    if not candidate.alive():
        result["error"] = candidate.gone or "the program's process exited during the tests"
    report()


if __name__ == "__main__":
    main()
