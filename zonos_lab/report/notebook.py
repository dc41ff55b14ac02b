"""The report as a notebook: a parameterised template executed with papermill into the run directory.

The template is built here (so an installed package has it) and also kept, identical, as
``notebooks/report_template.ipynb`` for those who open it by hand. Cells that need a real run
are marked ``# NBVAL_SKIP`` and the stored outputs are empty, so nbval can collect the file.

Example:
    >>> run_notebook("runs/study")         # doctest: +SKIP
    PosixPath('/…/runs/study/report.ipynb')
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from zonos_lab.errors import MissingExtra

__all__ = ["TEMPLATE_CELLS", "run_notebook", "template_notebook", "write_template"]

_SKIP = "# NBVAL_SKIP\n# (needs a real run directory: papermill sets run_dir)\n"

#: (cell type, source, tags) of the report notebook, in order.
TEMPLATE_CELLS: list[tuple[str, str, list[str]]] = [
    ("markdown", "# zonos-lab run report\n\n"
                 "Executed by `zonos-lab report RUN_DIR --notebook` (papermill sets `run_dir` in the next cell). "
                 "To use it by hand, set `run_dir` to a run directory written by `zonos-lab sweep` and run all cells.",
     []),
    ("code", 'run_dir = "runs/example"  # the run directory (papermill parameter)\n'
             'metrics = "core"  # analysis metrics: "core", "fast", "all" or a list\n'
             "max_players = 6  # audio players shown", ["parameters"]),
    ("code", "%matplotlib inline\n"
             "import pandas as pd\n"
             "from IPython.display import HTML, Audio, Markdown, display\n\n"
             'pd.set_option("display.max_columns", 40)\n'
             'pd.set_option("display.width", 160)', []),
    ("code", _SKIP +
     "from zonos_lab.report.html import report_data\n\n"
     "data = report_data(run_dir, metrics)\n"
     "manifest, scored = data.run.manifest, data.scored\n"
     "if data.emulator:\n"
     "    display(HTML('<div style=\"background:#fff4d6;border:2px solid #e0a800;padding:8px;font-weight:600\">'\n"
     "                 'EMULATOR — this audio was produced by the offline zonos-lab emulator '\n"
     "                 f'({manifest.get(\"model_id\")}), not by the Zonos 2 service.</div>'))\n"
     "display(Markdown(f\"## {manifest.get('name')}\\n\\n{(manifest.get('spec') or {}).get('description') or ''}\\n\\n\"\n"
     "                 f\"Backend: {manifest.get('backend')} ({manifest.get('model_id')}); \"\n"
     "                 f\"created {manifest.get('created_at')}, finished {manifest.get('finished_at')}; \"\n"
     "                 f\"swept: {', '.join(data.swept) or 'nothing'}\"))\n"
     "scored['status'].value_counts().rename('takes').to_frame()", []),
    ("markdown", "## Failures and why", []),
    ("code", _SKIP +
     "failed = scored[scored['status'].astype(str) != 'COMPLETED']\n"
     "failed[['take_id', 'status', 'error']] if len(failed) else Markdown('No failed takes.')", []),
    ("markdown", "## Comparison\n\nPaired by every other request field; mean difference B − A with a 95 % "
                 "bootstrap CI and the Wilcoxon signed-rank p-value.", []),
    ("code", _SKIP +
     "from zonos_lab.analysis.stats import compare, summarize\n\n"
     "if data.compare_by and data.metrics:\n"
     "    display(compare(data.completed, by=data.compare_by, metric=data.metrics)[\n"
     "        ['metric', 'level_a', 'level_b', 'n_pairs', 'mean_diff', 'ci_low', 'ci_high', 'p_wilcoxon', 'cohens_dz']])\n"
     "    display(summarize(data.completed, by=data.compare_by, metrics=data.metrics))\n"
     "else:\n"
     "    display(Markdown('Nothing to compare (no swept field besides the seed, or no metrics).'))", []),
    ("markdown", "## Metrics against parameters", []),
    ("code", _SKIP +
     "from zonos_lab.analysis.plots import metric_plot\n\n"
     "numeric = [c for c in data.swept if c in ('temperature', 'top_p', 'min_p', 'top_k', 'max_tokens')]\n"
     "hue = 'mode' if data.completed['mode'].nunique() > 1 else None\n"
     "for x in numeric:\n"
     "    for y in data.metrics[:4]:\n"
     "        display(metric_plot(data.completed, x=x, y=y, hue=hue))", []),
    ("markdown", "## Spectrograms and audio", []),
    ("code", _SKIP +
     "from zonos_lab.analysis.plots import spectrogram_grid\n\n"
     "rows = 'mode' if data.completed['mode'].nunique() > 1 else None\n"
     "cols = next((c for c in data.swept if c not in ('seed', 'mode')), None)\n"
     "if len(data.completed):\n"
     "    display(spectrogram_grid(data.completed, rows=rows, cols=cols))\n"
     "for row in data.completed.sort_values('take_id').head(max_players).itertuples():\n"
     "    display(Markdown(f'**{row.take_id}** — ' + ', '.join(f'{c}={getattr(row, c)}' for c in data.swept\n"
     "                                                           if c not in ('text', 'reference'))))\n"
     "    display(Audio(filename=row.audio_path))", []),
    ("markdown", "## Reproducibility", []),
    ("code", _SKIP +
     "from zonos_lab.analysis.repeats import reproducibility\n\n"
     "rep = reproducibility(data.completed, speaker=False)\n"
     "rep = rep[rep['n_audio'] >= 2]\n"
     "rep if len(rep) else Markdown('No request was repeated with the same seed; run `zonos-lab reproduce` '\n"
     "                              'to re-run every take and compare.')", []),
    ("markdown", "## Environment", []),
    ("code", _SKIP +
     "from zonos_lab.report.environment import environment_rows, package_rows\n\n"
     "display(pd.DataFrame(environment_rows(manifest), columns=['', 'value']))\n"
     "pd.DataFrame(package_rows(manifest), columns=['package', 'in the run', 'now'])", []),
]


def template_notebook() -> Any:
    """The report template as an `nbformat` notebook (outputs empty)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source, tags in TEMPLATE_CELLS:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids: the file does not change when rebuilt
        cell["id"] = f"cell-{i:02d}"
    return nb


def write_template(path: str | os.PathLike[str]) -> Path:
    """Write the template to `path` (used to refresh ``notebooks/report_template.ipynb``)."""
    import nbformat

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(template_notebook(), str(path))
    return path


def run_notebook(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                 metrics: Any = "core", progress: bool = False, kernel_name: str | None = None,
                 timeout: float = 900) -> Path:
    """Execute the report notebook for a run with papermill; returns the executed notebook's path.

    Args:
        run_dir: the run directory (also the working directory of the kernel).
        out: the executed notebook (default ``RUN_DIR/report.ipynb``).
        metrics: analysis metrics (passed as the ``metrics`` parameter).
        progress: papermill's progress bar.
        kernel_name: Jupyter kernel (default: the notebook's, ``python3``).
        timeout: seconds per cell.

    Raises:
        InvalidParameter: when `run_dir` is not a run directory.
        MissingExtra: when papermill is not installed (``pip install zonos-lab[notebook]``).
    """
    from zonos_lab.report.rundir import RunDir

    run = RunDir(run_dir)
    try:
        import papermill
    except ImportError:
        raise MissingExtra("the report notebook", "notebook", "papermill") from None
    out_path = Path(out).resolve() if out is not None else run.path / "report.ipynb"
    with tempfile.TemporaryDirectory(prefix="zonos-report-nb-") as tmp:
        template = write_template(Path(tmp) / "report_template.ipynb")
        papermill.execute_notebook(
            str(template), str(out_path), parameters={"run_dir": str(run.path), "metrics": metrics},
            cwd=str(run.path), progress_bar=progress, kernel_name=kernel_name, execution_timeout=timeout,
            log_output=False, report_mode=False)
    return out_path
