"""Serving one client, over stdio or TCP: Content-Length framing, a session loop that ends on
`exit` or at the end of the input, and its exit code (0 after shutdown, else 1).

stdin is read on a daemon thread, so a blocked read never holds the process after `exit`. Over
TCP the server serves one client: a second connection while the first is open gets an error
answer to its first request and is closed, so replies never go to the wrong client; the server
exits when its client's session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

logger = logging.getLogger(__name__)
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
REFUSAL_WAIT_S = 5.0  # how long a refused TCP client has to send the request we answer
REQUEST_FAILED = -32803


class ListenError(OSError):
    """The TCP address cannot be served (in use, not allowed, unknown host): one line."""


def _length(header: bytes) -> int | None:
    found = _LENGTH.fullmatch(header.strip())
    return int(found.group(1)) if found else None


def read_frame(stream: Any) -> bytes | None:
    """One message body from a blocking stream; None at the end of the input."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line.strip():
            length = _length(line) if length is None else length
        elif length is not None:
            break
    body = stream.read(length)
    return body if len(body) == length else None


async def read_frame_async(reader: asyncio.StreamReader) -> bytes | None:
    length = None
    try:
        while True:
            line = await reader.readline()
            if not line:
                return None
            if line.strip():
                length = _length(line) if length is None else length
            elif length is not None:
                break
        return await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class _FdReader:
    """readline/read over a file descriptor with `os.read`: unlike `sys.stdin.buffer`, it holds
    no lock, so a daemon thread blocked in it cannot abort the interpreter's exit."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""

    def _fill(self) -> bool:
        chunk = os.read(self.fd, 65536)
        self.buffer += chunk
        return bool(chunk)

    def readline(self) -> bytes:
        while b"\n" not in self.buffer:
            if not self._fill():
                line, self.buffer = self.buffer, b""
                return line
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size and self._fill():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def _unlocked(stream: BinaryIO) -> Any:
    try:
        return _FdReader(stream.fileno())
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests)
        return stream


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class _Writer:
    """pygls's writer interface over a byte sink; a client that is gone is not an error."""

    def __init__(self, write: Callable[[bytes], None], close: Callable[[], None]) -> None:
        self._write, self._close = write, close
        self.gone = False

    def write(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            self._write(data)
        except (OSError, ValueError) as error:  # a closed pipe or socket
            self.gone = True
            logger.info("the client is gone (%s)", error)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._close()


async def run_session(protocol: Any, next_frame: Callable[[], Awaitable[bytes | None]]) -> int:
    """Hand each message to the protocol until `exit` or the end of the input."""
    while protocol.exit_code is None:
        body = await next_frame()
        if body is None:
            break
        protocol.receive(body)
    return protocol.finish()


def serve_stdio(protocol: Any, stdin: BinaryIO | None = None, sink: BinaryIO | None = None) -> int:
    source = _unlocked(stdin or sys.stdin.buffer)
    sink = sink or sys.stdout.buffer

    def write(data: bytes) -> None:
        sink.write(data)
        sink.flush()

    protocol.set_writer(_Writer(write, sink.close))

    async def main() -> int:
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue[bytes | None] = asyncio.Queue()

        def pump() -> None:
            body: bytes | None = b""
            while body is not None:
                try:
                    body = read_frame(source)
                except (OSError, ValueError):
                    body = None
                try:
                    loop.call_soon_threadsafe(frames.put_nowait, body)
                except RuntimeError:  # the session ended: nobody reads any more
                    return

        threading.Thread(target=pump, name="diffcoder-stdin", daemon=True).start()
        return await run_session(protocol, frames.get)

    return asyncio.run(main())


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str) -> None:
    text = (
        f"diffcoder-lsp on {where} already serves a client (one client per server); "
        "start another diffcoder-lsp on another port for this one"
    )
    logger.warning("refused a second client from %s", writer.get_extra_info("peername"))
    show = {"type": 1, "message": text}  # allowed before initialize: the reason at once
    try:
        writer.write(frame({"jsonrpc": "2.0", "method": "window/showMessage", "params": show}))
        body = await asyncio.wait_for(read_frame_async(reader), REFUSAL_WAIT_S)
        message = json.loads(body) if body else None
        if isinstance(message, dict) and "method" in message and "id" in message:
            error = {"code": REQUEST_FAILED, "message": text, "data": {"retry": False}}
            writer.write(frame({"jsonrpc": "2.0", "id": message["id"], "error": error}))
        await writer.drain()
    except (asyncio.TimeoutError, ValueError, OSError):
        pass
    finally:
        writer.close()


def _why_not(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror}); check the host name"
    if error.errno == errno.EADDRINUSE:
        return "the port is in use; pick another port, or stop the program that holds it"
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); pick another port"
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"{reason}; check the address"


def serve_tcp(protocol: Any, host: str, port: int) -> int:
    where = f"{host}:{port}"

    async def main() -> int:
        ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        busy = False

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal busy
            if busy:
                await _refuse(reader, writer, where)
                return
            busy = True
            logger.info("client connected from %s", writer.get_extra_info("peername"))

            def send(data: bytes) -> None:
                if writer.is_closing():  # asyncio would only warn, again and again
                    raise ConnectionResetError("the connection is closed")
                writer.write(data)

            protocol.set_writer(_Writer(send, writer.close))
            code = 1
            try:
                code = await run_session(protocol, lambda: read_frame_async(reader))
            except Exception:  # a bug: the session is over, the process must not hang
                logger.exception("the session ended on an error")
            finally:
                writer.close()
            if not ended.done():
                ended.set_result(code)

        try:
            server = await asyncio.start_server(connected, host, port)
        except OSError as error:
            raise ListenError(f"cannot listen on {where}: {_why_not(error)}") from None
        logger.info("listening on %s", where)
        async with server:
            return await ended

    return asyncio.run(main())
