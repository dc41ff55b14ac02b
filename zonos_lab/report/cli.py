"""``zonos-lab report RUN_DIR``: write the run's self-contained ``report.html`` (or execute the report notebook).

Example:
    $ zonos-lab report runs/study --max-audio 24
    $ zonos-lab report runs/study --notebook
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["configure", "main", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` arguments."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `zonos-lab sweep`")
    parser.add_argument("--out", default=None, help="where to write (default RUN_DIR/report.html, or "
                                                    "RUN_DIR/report.ipynb with --notebook)")
    parser.add_argument("--max-audio", type=int, default=48, metavar="N",
                        help="at most N takes get an audio player (default 48)")
    parser.add_argument("--no-embed", action="store_true",
                        help="link the WAV files instead of embedding the audio (keep the folder together)")
    parser.add_argument("--audio-codec", choices=("opus", "wav"), default="opus",
                        help="embedded audio: Ogg/Opus 96 kb/s (default, small) or the WAV as is")
    parser.add_argument("--metrics", default="core",
                        help="analysis metrics: core (default), fast, all, a comma list, or none")
    parser.add_argument("--notebook", action="store_true",
                        help="execute notebooks/report_template.ipynb with papermill into the run directory")
    parser.add_argument("--progress", action="store_true", help="show the analysis progress bar")


def _metrics(value: str) -> str | list[str] | None:
    value = value.strip()
    if value.lower() in ("none", ""):
        return None
    return value.split(",") if "," in value else value


def run(args: argparse.Namespace) -> int:
    """Write the report; print its path. Exit 0, or 2 for bad input."""
    from zonos_lab.errors import ZonosError

    try:
        if args.notebook:
            from zonos_lab.report.notebook import run_notebook

            path = run_notebook(args.run_dir, out=args.out, metrics=_metrics(args.metrics), progress=args.progress)
        else:
            from zonos_lab.report.html import write_report

            path = write_report(args.run_dir, out=args.out, max_audio=args.max_audio, embed_audio=not args.no_embed,
                                metrics=_metrics(args.metrics), audio_codec=args.audio_codec, progress=args.progress)
    except ZonosError as exc:
        print(f"zonos-lab report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``report`` on its own (tests, ``python -m zonos_lab.report.cli``)."""
    parser = argparse.ArgumentParser(prog="zonos-lab report", description=__doc__.splitlines()[0])
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
