"""A minimal HTTP/1.1 keep-alive load generator for `linkage bench`.

httpx tops out near 350 requests/s on this machine kind (measured against a bare FastAPI app that
serves 5,500/s), so it would measure itself; this client writes requests on raw asyncio streams,
one request in flight per connection, and reads ``Content-Length`` framed responses (uvicorn's).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.elapsed if self.elapsed else 0.0


class _Connection:
    """One keep-alive connection. A server closes an idle keep-alive connection (uvicorn after 5 s) without
    reading anything more from it: a request that meets a closed connection is sent again on a new one."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.writer is None or self.writer.is_closing() or (self.reader and self.reader.at_eof()):
                self.close()
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(request)
                status_line = await self.reader.readline()
            except ConnectionError:
                status_line = b""
            if not status_line and attempt == 0:  # closed while idle: the request was not read
                self.close()
                continue
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await self.reader.readexactly(length)
            return int(status_line.split()[1]), body
        raise ConnectionError("the server closed the connection twice")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _head(method: str, host: str, path: str, extra_headers: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra_headers}"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _connection(
    host: str, port: int, method: str, path: str, bodies: Sequence[bytes], out: LoadResult, extra_headers: str = ""
) -> None:
    conn = _Connection(host, port)
    try:
        for payload in bodies:
            started = time.perf_counter()
            status, body = await conn.exchange(_head(method, host, path, extra_headers, len(payload)) + payload)
            out.latencies.append(time.perf_counter() - started)
            out.statuses.append(status)
            out.bodies.append(body)
    finally:
        conn.close()


async def _run(
    method: str, url: str, payloads: Sequence[bytes], concurrency: int, headers: Mapping[str, str] | None = None
) -> LoadResult:
    parts = urlsplit(url)
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = LoadResult()
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(host, port, method, parts.path, payloads[i::concurrency], result, extra)
            for i in range(concurrency)
        )
    )
    result.elapsed = time.perf_counter() - started
    return result


async def post_json(
    url: str, documents: Sequence[dict[str, Any]], concurrency: int, headers: Mapping[str, str] | None = None
) -> LoadResult:
    """POST every document to ``url`` over ``concurrency`` keep-alive connections (``headers``: e.g. X-API-Key)."""
    payloads = [json.dumps(d, ensure_ascii=False).encode() for d in documents]
    return await _run("POST", url, payloads, concurrency, headers)


async def get_many(url: str, count: int, concurrency: int) -> LoadResult:
    """GET ``url`` ``count`` times over ``concurrency`` keep-alive connections."""
    return await _run("GET", url, [b""] * count, concurrency)


async def post_json_paced(
    url: str,
    documents: Sequence[dict[str, Any]],
    rate: float,
    connections: int,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Open-loop load: document ``i`` is due at ``start + i / rate``; its latency counts from that moment, so
    time spent waiting for a free connection is included (no coordinated omission)."""
    parts = urlsplit(url)
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    result = LoadResult()

    async def worker() -> None:
        conn = _Connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                due, payload = item
                status, body = await conn.exchange(_head("POST", host, parts.path, extra, len(payload)) + payload)
                result.latencies.append(time.perf_counter() - due)
                result.statuses.append(status)
                result.bodies.append(body)
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    started = time.perf_counter()
    for i, document in enumerate(documents):
        due = started + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, json.dumps(document, ensure_ascii=False).encode()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.elapsed = time.perf_counter() - started
    return result
