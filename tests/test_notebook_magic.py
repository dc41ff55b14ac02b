"""The %zonos / %%zonos magics through IPython's InteractiveShell (a fake Lab, then the real emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from notebook_fixtures import CLIPS, make_take

from zonos_lab.notebook.magic import magics_of
from zonos_lab.params import seconds_to_frames
from zonos_lab.sweep import SweepSpec
from zonos_lab.take import Take

REF = str(CLIPS[0])


class FakeSweep:
    def __init__(self, spec: dict[str, Any], out: Path, kwargs: dict[str, Any]) -> None:
        self.spec_dict, self.run_dir, self.kwargs = spec, Path(out), kwargs
        self.spec = SweepSpec.from_dict(spec)
        self.trials = self.spec.expand()
        self.results = pd.DataFrame()
        self.done = True

    def run(self) -> pd.DataFrame:
        rows = []
        for k, t in enumerate(self.trials):
            p = t.params.model_dump()
            p.pop("reference_audio_url")
            rows.append({**make_take(self.run_dir / "audio", t.take_id, i=k, seconds=0.4, **p).to_row(),
                         **t.coords})
        self.results = pd.DataFrame(rows)
        return self.results

    def _repr_html_(self) -> str:  # as the real Sweep does
        from zonos_lab.notebook.display import sweep_html

        return sweep_html(self)


class FakeLab:
    backend = "emulator"

    def __init__(self, audio_dir: Path) -> None:
        self.audio_dir, self.says, self.sweeps = audio_dir, [], []

    def say(self, text: str, ref: str | None = None, **params: Any) -> Take:
        self.says.append({"text": text, "ref": ref, **params})
        return make_take(self.audio_dir, f"say{len(self.says)}", text=text, **params)

    def sweep(self, spec: dict[str, Any], out: Path, **kw: Any) -> FakeSweep:
        self.sweeps.append(FakeSweep(spec, out, kw))
        return self.sweeps[-1]

    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def ip(tmp_path: Path):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "zonos_lab")
    m = magics_of(shell)
    m.settings = {"backend": "auto", "ref": None, "runs_dir": str(tmp_path / "runs"), "defaults": {}}
    m.lab = FakeLab(tmp_path / "takes")
    yield shell
    m.lab = None


def html_outputs(cap) -> list[str]:
    return [o.data["text/html"] for o in cap.outputs if "text/html" in o.data]


def test_line_magic_generates_displays_and_returns_a_take(ip) -> None:
    lab = magics_of(ip).lab
    with capture_output() as cap:
        res = ip.run_cell(f"take = %zonos Hello there, friend. --ref {REF} --expressive --seed 7 --temperature 1.3",
                          store_history=True)
    assert res.success, res.error_in_exec
    take = ip.user_ns["take"]
    assert isinstance(take, Take) and take.ok
    assert lab.says[-1] == {"text": "Hello there, friend.", "ref": REF, "accurate_mode": False, "seed": 7,
                            "temperature": 1.3}
    shown = html_outputs(cap)
    assert len(shown) == 1 and "<audio" in shown[0] and "expressive" in shown[0]
    # as the cell's last expression it is shown once, by IPython (not twice)
    with capture_output() as cap2:
        res2 = ip.run_cell(f"%zonos 'Quoted -- text' --ref {REF} --seconds 2", store_history=True)
    assert res2.success and isinstance(res2.result, Take) and html_outputs(cap2) == []
    assert lab.says[-1]["text"] == "Quoted -- text" and lab.says[-1]["max_tokens"] == seconds_to_frames(2)


def test_config_sets_session_defaults(ip, tmp_path: Path) -> None:
    m = magics_of(ip)
    lab = m.lab
    with capture_output() as cap:
        ip.run_line_magic("zonos", f"config --ref {REF} --language fr_fr --temperature 0.9 --expressive")
    assert "language=fr_fr" in cap.stdout and m.settings["ref"] == REF
    ip.run_line_magic("zonos", "Bonjour à tous. --seed 1 --no-display")
    call = lab.says[-1]
    assert (call["ref"], call["language"], call["temperature"], call["accurate_mode"]) == (REF, "fr_fr", 0.9, False)
    ip.run_line_magic("zonos", "Bonjour. --temperature 1.5 --accurate --no-display")  # per-call options win
    assert lab.says[-1]["temperature"] == 1.5 and lab.says[-1]["accurate_mode"] is True
    ip.run_line_magic("zonos", "config --backend emulator")
    assert m.settings["backend"] == "emulator" and m._lab is lab  # a Lab already on that backend is kept
    ip.run_line_magic("zonos", "config --backend cloud")
    assert m._lab is None and not lab.closed  # dropped, but not closed: the caller owns it
    ip.run_line_magic("zonos", "config --reset")
    assert m.settings["defaults"] == {} and m.settings["ref"] is None


def test_argument_errors_are_short_usage_messages(ip) -> None:
    lab = magics_of(ip).lab
    for line, needle in [
        ("Hello --temperature 5", "temperature"),
        ("Hello --temperature hot", "invalid float"),
        ("Hello --bogus 1", "unrecognized"),
        ("Hello --language xx", "invalid choice"),
        ("--seed 3", "no text"),
        ("Hello --expressive --accurate", "exclude"),
        ("Hello --ref 'no/such/file.wav'", "not found"),
        ("Hello --sweep temperature=0.8,9", "temperature"),
        ("Hello --sweep colour=red", "--sweep"),
        ("Hello --ref 'unbalanced", "quotes"),
    ]:
        with pytest.raises(UsageError, match=needle):
            ip.run_line_magic("zonos", line)
    assert lab.says == [] and lab.sweeps == []
    with capture_output() as cap:
        res = ip.run_cell("%zonos Hello --top-k -4", store_history=True)
    assert isinstance(res.error_in_exec, UsageError)
    assert "UsageError" in cap.stderr and "top_k" in cap.stderr and "Traceback" not in cap.stderr + cap.stdout
    assert "usage:" in cap.stderr


def test_help_is_available(ip) -> None:
    doc = ip.find_line_magic("zonos").__doc__
    for needle in ("--sweep", "--seeds", "--ref", "config", "--expressive", "%%zonos"):
        assert needle in doc


def test_cell_magic_runs_a_sweep_and_shows_grid_and_table(ip, tmp_path: Path) -> None:
    lab = magics_of(ip).lab
    cell = ("%%zonos --ref " + REF + " --sweep temperature=0.8,1.2 --sweep mode=accurate,expressive --seeds 2 "
            f"--out {tmp_path / 'sw'} --as sw\nThe quick brown fox\njumps over the lazy dog.\n")
    with capture_output() as cap:
        res = ip.run_cell(cell, store_history=True)
    assert res.success, res.error_in_exec
    sweep = res.result
    assert sweep is ip.user_ns["sw"] and sweep is lab.sweeps[-1]
    spec = sweep.spec_dict
    assert spec["texts"] == ["The quick brown fox jumps over the lazy dog."] and spec["seeds"] == 2
    assert spec["parameters"] == {"temperature": {"values": [0.8, 1.2]}} and spec["mode"] == ["accurate", "expressive"]
    assert spec["references"] == [REF] and sweep.run_dir == tmp_path / "sw"
    assert len(sweep.results) == 8 and set(sweep.results.status) == {"COMPLETED"}
    grids = [h for h in html_outputs(cap) if "zonos-grid" in h]
    assert len(grids) == 1 and "temperature = 0.8" in grids[0] and "mode = expressive" in grids[0]
    # --lines: one text per line, and a dry run only counts
    res = ip.run_cell("%%zonos --lines --seeds 1,2,3 --dry-run --price 0.5\nFirst line.\nSecond line.\n",
                      store_history=True)
    dry = res.result
    assert dry.n_takes == 2 * 3 and dry.cost == pytest.approx(3.0) and len(lab.sweeps) == 1


def test_line_magic_with_sweep_options(ip) -> None:
    lab = magics_of(ip).lab
    with capture_output() as cap:
        res = ip.run_cell(f"sw = %zonos Hi there. --ref {REF} --sweep top_k=50,500 --seeds 1", store_history=True)
    assert res.success, res.error_in_exec
    assert ip.user_ns["sw"] is lab.sweeps[-1] and len(lab.sweeps[-1].results) == 2
    html = "".join(html_outputs(cap))
    assert "zonos-grid" in html and "zonos-sweep" in html  # grid and table shown even when assigned


@pytest.mark.timeout(240)
def test_real_emulator_end_to_end(tmp_path: Path) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "zonos_lab")
    m = magics_of(shell)
    m.lab = None
    m.settings = {"backend": "auto", "ref": None, "runs_dir": str(tmp_path / "runs"), "defaults": {}}
    try:
        shell.run_line_magic("zonos", f"config --backend emulator --ref {REF}")
        with capture_output():
            take = shell.run_line_magic("zonos", "Good morning. --seed 11 --max-tokens 300")
        assert take.ok and take.backend == "emulator" and take.seed == 11 and take.duration > 0.2
        with capture_output() as cap:
            res = shell.run_cell("%%zonos --sweep mode=accurate,expressive --seeds 1 --max-tokens 200\nHi.\n",
                                 store_history=True)
        assert res.success, res.error_in_exec
        df = res.result.results
        assert len(df) == 2 and set(df.status) == {"COMPLETED"}
        grid = next(h for h in html_outputs(cap) if "zonos-grid" in h)
        assert grid.count("<audio") == 2 and "EMULATOR" in grid
        # running the same cell again resumes the same run directory: nothing is sent or paid twice
        posts = m.lab.emulator.stats()["posts"]
        with capture_output():
            again = shell.run_cell("%%zonos --sweep mode=accurate,expressive --seeds 1 --max-tokens 200\nHi.\n",
                                   store_history=True).result
        assert again.run_dir == res.result.run_dir and m.lab.emulator.stats()["posts"] == posts
        assert list(again.results.sha256) == list(df.sha256)
    finally:
        m.lab = None  # closes the Lab (and its emulator) the magic started
