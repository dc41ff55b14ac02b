"""The ``zonos-lab`` command: ``demo | sweep | report | reproduce | emulator | doctor``.

Each subcommand lives in its own module, which defines ``configure(parser)`` and ``run(args) -> int``;
this file only dispatches, so ``zonos-lab --help`` stays fast.

Example:
    $ zonos-lab emulator --port 8787
    $ zonos-lab sweep study.toml --out runs/study
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand → (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("zonos_lab.demo", "Run the flagship accurate-vs-expressive study on the emulator, with a report."),
    "emulator": ("zonos_lab.emulator.cli", "Run the offline Zonos 2 emulator on loopback (EMULATOR — not Zonos)."),
    "sweep": ("zonos_lab.sweep.cli", "Run or resume a sweep from a TOML/YAML/JSON spec into a run directory."),
    "report": ("zonos_lab.report.cli", "Write a run's self-contained HTML report (or --notebook)."),
    "reproduce": ("zonos_lab.report.cli_reproduce", "Re-run a run's takes with the same seeds and compare."),
    "doctor": ("zonos_lab.doctor", "Show what this installation can do and what to install for the rest."),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    from zonos_lab import __version__

    parser = argparse.ArgumentParser(
        prog="zonos-lab",
        description="Sweeps, analysis and reports for the Zonos 2 TTS API (offline emulator by default).",
    )
    parser.add_argument("--version", action="version", version=f"zonos-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).configure(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zonos-lab`` console script. Returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
