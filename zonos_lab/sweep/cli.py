"""``zonos-lab sweep SPEC --out runs/NAME``: run (or resume) a sweep from a TOML / YAML / JSON spec.

Exit codes: 0 every take completed · 1 some takes did not complete (failed, error, uncertain, pending)
· 2 bad input (spec, options, run directory, key) · 3 stopped because the wallet is empty (402).
One summary line is printed at the end.

Example:
    $ zonos-lab sweep study.toml --out runs/study --dry-run
    $ zonos-lab sweep study.toml --out runs/study --backend emulator --concurrency 8
    $ zonos-lab sweep --resume --out runs/study
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NO_BALANCE = 0, 1, 2, 3


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sweep`` arguments to `parser`."""
    parser.add_argument("spec", nargs="?", help="sweep spec (.toml, .yaml, .json); optional with --resume")
    parser.add_argument("--out", required=True, help="run directory (re-running the same spec there resumes it)")
    parser.add_argument("--backend", choices=("auto", "emulator", "cloud"), default="auto",
                        help="auto: cloud if PIXAZO_API_KEY/PIXAZO_BASE_URL is set, else an in-process emulator")
    parser.add_argument("--base-url", default=None, help="gateway or emulator URL (default: PIXAZO_BASE_URL)")
    parser.add_argument("--concurrency", type=int, default=4, help="takes in flight at once (default 4)")
    parser.add_argument("--rpm", type=float, default=None, help="requests per minute limit")
    parser.add_argument("--take-timeout", type=float, default=600, help="seconds to wait for one take")
    parser.add_argument("--max-takes", type=int, default=None, help="submit at most this many takes")
    parser.add_argument("--max-cost", type=float, default=None, help="stop before the cost exceeds this")
    parser.add_argument("--price", type=float, default=None, help="price per take (for cost and --max-cost)")
    parser.add_argument("--completion", choices=("poll", "webhook"), default="poll")
    parser.add_argument("--dry-run", action="store_true", help="count takes, audio seconds and cost; send nothing")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out (spec from its manifest)")
    parser.add_argument("--resubmit-uncertain", action="store_true",
                        help="resend takes whose POST outcome is unknown (they may be paid twice)")
    parser.add_argument("--retry-errors", action="store_true", help="resend takes that ended ERROR (not charged)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit code."""
    from zonos_lab.errors import InsufficientBalance, InvalidParameter, Unauthorized, ZonosError
    from zonos_lab.sweep.rundir import read_manifest
    from zonos_lab.sweep.spec import SweepSpec

    logging.basicConfig(level=logging.WARNING, format="zonos-lab: %(message)s")
    out = Path(args.out)
    try:
        if args.spec:
            spec = SweepSpec.from_file(args.spec)
        elif args.resume:
            spec = SweepSpec.from_dict(read_manifest(out)["spec"])
        else:
            raise InvalidParameter("spec", None, "a spec file (.toml, .yaml, .json), or --resume with --out RUN_DIR")
        spec.expand()  # every trial validated before any backend is started
        if args.resume and not (out / "journal.sqlite").exists():
            raise InvalidParameter("--out", str(out), "an existing run directory (with journal.sqlite) for --resume")
        if args.dry_run:
            print(spec.dry_run(price_per_take=args.price))
            return EXIT_OK
        if args.concurrency < 1:
            raise InvalidParameter("--concurrency", args.concurrency, "an integer ≥ 1")
        from zonos_lab.lab import Lab
        from zonos_lab.sweep.runner import Sweep

        with Lab(base_url=args.base_url, backend=args.backend, runs_dir=out.parent) as lab:
            sweep = Sweep(spec, out, lab=lab, concurrency=args.concurrency, requests_per_minute=args.rpm,
                          take_timeout=args.take_timeout, max_takes=args.max_takes, max_cost=args.max_cost,
                          price_per_take=args.price, completion=args.completion, progress=not args.no_progress,
                          resubmit_uncertain=args.resubmit_uncertain, retry_errors=args.retry_errors)
            sweep.run()
    except (InvalidParameter, Unauthorized, FileNotFoundError) as exc:
        print(f"zonos-lab sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InsufficientBalance as exc:
        print(f"zonos-lab sweep: {exc}", file=sys.stderr)
        return EXIT_NO_BALANCE
    except ZonosError as exc:
        print(f"zonos-lab sweep: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(sweep.summary())
    if sweep.stopped_reason == "insufficient_balance":
        return EXIT_NO_BALANCE
    if sweep.stopped_reason in ("unauthorized", "forbidden"):
        return EXIT_BAD_INPUT
    counts = sweep.counts()
    return EXIT_OK if counts and set(counts) == {"COMPLETED"} and sweep.results["audio_path"].notna().all() \
        else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m zonos_lab.sweep.cli SPEC --out DIR`` (same as ``zonos-lab sweep``)."""
    parser = argparse.ArgumentParser(prog="zonos-lab sweep", description=__doc__.splitlines()[0])
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
