"""Who may use the server, and how much at once: bearer tokens from a file, compared in constant
time and never logged (a token is named by its line number), a per-token concurrency limit, and
the rule that a server without tokens binds loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diffcoder.serving.requests import ApiError

ANONYMOUS = "anonymous"  # the one caller of a server without a token file


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_problem(host: str, token_file: str | None) -> str | None:
    """Why this server may not start, or None: anyone who can reach a non-loopback address
    could use the GPU and read what others send."""
    if token_file is None and not is_loopback(host):
        return (
            f"refusing to listen on {host} without --token-file: anyone who can reach it could "
            "use the model. Give --token-file FILE (one token per line; clients send "
            "'Authorization: Bearer TOKEN'), or listen on 127.0.0.1"
        )
    return None


def read_tokens(path: str | Path) -> list[str]:
    """One token per line; blank lines and `#` comments are skipped. Short tokens are refused:
    they can be guessed."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"cannot read --token-file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--token-file {path} is not UTF-8 text") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not tokens:
        raise ValueError(f"--token-file {path} holds no token; write one token per line")
    for number, token in enumerate(tokens, 1):
        if len(token) < 16 or any(c.isspace() for c in token):
            raise ValueError(
                f"token {number} in {path} is too short or has spaces; use at least 16 "
                "characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`"
            )
    return tokens


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCheck:
    """Matches `Authorization: Bearer <token>` against every known token in constant time.
    Only SHA-256 digests are held (and travel in the deployment's settings), never the tokens."""

    def __init__(self, digests: list[str] | None) -> None:
        self._tokens = [bytes.fromhex(d) for d in digests or []]

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def caller(self, authorization: str | None) -> str:
        """The caller's name ("token-N", or ANONYMOUS without a token file); 401 otherwise."""
        if not self._tokens:
            return ANONYMOUS
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "this server needs 'Authorization: Bearer <token>' (a token from the server's "
                "--token-file)",
                "authentication_error",
            )
        candidate = hashlib.sha256(given.strip().encode()).digest()
        found = 0
        for number, token in enumerate(self._tokens, 1):
            # every token is compared, so the time does not say which one (or how much) matched
            if hmac.compare_digest(candidate, token):
                found = number
        if not found:
            raise ApiError(401, "the bearer token is not valid here", "authentication_error")
        return f"token-{found}"


class ConcurrencyLimit:
    """At most `limit` requests running per caller; one more answers 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def running(self, caller: str) -> int:
        return self._running.get(caller, 0)

    def acquire(self, caller: str) -> None:
        with self._lock:
            if self._running.get(caller, 0) >= self.limit:
                raise ApiError(
                    429,
                    f"{self.limit} requests are already running for this token (the server's "
                    "per-token limit); wait for one to finish, then retry",
                    "rate_limit_error",
                )
            self._running[caller] = self._running.get(caller, 0) + 1

    def release(self, caller: str) -> None:
        with self._lock:
            left = self._running.get(caller, 0) - 1
            if left > 0:
                self._running[caller] = left
            else:
                self._running.pop(caller, None)

    @contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        self.acquire(caller)
        try:
            yield
        finally:
            self.release(caller)
