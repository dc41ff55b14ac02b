"""An API key never reaches the disk, the logs, the console, the report or the notebook.

A sweep runs with a distinctive fake key against an emulator that accepts exactly that key; then
every file of the run directories (binary included: journal, parquet, WAV metadata), every log
record, everything printed and the executed report notebook are searched for it. A wrong key's
error must not echo it either.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest
from report_fixtures import ANALYSIS_CACHE, SPEC

SECRET = "sk-ZONOS-SECRET-1234567890"
WRONG = "sk-ZONOS-WRONG-0987654321"
NEEDLES = (SECRET, "ZONOS-SECRET", WRONG, "ZONOS-WRONG")


def _leaks(data: bytes | str) -> list[str]:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    hits = [n for n in NEEDLES if n.encode() in raw]
    # also UTF-16 (Windows-style metadata) and JSON-escaped forms
    hits += [n for n in NEEDLES if n.encode("utf-16-le") in raw]
    return hits


def _scan_tree(root: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            hits = _leaks(path.read_bytes())
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_key_never_written_logged_or_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    from zonos_lab.emulator import Emulator
    from zonos_lab.report import reproduce, write_report
    from zonos_lab.report.cli import main as report_main
    from zonos_lab.sweep.cli import main as sweep_main

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ZONOS_LAB_CACHE", str(ANALYSIS_CACHE))
    spec = dict(SPEC, name="secret-test", parameters={"accurate_mode": {"values": [True, False]}}, seeds=[1])
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    run = tmp_path / "runs" / "secret"
    again = tmp_path / "runs" / "secret-again"

    with Emulator(api_key=SECRET) as emu:
        assert emu.api_key == SECRET
        monkeypatch.setenv("PIXAZO_API_KEY", SECRET)
        code = sweep_main([str(spec_file), "--out", str(run), "--base-url", emu.base_url, "--completion",
                           "webhook"])
        assert code == 0, capfd.readouterr().err
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["endpoint"] == emu.base_url and manifest["counts"] == {"COMPLETED": 2}
        write_report(run, metrics=["signal"])
        res = reproduce(run, again, progress=False, base_url=emu.base_url, api_key=SECRET, metrics=["signal"])
        assert res.all_identical
        assert report_main([str(run), "--notebook", "--metrics", "signal"]) == 0  # zonos-lab report --notebook
        notebook = run / "report.ipynb"

        # a wrong key: the error names the problem, never the key
        monkeypatch.setenv("PIXAZO_API_KEY", WRONG)
        bad = tmp_path / "runs" / "wrong-key"
        code = sweep_main([str(spec_file), "--out", str(bad), "--base-url", emu.base_url])
        assert code != 0
        from zonos_lab.client import ZonosClient
        from zonos_lab.errors import Unauthorized
        from zonos_lab.params import GenerationParams

        with ZonosClient(api_key=WRONG, base_url=emu.base_url) as client, pytest.raises(Unauthorized) as err:
            client.submit(GenerationParams(reference_audio_url=f"{emu.base_url}/nothing.wav", seed=1))
        assert not _leaks(str(err.value) + repr(err.value) + "".join(traceback.format_exception(err.value)))
        assert not _leaks(repr(client))

    printed = capfd.readouterr()
    assert "COMPLETED" in notebook.read_text() or "completed" in printed.out  # the things scanned are real
    leaks = {**_scan_tree(run), **{f"again/{k}": v for k, v in _scan_tree(again).items()},
             **{f"wrong/{k}": v for k, v in (_scan_tree(bad) if bad.exists() else {}).items()}}
    assert not leaks, f"key found in files: {leaks}"
    assert not _leaks(printed.out) and not _leaks(printed.err), "key printed to stdout/stderr"
    logged = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
                       for r in caplog.records)
    assert caplog.records, "nothing was logged: the log scan would be vacuous"
    assert not _leaks(logged), "key in a log record"
    nb_text = notebook.read_text(encoding="utf-8")
    assert '"run_dir"' in nb_text or "run_dir" in nb_text
    assert not _leaks(nb_text), "key in the report notebook"
    assert (run / "report.html").stat().st_size > 10_000
