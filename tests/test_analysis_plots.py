"""Plots return Figures (Agg), mark max_tokens, share one colour scale across a grid."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import LJ1, load, write
from matplotlib.figure import Figure

from zonos_lab.analysis import compare, metric_plot, paired_plot, spectrogram, spectrogram_grid
from zonos_lab.params import FRAME_RATE


@pytest.fixture(scope="module")
def grid_table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    d = tmp_path_factory.mktemp("plots")
    y, sr = load(LJ1)
    y = y[: sr * 2]
    rows = []
    for mode, gain in (("accurate", 1.0), ("expressive", 0.25)):
        for t in (0.7, 1.15):
            for seed in (1, 2, 3):
                rows.append({"take_id": f"{mode}-{t}-{seed}", "mode": mode, "temperature": t, "seed": seed,
                             "audio_path": write(d / f"{mode}-{t}-{seed}.wav", y * gain * (1 + seed / 10), sr),
                             "max_tokens": 300, "text": "x", "reference": "r", "language": "en_us",
                             "score": gain * 10 + t + seed / 10})
    return pd.DataFrame(rows)


def test_spectrogram_marks_max_tokens_for_path_and_take(grid_table: pd.DataFrame) -> None:
    fig = spectrogram(str(LJ1), max_tokens=500)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    xs = [line.get_xdata()[0] for line in ax.get_lines()]
    assert any(abs(x - 500 / FRAME_RATE) < 1e-6 for x in xs)
    assert ax.get_xlabel() == "Time (s)"
    take = SimpleNamespace(audio_path=grid_table.loc[0, "audio_path"], params=SimpleNamespace(max_tokens=120),
                           take_id="tk")
    fig2 = spectrogram(take)
    assert any(abs(line.get_xdata()[0] - 120 / FRAME_RATE) < 1e-6 for line in fig2.axes[0].get_lines())
    fig2.canvas.draw()  # renders with Agg


def test_grid_shares_one_colour_scale(grid_table: pd.DataFrame) -> None:
    fig = spectrogram_grid(grid_table, rows="mode", cols="temperature")
    from matplotlib.collections import QuadMesh

    images = [c for ax in fig.axes for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(images) == 4 + 1  # four cells + the shared colour bar
    assert len({c.get_clim() for c in images}) == 1
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "mode = accurate" in titles and "temperature = 1.15" in titles
    fig.canvas.draw()


def test_metric_plot_has_mean_lines_and_bands(grid_table: pd.DataFrame) -> None:
    fig = metric_plot(grid_table, x="temperature", y="score", hue="mode")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel() == "temperature" and ax.get_ylabel() == "score"
    means = sorted(np.mean(line.get_ydata()) for line in ax.get_lines())
    assert means[1] > means[0]


def test_paired_plot_from_compare_and_from_results(grid_table: pd.DataFrame) -> None:
    res = compare(grid_table, by="mode", metric="score", n_boot=200)
    fig = paired_plot(res)
    assert isinstance(fig, Figure) and fig.axes[0].get_yticklabels()
    fig2 = paired_plot(grid_table, by="mode", metric="score")
    assert len(fig2.axes[0].get_lines()) == 6 + 1  # six pairs + the mean line
    fig2.canvas.draw()
