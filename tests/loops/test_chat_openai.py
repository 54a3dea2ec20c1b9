"""OpenAIChatModel against a real HTTP server on 127.0.0.1 (started in the test).

Rows cover: a healthy server, a flaky one (fails twice, then answers), one that always
fails (the error becomes a recorded ChatError, not an exception), a 4xx that must not be
retried, a server that hangs (timeout), and option log-probabilities from top_logprobs.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

from selftaught.loops.chat import ChatError, ChatModel, OpenAIChatModel

Handler = Callable[[dict, int], tuple[int, dict | str]]  # (request body, call number) -> (status, body)


class _Server:
    def __init__(self, handle: Handler):
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                    n = len(outer.requests)
                status, reply = handle(body, n)
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers: list[_Server] = []

    def start(handle: Handler) -> _Server:
        servers.append(_Server(handle))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def reply(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def echo(body: dict, n: int):
    return 200, reply("echo: " + body["messages"][-1]["content"])


def client(url: str, **kw) -> OpenAIChatModel:
    sleeps: list[float] = []
    m = OpenAIChatModel(url, "judge-model", backoff=0.01, sleep=sleeps.append, **kw)
    m.sleeps = sleeps  # type: ignore[attr-defined]
    return m


MSG = [[{"role": "user", "content": "hello"}], [{"role": "user", "content": "bye"}]]


def test_healthy_server_batch(serve):
    s = serve(echo)
    with client(s.url, api_key="k") as m:
        assert isinstance(m, ChatModel)
        out = m.complete(MSG, max_new_tokens=7, temperature=0.5, seed=3)
    assert out == ["echo: hello", "echo: bye"]
    req = sorted(s.requests, key=lambda r: r["seed"])
    assert [r["seed"] for r in req] == [3, 4]
    assert req[0]["path"] == "/v1/chat/completions" and req[0]["auth"] == "Bearer k"
    assert req[0]["max_tokens"] == 7 and req[0]["model"] == "judge-model"


def test_flaky_server_fails_twice_then_succeeds(serve):
    s = serve(lambda b, n: (503, "overloaded") if n <= 2 else echo(b, n))
    m = client(s.url, max_retries=3)
    assert m.complete(MSG[:1]) == ["echo: hello"]
    assert len(s.requests) == 3
    assert m.sleeps == [0.01, 0.02]  # exponential backoff


def test_always_failing_server_returns_recorded_errors(serve):
    s = serve(lambda b, n: (500, {"error": "boom"}))
    m = client(s.url, max_retries=2, concurrency=1)
    out = m.complete(MSG)
    assert all(isinstance(o, ChatError) for o in out)
    assert out[0].attempts == 3 and out[0].status == 500 and "boom" in out[0].message
    assert len(s.requests) == 6
    assert m.sleeps == [0.01, 0.02, 0.01, 0.02]
    assert m.option_logprobs(MSG[:1], ["A", "B"])[0].status == 500


def test_client_error_is_not_retried(serve):
    s = serve(lambda b, n: (400, {"error": "bad model"}))
    (out,) = client(s.url).complete(MSG[:1])
    assert isinstance(out, ChatError) and out.status == 400 and out.attempts == 1
    assert len(s.requests) == 1


def test_malformed_reply_is_an_error(serve):
    s = serve(lambda b, n: (200, "not json"))
    (out,) = client(s.url).complete(MSG[:1])
    assert isinstance(out, ChatError) and "malformed" in out.message


def test_unreachable_endpoint_and_timeout(serve):
    import time

    s = serve(lambda b, n: (time.sleep(0.5), echo(b, n))[1])
    (out,) = client(s.url, timeout=0.05, max_retries=1).complete(MSG[:1])
    assert isinstance(out, ChatError) and "timeout" in out.message and out.attempts == 2
    (out,) = client("http://127.0.0.1:9/v1", max_retries=1).complete(MSG[:1])  # port 9: nothing listens
    assert isinstance(out, ChatError) and "transport error" in out.message


def logprob_reply(top: list[tuple[str, float]]) -> dict:
    tok, lp = top[0]
    return {
        "choices": [
            {
                "message": {"role": "assistant", "content": tok},
                "logprobs": {"content": [{"token": tok, "logprob": lp,
                                          "top_logprobs": [{"token": t, "logprob": v} for t, v in top]}]},
            }
        ]
    }


def test_option_logprobs_from_top_logprobs(serve):
    s = serve(lambda b, n: (200, logprob_reply([("A", -0.1), (" B", -2.5), ("(A", -3.0), ("C", -4.0)])))
    (scores,) = client(s.url).option_logprobs(MSG[:1], ["A", "B"])
    assert scores == [-0.1, -2.5]  # " B" matches B; "(A" is worse than "A"
    req = s.requests[0]
    assert req["max_tokens"] == 1 and req["logprobs"] is True and req["top_logprobs"] == 20


def test_option_missing_from_top_logprobs(serve):
    s = serve(lambda b, n: (200, logprob_reply([("A", -0.01)] if n == 1 else [("Sure", -0.01)])))
    m = client(s.url, concurrency=1)
    (one,) = m.option_logprobs(MSG[:1], ["A", "B"])
    assert one[0] == -0.01 and one[1] == -math.inf
    (none,) = m.option_logprobs(MSG[:1], ["A", "B"])
    assert isinstance(none, ChatError) and "none of the options" in none.message
