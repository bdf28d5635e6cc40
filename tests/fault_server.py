"""A loopback chat-completions server for backend tests, with injected faults.

`FaultServer(fault_rate=0.1)` answers POST /v1/chat/completions (and GET /v1/models). Each request
gets one of: HTTP 500, HTTP 429, a sleep past the client's timeout, a dropped connection (socket
closed with no reply), each with probability `fault_rate`, else a normal reply whose text echoes
the last message, so tests can check which answer went where. The draw is a seeded hash of
(prompt, attempt number), so which attempts fail does not depend on thread timing and tests can
count exactly. `fault_rate=1.0` with `faults=("500",)` makes a server that always fails.

For fleet tests: `fail_after=N` answers N chat requests, then fails every one with `fail_with` (a
server that breaks mid-run; GET still answers, so health probes pass and the endpoint flaps; "kill":
it dies, see kill());
`served` counts the answered chat requests by their last message; `reply_prefix` and `root` make a
server that serves something else than its peers; `kill()` drops every later request, GETs too
(a dead server whose clients still hold connections); `port` binds a chosen port."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("500", "429", "timeout", "drop")


REPLY_PREFIX = "Therapist: echo "


def reply_text(messages: list[dict], prefix: str = REPLY_PREFIX) -> str:
    return prefix + messages[-1]["content"]


class FaultServer:
    def __init__(self, fault_rate: float = 0.1, faults: tuple[str, ...] = FAULTS, sleep_s: float = 1.5,
                 seed: int = 0, model: str = "fault-model", root: str = "/models/fault",
                 reply_prefix: str = REPLY_PREFIX, fail_after: int | None = None, fail_with: str = "500",
                 port: int = 0, answer=None) -> None:
        """`answer(body) -> text`: the reply to a chat request (default: an echo of its last message)."""
        self.fault_rate, self.faults, self.sleep_s, self.model = fault_rate, faults, sleep_s, model
        self.root, self.reply_prefix, self.fail_after, self.fail_with = root, reply_prefix, fail_after, fail_with
        self.served: Counter[str] = Counter()  # last message -> answers sent
        self.answer = answer
        self.bodies: list[dict] = []  # every chat request received
        self.killed = False
        self.seed = seed
        self.attempts: Counter[str] = Counter()  # prompt -> attempts seen
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(2)  # no reply at all: the client sees a reset/EOF

            def do_GET(self) -> None:
                if server.killed:
                    return self._drop()
                self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model",
                                                             "root": server.root, "owned_by": "test"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with server.lock:
                    server.bodies.append(body)
                if server.killed:
                    return self._drop()
                fault = server.draw(json.dumps(body["messages"], sort_keys=True))
                if fault == "ok" and not server.serve(body["messages"][-1]["content"]):
                    fault = server.fail_with
                if fault == "500":
                    return self._send(500, {"error": {"message": "injected failure", "type": "server_error"}})
                if fault == "429":
                    return self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}})
                if fault == "timeout":
                    time.sleep(server.sleep_s)
                if fault == "kill":
                    server.kill()
                if fault in ("drop", "kill"):
                    return self._drop()
                text = server.answer(body) if server.answer else reply_text(body["messages"], server.reply_prefix)
                self._send(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": server.model,
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # timed-out clients: broken pipes
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def draw(self, prompt: str) -> str:
        with self.lock:
            attempt = self.attempts[prompt]
            self.attempts[prompt] += 1
            digest = hashlib.sha256(f"{self.seed}|{attempt}|{prompt}".encode()).digest()
            u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
            index = int(u / self.fault_rate) if self.fault_rate > 0 else len(self.faults)
            fault = self.faults[index] if index < len(self.faults) else "ok"
            self.counts[fault] += 1
            return fault

    def serve(self, content: str) -> bool:
        """Whether this chat request gets an answer (False: past `fail_after`); counts it in `served`."""
        with self.lock:
            if self.fail_after is not None and sum(self.served.values()) >= self.fail_after:
                return False
            self.served[content] += 1
            return True

    def kill(self) -> None:
        self.killed = True

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
