"""The OpenAI provider against a local fake server speaking the documented embeddings API:
``POST /v1/embeddings`` with ``{"model", "input": [...]}`` → ``{"object": "list", "data":
[{"object": "embedding", "index": i, "embedding": [...]}], "model", "usage"}``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from leadrank.similarity.embeddings import EmbeddingUnavailable, OpenAIProvider

DIM = 8


def _vector(text: str) -> list[float]:
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    return rng.standard_normal(DIM).round(6).tolist()


class FakeOpenAI:
    """Replies come from ``script``: a list of actions consumed one per request
    ("ok", "429", "503", "slow", "401"); when exhausted, "ok"."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                action = fake.script.pop(0) if fake.script else "ok"
                if self.path != "/v1/embeddings":
                    return self._send(404, {"error": {"message": "not found"}})
                if action == "429":
                    return self._send(
                        429,
                        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
                        {"Retry-After": "0.2"},
                    )
                if action == "503":
                    return self._send(503, {"error": {"message": "overloaded", "type": "server_error"}})
                if action == "401":
                    return self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
                if action == "slow":
                    time.sleep(1.5)
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": _vector(t)}
                    for i, t in enumerate(inputs)
                ]
                data.reverse()  # the API does not promise order; the client must use "index"
                return self._send(200, {
                    "object": "list", "data": data, "model": body["model"],
                    "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
                })

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a slow reply

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def make(fake: FakeOpenAI) -> Callable[..., OpenAIProvider]:
    def build(**kwargs: object) -> OpenAIProvider:
        opts = dict(api_key="sk-test", base_url=fake.base_url, model="text-embedding-3-small",
                    dimensions=DIM, request_timeout=0.5, max_total_seconds=5.0,
                    backoff_base=0.05, backoff_max=0.2)
        opts.update(kwargs)
        return OpenAIProvider(**opts)

    return build


def _expected(texts: list[str]) -> np.ndarray:
    m = np.asarray([_vector(t) for t in texts], dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_batches_in_order_and_normalises(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    texts = [f"lead profile {i}" for i in range(7)] + ["", "last"]
    vecs = make(batch_size=3).embed(texts)
    assert [len(r["input"]) for r in fake.requests] == [3, 3, 2]  # the empty text is not sent
    assert all(r["model"] == "text-embedding-3-small" and r["dimensions"] == DIM for r in fake.requests)
    assert fake.headers[0]["authorization"] == "Bearer sk-test"
    nonempty = [t for t in texts if t]
    np.testing.assert_allclose(vecs[[i for i, t in enumerate(texts) if t]], _expected(nonempty), atol=1e-6)
    assert not vecs[7].any() and vecs.dtype == np.float32


def test_rate_limit_honours_retry_after_then_succeeds(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    fake.script = ["429", "429"]
    started = time.monotonic()
    vecs = make().embed(["VP Sales"])
    elapsed = time.monotonic() - started
    assert len(fake.requests) == 3
    assert elapsed >= 0.4  # waited Retry-After (0.2 s) twice
    np.testing.assert_allclose(vecs, _expected(["VP Sales"]), atol=1e-6)


def test_timeout_and_server_error_are_retried(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    fake.script = ["slow", "503"]
    vecs = make().embed(["Head of Sales"])
    assert len(fake.requests) == 3
    np.testing.assert_allclose(vecs, _expected(["Head of Sales"]), atol=1e-6)


def test_gives_up_within_the_time_budget(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    fake.script = ["503"] * 100
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable, match="server error"):
        make(max_total_seconds=1.0).embed(["CFO"])
    assert time.monotonic() - started < 1.5
    assert len(fake.requests) >= 3


def test_rate_limit_longer_than_the_budget_gives_up_at_once(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    fake.script = ["429"] * 10
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable, match="rate limited"):
        make(max_total_seconds=0.1).embed(["CFO"])
    assert time.monotonic() - started < 0.5 and len(fake.requests) == 1


def test_bad_key_is_not_retried(fake: FakeOpenAI, make: Callable[..., OpenAIProvider]) -> None:
    fake.script = ["401"]
    with pytest.raises(EmbeddingUnavailable, match="401"):
        make().embed(["CFO"])
    assert len(fake.requests) == 1


def test_unreachable_endpoint_raises_unavailable() -> None:
    provider = OpenAIProvider(api_key="sk-test", base_url="http://127.0.0.1:9/v1",
                              max_total_seconds=0.5, backoff_base=0.05)
    with pytest.raises(EmbeddingUnavailable, match="connection"):
        provider.embed(["CFO"])
