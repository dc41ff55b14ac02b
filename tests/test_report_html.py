"""write_report: a self-contained page with the sections the issue asks for, built from a run directory."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from report_fixtures import ANALYSIS_CACHE, build_run, make_run

from zonos_lab.errors import InvalidParameter


class Page(HTMLParser):
    """Collects tags with their attributes, ids and the visible text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


class _Table(HTMLParser):
    def __init__(self, html: str, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data


def read_table(html: str, table_id: str) -> pd.DataFrame:
    """The HTML table with that id as a DataFrame (numbers parsed where possible)."""
    rows = _Table(html, table_id).rows
    assert rows, f"no table #{table_id}"
    df = pd.DataFrame(rows[1:], columns=rows[0])
    for col in df.columns:
        num = pd.to_numeric(df[col].replace("–", None), errors="coerce")
        if num.notna().sum() == df[col].ne("–").sum():
            df[col] = num
    return df


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A run directory whose metrics were computed once (metrics.parquet), reused by the tests."""
    base = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZONOS_LAB_CACHE", str(ANALYSIS_CACHE))
        run = build_run(base / "run")
        from zonos_lab.report import write_report

        write_report(run)
        yield run


@pytest.fixture
def run(scored_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(scored_run, copy)
    return copy


def test_report_is_self_contained_with_every_section(scored_run: Path) -> None:
    html = (scored_run / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    assert {"summary", "comparison", "plots", "takes", "reproducibility", "environment",
            "emulator-banner", "comparison-table", "summary-table", "failures"} <= page.ids()
    # nothing from the network: every src is data:, no stylesheet/script links, no remote hrefs
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("#"):
                assert attrs[key].startswith("data:"), f"<{tag} {key}={attrs[key][:60]}>"
    assert not page.all("link") and not page.all("script")
    imgs = page.all("img")
    assert len(imgs) >= 4
    for img in imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    results = pd.read_parquet(scored_run / "results.parquet")
    ok = results[results["status"] == "COMPLETED"]
    audios = page.all("audio")
    assert sorted(a["data-take"] for a in audios) == sorted(ok["take_id"])
    for a in audios:
        assert a["src"].startswith("data:audio/ogg;base64,")
        assert base64.b64decode(a["src"].split(",", 1)[1])[:4] == b"OggS"
    # the figures are also files
    assert {p.name for p in (scored_run / "figures").glob("*.png")} >= {"spectrogram_grid.png",
                                                                        "compare_mode.png"}


def test_summary_failures_cost_and_environment(scored_run: Path) -> None:
    text = Page((scored_run / "report.html").read_text(encoding="utf-8")).visible
    manifest = json.loads((scored_run / "manifest.json").read_text())
    results = pd.read_parquet(scored_run / "results.parquet")
    failed = results[results["status"] != "COMPLETED"]
    assert len(failed) >= 1
    for _, row in failed.iterrows():
        assert row["take_id"] in text and row["error"] in text
    assert f"{len(results)} planned" in text
    charged = int(results["status"].isin(["COMPLETED", "FAILED"]).sum())
    assert f"{charged} charged takes" in text and "emulated, nothing was paid" in text
    assert "EMULATOR" in text and manifest["model_id"] in text
    assert manifest["environment"]["python"] in text
    for ref in manifest["references"].values():
        assert ref["sha256"] in text
    # the swept values appear, the fixed text too
    assert "accurate, expressive" in text
    assert manifest["spec"]["fixed"]["text"][:40] in text


def test_comparison_table_matches_analysis(scored_run: Path) -> None:
    from zonos_lab.analysis.stats import compare

    html = (scored_run / "report.html").read_text(encoding="utf-8")
    table = read_table(html, "comparison-table")
    metrics = pd.read_parquet(scored_run / "metrics.parquet")
    results = pd.read_parquet(scored_run / "results.parquet").merge(metrics.drop(columns="sha256"),
                                                                    on="take_id")
    results = results[results["status"] == "COMPLETED"]
    expected = compare(results, by="mode", metric=list(table["metric"]))
    assert list(table["level_a"]) == ["accurate"] * len(table) and set(table["level_b"]) == {"expressive"}
    assert list(table["n_pairs"]) == list(expected["n_pairs"])
    for got, exp in zip(table["mean_diff"], expected["mean_diff"], strict=True):
        assert got == pytest.approx(exp, rel=1e-3, abs=1e-3)
    assert "repro-table" not in html and "No request was repeated" in html


def test_repeated_requests_fill_the_reproducibility_table(tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    run = make_run(tmp_path / "synthetic", repeat=True)  # take 8 repeats take 0 (same request and seed)
    html = write_report(run, metrics=["signal"], max_audio=1).read_text(encoding="utf-8")
    table = read_table(html, "repro-table")
    assert len(table) == 1 and int(table["n_audio"].iloc[0]) == 2
    assert set(table["take_ids"].iloc[0].split(",")) == {"t000-acc-T0.8-s1", "t008-acc-T0.8-s1"}
    assert "1 request(s) were sent more than once" in Page(html).visible


def test_metrics_parquet_is_written_and_reused(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zonos_lab.report import write_report

    metrics = pd.read_parquet(run / "metrics.parquet")
    results = pd.read_parquet(run / "results.parquet")
    assert list(metrics["take_id"]) == list(results["take_id"])
    assert {"loudness_lufs", "dnsmos_ovrl", "f0_mean_hz", "speech_s"} <= set(metrics.columns)
    ok = results["status"] == "COMPLETED"
    assert metrics.loc[ok.to_numpy(), "loudness_lufs"].notna().all()
    assert metrics.loc[~ok.to_numpy(), "loudness_lufs"].isna().all()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("analyze called although metrics.parquet covers every take")

    monkeypatch.setattr("zonos_lab.analysis.pipeline.analyze", boom)
    write_report(run, out=run / "again.html")
    assert "metrics.parquet" in (run / "again.html").read_text(encoding="utf-8")


def test_max_audio_and_linked_audio(run: Path) -> None:
    from zonos_lab.report import write_report

    page = Page(write_report(run, out=run / "light.html", max_audio=3).read_text(encoding="utf-8"))
    assert len(page.all("audio")) == 3
    assert "Raise --max-audio" in page.visible
    none = Page(write_report(run, out=run / "none.html", max_audio=0).read_text(encoding="utf-8"))
    assert not none.all("audio")
    assert (run / "none.html").stat().st_size < (run / "light.html").stat().st_size

    out = run / "sub" / "linked.html"
    out.parent.mkdir()
    linked = Page(write_report(run, out=out, embed_audio=False).read_text(encoding="utf-8"))
    srcs = [a["src"] for a in linked.all("audio")]
    assert srcs and all(s.startswith("../audio/") for s in srcs)
    assert all((out.parent / s).is_file() for s in srcs)

    wav = Page(write_report(run, out=run / "wav.html", max_audio=1, audio_codec="wav").read_text(encoding="utf-8"))
    assert wav.all("audio")[0]["src"].startswith("data:audio/wav;base64,")


def test_copied_run_directory_reports_elsewhere(run: Path, tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    moved = tmp_path / "elsewhere" / "moved"
    shutil.move(str(run), moved)
    page = Page(write_report(moved).read_text(encoding="utf-8"))
    results = pd.read_parquet(moved / "results.parquet")
    assert len(page.all("audio")) == int((results["status"] == "COMPLETED").sum())


def test_cloud_run_has_no_emulator_banner_and_unknown_cost(tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    run = make_run(tmp_path / "cloud", emulator=False, failed=False, repeat=False)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["price_per_take"] = None
    manifest["finished_at"] = None
    (run / "manifest.json").write_text(json.dumps(manifest))
    page = Page(write_report(run, metrics=None, max_audio=2).read_text(encoding="utf-8"))
    assert "emulator-banner" not in page.ids() and "failures" not in page.ids()
    assert "EMULATOR" not in page.visible
    assert "unknown (no price per take given)" in page.visible
    assert "No metrics computed" in page.visible
    assert "request(s) were sent more than once" not in page.visible


def test_reproduces_link_points_at_old_report(run: Path, tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    new = tmp_path / "new"
    shutil.copytree(run, new)
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["reproduces"] = str(run)
    (new / "manifest.json").write_text(json.dumps(manifest))
    pd.DataFrame({"take_id": ["a", "b"], "identical": [True, False], "mel_distance_db": [0.0, 3.5]}).to_csv(
        new / "comparison.csv", index=False)
    page = Page(write_report(new, metrics=None, max_audio=0).read_text(encoding="utf-8"))
    links = [a["href"] for a in page.all("a") if not a["href"].startswith("#")]
    assert links == ["../copy/report.html"]
    assert (new / links[0]).resolve() == (run / "report.html").resolve()
    assert re.search(r"1 of 2 takes byte-identical", page.visible)
    assert "reproduce-table" in page.ids()


def test_bad_arguments_are_typed_errors(run: Path, tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    with pytest.raises(InvalidParameter, match="run_dir"):
        write_report(tmp_path)
    with pytest.raises(InvalidParameter, match="max_audio"):
        write_report(run, max_audio=-1)
    with pytest.raises(InvalidParameter, match="audio_codec"):
        write_report(run, audio_codec="mp4")  # type: ignore[arg-type]


def test_report_cli(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zonos_lab.report.cli import main

    out = run / "cli.html"
    assert main([str(run), "--out", str(out), "--max-audio", "1", "--no-embed"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    page = Page(out.read_text(encoding="utf-8"))
    assert [a["src"].startswith("audio/") for a in page.all("audio")] == [True]
    assert main([str(tmp_path / "nothing")]) == 2
    assert "run_dir" in capsys.readouterr().err


def test_notebook_template_file_matches_the_package() -> None:
    import nbformat

    from zonos_lab.report.notebook import template_notebook

    path = Path(__file__).resolve().parents[1] / "notebooks" / "report_template.ipynb"
    stored = nbformat.read(str(path), as_version=4)
    built = template_notebook()
    assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in built.cells]
    params = [c for c in stored.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "run_dir" in params[0].source
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code")
    # every cell that reads the run is skipped by nbval (the file has no run to read)
    for c in stored.cells:
        if c.cell_type == "code" and "data." in c.source:
            assert c.source.startswith("# NBVAL_SKIP\n")
