"""reproduce: the same takes, the same seeds, on the recorded backend; identical on the emulator,
different (and measured) when the emulator injects batch nondeterminism."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from report_fixtures import ANALYSIS_CACHE, emulator_sweep

from zonos_lab.errors import InvalidParameter


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZONOS_LAB_CACHE", str(ANALYSIS_CACHE))
        run = tmp_path_factory.mktemp("repro") / "original"
        emulator_sweep(run)
        yield run.resolve()


def test_cli_reproduce_on_the_emulator_is_identical(original: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from zonos_lab.report.cli_reproduce import main

    new = tmp_path / "again"
    code = main([str(original), "--out", str(new), "--metrics", "signal,loudness", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    old_results = pd.read_parquet(original / "results.parquet")
    n = len(old_results)
    assert f"{n} of {n} takes identical" in out

    table = pd.read_csv(new / "comparison.csv")
    assert sorted(table["take_id"]) == sorted(old_results["take_id"])
    assert table["identical"].all()
    assert (table["pcm_sha256_old"] == table["pcm_sha256_new"]).all()
    assert (table["mel_distance_db"] == 0).all() and (table["duration_delta_s"] == 0).all()
    deltas = [c for c in table.columns if c.startswith("delta_")]
    assert "delta_loudness_lufs" in deltas and (table[deltas].fillna(0) == 0).all().all()

    manifest = json.loads((new / "manifest.json").read_text())
    assert manifest["reproduces"] == str(original) and manifest["emulator"] is True
    old_trials = {t["take_id"]: t["request"]["seed"] for t in json.loads((original / "manifest.json").read_text())["trials"]}
    assert {t["take_id"]: t["request"]["seed"] for t in manifest["trials"]} == old_trials

    html = (new / "report.html").read_text(encoding="utf-8")
    assert 'id="reproduces"' in html and "reproduce-table" in html
    assert f"{n} of {n} takes byte-identical" in html
    href = html.split('id="reproduces"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    assert (new / href).resolve() == original


def test_reproduce_with_nondeterminism_measures_the_differences(original: Path, tmp_path: Path) -> None:
    from zonos_lab.emulator import Emulator, EmulatorConfig
    from zonos_lab.report import reproduce

    with Emulator(config=EmulatorConfig(nondeterministic=True)) as emu:
        res = reproduce(original, tmp_path / "nd", emulator=emu, progress=False, metrics=["signal"], report=False)
    table = res.table
    assert not res.all_identical
    different = table[table["identical"] == False]  # noqa: E712 (nullable boolean)
    assert len(different) >= len(table) // 2
    assert (different["pcm_sha256_old"] != different["pcm_sha256_new"]).all()
    assert (different["mel_distance_db"] > 0.5).all(), different["mel_distance_db"].tolist()
    assert "different" in res.summary and f"{res.n_identical} of {len(table)}" in res.summary
    back = pd.read_csv(res.run_dir / "comparison.csv")
    assert back["mel_distance_db"].tolist() == pytest.approx(table["mel_distance_db"].tolist(), nan_ok=True)
    assert not (res.run_dir / "report.html").exists()


def test_reproduce_refuses_bad_targets(original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zonos_lab.report import reproduce

    with pytest.raises(InvalidParameter, match="out"):
        reproduce(original, original, progress=False)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "manifest.json").write_text("{}")
    with pytest.raises(InvalidParameter, match="already holds a run"):
        reproduce(original, occupied, progress=False)

    cloud = tmp_path / "cloud"
    shutil.copytree(original, cloud)
    manifest = json.loads((cloud / "manifest.json").read_text())
    manifest.update(backend="cloud", emulator=False, endpoint="https://api.example.invalid")
    (cloud / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.delenv("PIXAZO_API_KEY", raising=False)
    with pytest.raises(InvalidParameter, match="api_key"):
        reproduce(cloud, tmp_path / "cloud-again", progress=False)

    edited = tmp_path / "edited"
    shutil.copytree(original, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["trials"][0]["request"]["seed"] = 999
    (edited / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidParameter, match="recorded"):
        reproduce(edited, tmp_path / "edited-again", progress=False)
    assert not (tmp_path / "edited-again").exists()
