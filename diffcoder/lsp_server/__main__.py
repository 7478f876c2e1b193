"""`diffcoder-lsp` / `python -m diffcoder.lsp_server`: start the language server (stdio or TCP).

Logs go to stderr or --log-file, never stdout: stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys

from diffcoder.lsp_server.model_host import EngineLoader, load_engine


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host, int(port)


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
    parser.add_argument("--quant", choices=["auto", "none", "8bit", "4bit"], default=None)
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="serve on TCP")
    # Clients such as vscode-languageclient add --stdio; stdio is the default anyway.
    parser.add_argument("--stdio", action="store_true", help="serve on stdio (the default)")
    parser.add_argument("--log-file", help="write logs here instead of stderr")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    return parser


def main(argv: list[str] | None = None, *, engine_loader: EngineLoader = load_engine) -> int:
    """Serve until the client exits; `engine_loader` is `create_server`'s test hook."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    handler: logging.Handler = (
        logging.FileHandler(args.log_file, encoding="utf-8")
        if args.log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)

    from diffcoder.lsp_server.server import create_server

    overrides = {k: v for k, v in (("quant", args.quant), ("device", args.device)) if v}
    server = create_server(
        args.model,
        engine_loader=engine_loader,
        overrides=overrides,
        demo_model=not args.no_demo_model,
    )
    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
