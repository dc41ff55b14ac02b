"""``zonos-lab demo``: the flagship study, end to end, on the embedded emulator.

Accurate vs expressive mode over several texts × two reference voices × seeds: generate (a resumable
sweep in a run directory), analyse (offline metrics), compare (paired statistics with CIs) and write
the self-contained HTML report. Prints the report's path and a three-line summary.

Example:
    $ zonos-lab demo --out runs/demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zonos_lab.errors import ZonosError

#: The data directory shipped with the repository (reference voices with attribution in data/SOURCES.md).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

DEMO_TEXTS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Could you tell me the way to the station, please?",
    "We measured every take twice, and the results surprised us.",
)
DEMO_VOICES: tuple[str, ...] = ("voices/AmericanFemale.mp3", "voices/AmericanMale.mp3")


def _portable(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (take ids hash the reference as given,
    so relative paths keep them the same wherever the repository is checked out), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def flagship_spec(*, seeds: int = 3, texts: tuple[str, ...] = DEMO_TEXTS,
                  data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """The accurate-vs-expressive study as a sweep spec dict (grid over texts × voices × mode × seeds).

    Example:
        >>> spec = flagship_spec(seeds=2)
        >>> spec["method"], len(spec["texts"]), spec["seeds"]
        ('grid', 3, 2)
    """
    return {
        "name": "accurate-vs-expressive",
        "description": "Flagship study: does accurate mode stay closer to the reference voice, and does "
                       "expressive mode vary prosody more? Texts x voices x mode x seeds.",
        "method": "grid",
        "parameters": {"accurate_mode": {"values": [True, False]}},
        "fixed": {"language": "en_us", "max_tokens": 1200},
        "texts": list(texts),
        "references": [_portable(data_dir / v) for v in DEMO_VOICES],
        "seeds": seeds,
        "sweep_seed": 2026,
    }


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``zonos-lab demo``."""
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per condition (default: 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="takes in flight (default: 4)")
    parser.add_argument("--metrics", default="core", help="metric set: fast | core | all (default: core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_demo(out: str | Path = "runs/demo", *, seeds: int = 3, concurrency: int = 4, metrics: str = "core",
             progress: bool = True) -> dict[str, Any]:
    """Run the flagship study on the embedded emulator; return paths and headline numbers.

    Example:
        >>> summary = run_demo("runs/demo", seeds=1, progress=False)   # doctest: +SKIP
        >>> summary["report"].name
        'report.html'
    """
    from zonos_lab.analysis import analyze, compare
    from zonos_lab.lab import Lab
    from zonos_lab.report import write_report

    out = Path(out)
    with Lab(backend="emulator") as lab:
        sweep = lab.sweep(flagship_spec(seeds=seeds), out=out, concurrency=concurrency, progress=progress)
        results = sweep.run()
    ok = results[results["status"] == "COMPLETED"]
    analysed = analyze(ok, metrics=metrics, progress=progress) if len(ok) else ok
    table = None
    if len(analysed) and "f0_std_st" in analysed:
        table = compare(analysed, by="mode", metric="f0_std_st")
    report = write_report(out, metrics=metrics)
    return {"run_dir": out, "report": report, "results": results, "analysed": analysed, "compare": table}


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    results = summary["results"]
    n = len(results)
    done = int((results["status"] == "COMPLETED").sum())
    lines = [f"takes: {done}/{n} completed on the EMULATOR (not Zonos 2) in {summary['run_dir']}"]
    table = summary["compare"]
    if table is not None and len(table):
        row = table.iloc[0]
        lines.append(
            f"prosody variation (F0 std, semitones): {row['level_a']} {row['mean_a']:.2f} vs {row['level_b']} "
            f"{row['mean_b']:.2f}, diff {row['mean_diff']:+.2f} [95% CI {row['ci_low']:+.2f}, "
            f"{row['ci_high']:+.2f}], Wilcoxon p={row['p_wilcoxon']:.3g}, n={int(row['n_pairs'])} pairs")
    else:
        lines.append("no completed pairs to compare")
    lines.append(f"report: {summary['report']}")
    return lines


def run(args: argparse.Namespace) -> int:
    """``zonos-lab demo``: run the study, print the report path and a three-line summary."""
    try:
        summary = run_demo(args.out, seeds=args.seeds, concurrency=args.concurrency, metrics=args.metrics,
                           progress=not args.no_progress)
    except ZonosError as exc:
        print(f"zonos-lab demo: {exc}", file=sys.stderr)
        return 1
    for line in _summary_lines(summary):
        print(line)
    return 0
