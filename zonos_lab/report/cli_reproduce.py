"""``zonos-lab reproduce RUN_DIR``: re-run a run's takes with the same seeds and compare them with the originals.

Example:
    $ zonos-lab reproduce runs/study --out runs/study-again
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["configure", "main", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``reproduce`` arguments."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory to reproduce")
    parser.add_argument("--out", default=None, help="the new run directory (default RUN_DIR-repro-<time>)")
    parser.add_argument("--metrics", default="core",
                        help="metrics whose deltas to report: core (default), fast, a comma list, or none")
    parser.add_argument("--no-report", action="store_true", help="do not write the new run's report.html")
    parser.add_argument("--concurrency", type=int, default=None, help="takes in flight (default: as recorded)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Reproduce; print the summary and where the comparison is. Exit 0 when every take is identical,
    1 when some differ, 2 for bad input."""
    from zonos_lab.errors import ZonosError
    from zonos_lab.report.cli import _metrics
    from zonos_lab.report.repro import reproduce

    try:
        res = reproduce(args.run_dir, args.out, progress=not args.quiet, metrics=_metrics(args.metrics),
                        report=not args.no_report, concurrency=args.concurrency)
    except ZonosError as exc:
        print(f"zonos-lab reproduce: {exc}", file=sys.stderr)
        return 2
    print(res.summary)
    print(f"comparison: {res.run_dir / 'comparison.csv'}")
    if res.report is not None:
        print(f"report: {res.report}")
    return 0 if res.all_identical else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reproduce`` on its own."""
    parser = argparse.ArgumentParser(prog="zonos-lab reproduce", description=__doc__.splitlines()[0])
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
