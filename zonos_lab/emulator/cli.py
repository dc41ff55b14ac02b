"""``zonos-lab emulator``: run the offline Zonos 2 emulator as a server in the foreground.

Example:
    $ zonos-lab emulator --port 8787 --api-key demo-key --faults "post_429=0.1" --balance 50
    $ python -m zonos_lab.emulator.cli --port 0          # same, without the console script
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zonos_lab.errors import InvalidParameter

LATENCY_HELP = ("processing seconds per job (e.g. 1.5), or comma-separated settings "
                "queue=S,processing=S,per_second=S (per_second = extra seconds per second of audio)")


def parse_latency(text: str | None) -> dict[str, Any]:
    """``"1.5"`` or ``"queue=0.2,processing=1,per_second=0.1"`` → EmulatorConfig settings.

    Example:
        >>> parse_latency("queue=0.5,per_second=0.1")
        {'queue_latency': 0.5, 'latency_per_audio_second': 0.1}
        >>> parse_latency("2")
        {'processing_latency': 2.0}
    """
    if text is None or not text.strip():
        return {}
    names = {"queue": "queue_latency", "processing": "processing_latency", "per_second": "latency_per_audio_second"}
    try:
        return {"processing_latency": float(text)}
    except ValueError:
        pass
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise InvalidParameter("latency", text, LATENCY_HELP, reason=f"cannot read {item.strip()!r}")
        try:
            out[names[key]] = float(value)
        except ValueError:
            raise InvalidParameter("latency", text, LATENCY_HELP, reason=f"{value!r} is not a number") from None
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 = any free port)")
    parser.add_argument("--api-key", default=None,
                        help="the Ocp-Apim-Subscription-Key clients must send (default: a random emu-… key)")
    parser.add_argument("--forbidden-key", action="append", default=[], metavar="KEY",
                        help="a key answered with 403 Forbidden (repeatable)")
    parser.add_argument("--latency", default=None, help=LATENCY_HELP)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs processed at once (default 4)")
    parser.add_argument("--faults", default=None, metavar="SPEC",
                        help='fault injection, e.g. "post_429=0.1,drop=0.05,failed=0.05" or "post_429@3,7;drop_after@5"')
    parser.add_argument("--fault-seed", type=int, default=None,
                        help="seed of the fault RNG (default: the spec's seed=, else 0)")
    parser.add_argument("--balance", type=float, default=None, help="wallet credits (default unlimited)")
    parser.add_argument("--price", type=float, default=1.0, help="credits per COMPLETED/FAILED take (default 1)")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N", help="accepted POSTs per minute")
    parser.add_argument("--nondeterministic", action="store_true",
                        help="perturb every job's seed (emulates batch nondeterminism)")
    parser.add_argument("--data-root", default=None,
                        help="also accept file:// URLs and local paths inside this folder as references")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def banner(base_url: str, api_key: str, config: Any, data_root: Any = None) -> str:
    """The start-up banner: says loudly that this is the emulator, with the URL and key to use."""
    line = "=" * 72
    return "\n".join([
        line,
        " EMULATOR — not Zonos. An offline stand-in for the Zonos 2 API (model_id 'zonos-2-emulator').",
        " Audio comes from a local speech engine, not from Zyphra's model. Nothing is charged.",
        f" base URL : {base_url}",
        f" API key  : {api_key}",
        f" submit   : POST {base_url}/zonos-2/v1/zonos-2-request",
        f" status   : GET  {base_url}/v2/requests/status/<request_id>",
        f" stats    : GET  {base_url}/_emulator/stats",
        f" settings : concurrency={config.concurrency} balance={config.balance} faults={config.faults.to_spec()}"
        + (f" data_root={data_root}" if data_root else ""),
        f" clients  : export PIXAZO_BASE_URL={base_url} PIXAZO_API_KEY={api_key}",
        line,
    ])


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. Returns the exit code."""
    import uvicorn

    from zonos_lab.emulator.faults import FaultPlan
    from zonos_lab.emulator.runner import bind_socket, new_api_key, url_host
    from zonos_lab.emulator.server import create_app
    from zonos_lab.emulator.service import EmulatorConfig, EmulatorService

    try:
        config = EmulatorConfig(concurrency=args.concurrency, balance=args.balance, price_per_take=args.price,
                                rate_limit_per_minute=args.rate_limit, nondeterministic=args.nondeterministic,
                                faults=FaultPlan.parse(args.faults, seed=args.fault_seed),
                                **parse_latency(args.latency))
    except InvalidParameter as exc:
        print(f"zonos-lab emulator: {exc}", file=sys.stderr)
        return 2
    api_key = args.api_key or new_api_key()
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"zonos-lab emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    base_url = f"http://{url_host(args.host)}:{port}"
    service = EmulatorService(config, api_key=api_key, forbidden_keys=tuple(args.forbidden_key),
                              data_root=args.data_root)
    print(banner(base_url, api_key, config, service.data_root), flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level=args.log_level, backlog=4096,
                                           lifespan="off", timeout_graceful_shutdown=2))
    try:
        server.run(sockets=[sock])
    finally:
        service.close()
        sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zonos_lab.emulator.cli``: the same as ``zonos-lab emulator``."""
    parser = argparse.ArgumentParser(prog="zonos-lab emulator",
                                     description="Run the offline Zonos 2 emulator (EMULATOR — not Zonos).")
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
