"""`diffcoder-lsp` / `python -m diffcoder.lsp_server`: start the language server (stdio or TCP).

Logs go to stderr or --log-file, never stdout: stdout carries the protocol. Exit codes: 0 after
`shutdown` and `exit`, 1 on `exit` (or the end of the input) without `shutdown`, 2 when the
server cannot start (bad arguments, a busy or forbidden --tcp address, an unwritable --log-file).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from diffcoder.lsp_server.model_host import EngineLoader, RemoteLoader, load_engine


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1]:2087
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with a port from 1 to 65535 (127.0.0.1:2087), not {value!r}"
        )
    return host, int(port)


def _device(value: str) -> str:
    from diffcoder.lsp_server.settings import Settings

    try:
        Settings(device=value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use auto, cpu, cuda or cuda:N, not {value!r}") from None
    return value


def _server_url(value: str) -> str:
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/"):
        raise argparse.ArgumentTypeError(
            f"expected the team server's URL, http://HOST:PORT (diffcoder serve prints it), "
            f"not {value!r}"
        )
    return value.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffcoder-lsp", description="Language server that edits code with Stable-DiffCoder"
    )
    parser.add_argument("--model", help="checkpoint directory (or modelPath in the editor)")
    parser.add_argument(
        "--no-demo-model",
        action="store_true",
        help="without --model or modelPath, wait unconfigured instead of loading the demo model",
    )
    parser.add_argument(
        "--server",
        type=_server_url,
        metavar="URL",
        help="decode on a team server (`diffcoder serve`) instead of a local model",
    )
    parser.add_argument(
        "--token-file", metavar="F", help="the team server's bearer token (first line of F)"
    )
    parser.add_argument("--quant", choices=["auto", "none", "8bit", "4bit"], default=None)
    parser.add_argument("--device", type=_device, default=None, help="auto | cpu | cuda | cuda:N")
    parser.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="serve one client on TCP"
    )
    # Clients such as vscode-languageclient add --stdio; stdio is the default anyway.
    parser.add_argument("--stdio", action="store_true", help="serve on stdio (the default)")
    parser.add_argument("--log-file", help="write logs here instead of stderr")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: pygls's too)"
    )
    return parser


def _fail(message: str, log_file: str | None = None) -> int:
    """One line on stderr (and in the log file, when there is one): exit code 2."""
    print(f"diffcoder-lsp: error: {message}", file=sys.stderr)
    if log_file:
        logging.getLogger(__name__).error("%s", message)
    return 2


def main(argv: list[str] | None = None, *, engine_loader: EngineLoader = load_engine) -> int:
    """Serve until the client exits; `engine_loader` is `create_server`'s test hook."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.server and args.model:
        parser.error("give --model (a local checkpoint) or --server (a team server), not both")
    if args.token_file and not args.server:
        parser.error("--token-file goes with --server URL")
    # Checkpoints are directories on this machine: a mistyped modelPath is never looked up on
    # the Hugging Face Hub (minutes of retries offline).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    level = logging.WARNING - 10 * min(args.verbose, 2)
    try:
        handler: logging.Handler = (
            logging.FileHandler(args.log_file, encoding="utf-8")
            if args.log_file
            else logging.StreamHandler(sys.stderr)
        )
    except OSError as error:
        reason = error.strerror or str(error)
        return _fail(f"cannot write the log file {args.log_file}: {reason}; pick another path")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # pygls logs every message it sends at INFO: only -vv shows its chatter.
    logging.getLogger("pygls").setLevel(level if args.verbose >= 2 else logging.WARNING)

    from diffcoder.lsp_server import transport
    from diffcoder.lsp_server.server import create_server

    overrides = {k: v for k, v in (("quant", args.quant), ("device", args.device)) if v}
    if args.server:
        # Scoping, prompts and diffs stay here; only decoding goes to the server.
        engine_loader = RemoteLoader(args.server, args.token_file)
    server = create_server(
        args.server or args.model,
        engine_loader=engine_loader,
        overrides=overrides,
        demo_model=not args.no_demo_model,
    )
    try:
        if args.tcp:
            return transport.serve_tcp(server.protocol, *args.tcp)
        return transport.serve_stdio(server.protocol)
    except transport.ListenError as error:
        return _fail(str(error), args.log_file)
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
