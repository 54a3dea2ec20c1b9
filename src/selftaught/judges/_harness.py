"""The test harness that runs INSIDE the code sandbox (stdlib only; read as source text).

It reads one JSON object from stdin: ``nonce``, ``program`` (the model's code),
``tests`` (test source), ``entry_point`` (optional) and ``limits``. Then it:

1. closes stdin and applies rlimits to itself (CPU, address space, processes, file
   size, open files, no core files) — before any model code runs;
2. compiles the program (a syntax error is reported as such) and the tests, rewriting
   every single comparison and every ``assert`` in the tests through guards that
   refuse values of untrusted types (an object whose ``__eq__`` always returns True
   cannot pass ``assert f(x) == 4``);
3. executes the program, restores the builtins it may have patched, and runs the tests
   one unit at a time: each top-level ``assert`` is one test; with an ``entry_point``
   and a ``check(candidate)`` function, ``check`` is one test (HumanEval style);
4. writes ONE result line, ``<nonce> {json}``, to the stdout it saved at start, then
   ``os._exit(0)`` so no atexit hook or thread of the model's can add anything.

The parent only trusts a line that starts with the nonce, so ``os._exit(0)`` or
``sys.exit(0)`` before the tests proves nothing. Limits of this design: the nonce
lives in this process's memory, so code that introspects the harness (``gc``, frames)
could forge a result. That needs deliberate reward hacking against this file; the
sandbox around it still protects the host either way.
"""

import ast
import builtins
import json
import os
import sys

_TRUSTED_SCALARS = (int, float, complex, bool, str, bytes, type(None), type(Ellipsis))
_TRUSTED_CONTAINERS = (list, tuple, set, frozenset, dict, range, bytearray)


def _trusted(value, depth=0, budget=None):
    """True if comparing ``value`` can only use builtin comparison code."""
    if budget is None:
        budget = [100_000]
    budget[0] -= 1
    if budget[0] < 0 or depth > 50:
        return False
    kind = type(value)
    if kind in _TRUSTED_SCALARS:
        return True
    if kind in _TRUSTED_CONTAINERS:
        if kind is dict:
            return all(
                _trusted(k, depth + 1, budget) and _trusted(v, depth + 1, budget)
                for k, v in value.items()
            )
        if kind in (range, bytearray):
            return True
        return all(_trusted(item, depth + 1, budget) for item in value)
    return kind in _EXTRA_TRUSTED


_EXTRA_TRUSTED = set()
try:
    import collections
    import decimal
    import fractions

    _EXTRA_TRUSTED.update({fractions.Fraction, decimal.Decimal})
    _EXTRA_TRUSTED.update({collections.OrderedDict, collections.Counter, collections.deque})
except Exception:  # pragma: no cover
    pass


class UntrustedValue(AssertionError):
    pass


def _check(value):
    if not _trusted(value):
        raise UntrustedValue(f"refusing to compare a value of type {type(value).__name__}")
    return value


import operator as _op  # noqa: E402

_OPS = {
    "Eq": _op.eq,
    "NotEq": _op.ne,
    "Lt": _op.lt,
    "LtE": _op.le,
    "Gt": _op.gt,
    "GtE": _op.ge,
    "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
}


def _st_cmp(name, left, right):
    return _OPS[name](_check(left), _check(right))


def _st_truth(value):
    return bool(_check(value))


class _GuardComparisons(ast.NodeTransformer):
    """``a == b`` -> ``_st_cmp("Eq", a, b)``; ``assert x`` -> ``assert _st_truth(x)``."""

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]).__name__ not in _OPS:
            return node  # `is`, `is not` and chains keep Python's own semantics
        call = ast.Call(
            func=ast.Name(id="_st_cmp", ctx=ast.Load()),
            args=[ast.Constant(type(node.ops[0]).__name__), node.left, node.comparators[0]],
            keywords=[],
        )
        return ast.copy_location(call, node)

    def visit_Assert(self, node):
        self.generic_visit(node)
        node.test = ast.copy_location(
            ast.Call(func=ast.Name(id="_st_truth", ctx=ast.Load()), args=[node.test], keywords=[]),
            node.test,
        )
        return node


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
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "…"


def main():
    request = json.loads(sys.stdin.read())
    nonce = request.pop("nonce")
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the model's input() reads EOF
    os.set_inheritable(out_fd, False)

    import resource

    limits = request.get("limits", {})
    _limit(resource, "RLIMIT_CORE", 0)
    _limit(resource, "RLIMIT_CPU", limits.get("cpu_s"))
    _limit(resource, "RLIMIT_AS", limits.get("memory_bytes"))
    _limit(resource, "RLIMIT_NPROC", limits.get("processes"))
    _limit(resource, "RLIMIT_FSIZE", limits.get("file_bytes"))
    _limit(resource, "RLIMIT_NOFILE", limits.get("open_files"))

    result = {"passed": 0, "total": 0, "error": None, "failures": []}

    def report():
        line = "\n" + nonce + " " + json.dumps(result) + "\n"  # own line, whatever came before
        data = line.encode()
        while data:
            written = os.write(out_fd, data)
            data = data[written:]
        os._exit(0)

    try:
        tests_tree = ast.parse(request.get("tests") or "", "<tests>")
    except SyntaxError as exc:
        result["error"] = "tests do not compile: " + _short(exc)
        report()
    entry_point = request.get("entry_point")
    units = []  # (kind, node): "setup" statements run in order; "test" ones are counted
    has_check = any(
        isinstance(n, ast.FunctionDef) and n.name == "check" for n in tests_tree.body
    )
    for node in tests_tree.body:
        units.append(("test" if isinstance(node, ast.Assert) else "setup", node))
    if has_check and entry_point:
        units.append(("check", None))
    shown = [_source(node) for _, node in units]
    result["total"] = sum(1 for kind, _ in units if kind != "setup")
    if result["total"] == 0:
        result["error"] = "the tests contain no assert and no check(candidate)"
        report()

    try:
        program = compile(request.get("program") or "", "<program>", "exec")
    except (SyntaxError, ValueError) as exc:
        result["error"] = "syntax error: " + _short(exc)
        report()

    guarded = _GuardComparisons()
    compiled_units = []
    for kind, node in units:
        if node is None:
            compiled_units.append((kind, None))
            continue
        module = ast.Module(body=[guarded.visit(node)], type_ignores=[])
        ast.fix_missing_locations(module)
        compiled_units.append((kind, compile(module, "<tests>", "exec")))

    saved_builtins = dict(builtins.__dict__)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(program, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        result["error"] = "program raised " + _short(exc)
        report()
    builtins.__dict__.clear()
    builtins.__dict__.update(saved_builtins)

    test_ns = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("__") and name not in saved_builtins
    }
    test_ns.update(
        {"__name__": "__main__", "__builtins__": builtins, "_st_cmp": _st_cmp, "_st_truth": _st_truth}
    )
    for (kind, code), where in zip(compiled_units, shown, strict=True):
        try:
            if kind == "check":
                candidate = namespace.get(entry_point)
                if candidate is None:
                    raise NameError(f"the program defines no {entry_point!r}")
                test_ns["check"](candidate)
            else:
                exec(code, test_ns)
            if kind != "setup":
                result["passed"] += 1
        except BaseException as exc:
            if len(result["failures"]) < 5:
                result["failures"].append(where + ": " + _short(exc))
            if kind == "setup":
                result["error"] = "test setup raised " + _short(exc)
                break
        finally:
            builtins.__dict__.clear()
            builtins.__dict__.update(saved_builtins)
    report()


if __name__ == "__main__":
    main()
