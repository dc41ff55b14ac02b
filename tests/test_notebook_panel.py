"""The ipywidgets panel, driven from pytest: set values, click buttons, read Outputs and tables."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from notebook_fixtures import CLIPS, make_take

from zonos_lab.errors import InsufficientBalance
from zonos_lab.notebook import app as panel_mod
from zonos_lab.notebook.app import ZonosPanel, parse_seeds, parse_values
from zonos_lab.params import FIELD_SPECS, LANGUAGES, frames_to_seconds
from zonos_lab.sweep import SweepSpec
from zonos_lab.take import Take


def until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


class FakeLab:
    backend = "emulator"

    def __init__(self, audio_dir: Path, gate: threading.Event | None = None) -> None:
        self.audio_dir, self.gate, self.calls, self.fail = audio_dir, gate, [], None

    def say(self, text: str, ref: str | None = None, **params: Any) -> Take:
        self.calls.append({"text": text, "ref": ref, **params})
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        return make_take(self.audio_dir, f"say{len(self.calls)}", text=text, **params)


class FakeSweep:
    """Expands the real spec; completes one take per `step` release; honours cancel()."""

    def __init__(self, spec: dict[str, Any], run_dir: Path, step: threading.Semaphore) -> None:
        self.spec_dict, self.run_dir, self.step = spec, Path(run_dir), step
        self.trials = SweepSpec.from_dict(spec).expand()
        self.rows = [{**Take(t.params, take_id=t.take_id).to_row(), **t.coords} for t in self.trials]
        self.cancelled = False
        self._thread: threading.Thread | None = None

    @property
    def results(self):
        import pandas as pd

        return pd.DataFrame(list(self.rows))

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def start(self) -> FakeSweep:
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()
        return self

    def _work(self) -> None:
        for k, trial in enumerate(self.trials):
            while not self.step.acquire(timeout=0.01):
                if self.cancelled:
                    break
            if self.cancelled:
                for j in range(k, len(self.rows)):
                    if self.rows[j]["status"] == "PLANNED":
                        self.rows[j] = {**self.rows[j], "status": "CANCELLED"}
                return
            p = trial.params.model_dump()
            p.pop("reference_audio_url")
            take = make_take(self.run_dir / "audio", trial.take_id, i=k, seconds=0.4 + 0.1 * k, **p)
            self.rows[k] = {**take.to_row(), **trial.coords}

    def wait(self, timeout: float | None = None):
        assert self._thread is not None
        self._thread.join(timeout)
        return self.results

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture(autouse=True)
def fast_refresh(monkeypatch) -> None:
    monkeypatch.setattr(panel_mod, "REFRESH_SECONDS", 0.01)


def make_panel(tmp_path: Path, lab: Any = None, **kw: Any) -> ZonosPanel:
    return ZonosPanel(lab or FakeLab(tmp_path / "say"), runs_dir=tmp_path / "runs",
                      data_roots=[CLIPS[0].parents[1]], **kw)


def test_generate_tab_uses_the_spec_ranges(tmp_path: Path) -> None:
    p = make_panel(tmp_path)
    for name in ("temperature", "top_p", "min_p", "top_k"):
        s = getattr(p, name)
        spec = FIELD_SPECS[name]
        assert (s.min, s.max, s.value) == (spec.minimum, spec.maximum, spec.default), name
    assert tuple(p.language.options) == LANGUAGES and p.max_tokens.max == FIELD_SPECS["max_tokens"].maximum
    assert p.seed.max == FIELD_SPECS["seed"].maximum
    assert p.max_tokens.disabled and "max_tokens" not in p.settings()
    p.limit.value = True
    p.max_tokens.value = 431
    assert not p.max_tokens.disabled and p.settings()["max_tokens"] == 431
    assert f"{frames_to_seconds(431):.2f} s" in p.max_seconds.value
    seeds = {p.seed.value}
    for _ in range(3):
        p.randomize.click()
        seeds.add(p.seed.value)
    assert len(seeds) > 1
    assert any(str(c.name) in label for label, _ in p.ref_file.options for c in CLIPS)
    assert p._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id


def test_generate_runs_in_the_background_and_shows_the_take(tmp_path: Path) -> None:
    gate = threading.Event()
    lab = FakeLab(tmp_path / "say", gate)
    p = make_panel(tmp_path, lab)
    p.text.value = "A short test sentence."
    p.mode.value = "expressive"
    p.temperature.value = 1.3
    p.seed.value = 7
    p.language.value = "en_gb"
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    cap = capture_output()
    captured = cap.__enter__()
    p._ipython_display_()  # widgets + a plain-HTML record that is updated in place
    p.generate_button.click()
    # the click returned while the take is still being made: the kernel is free
    assert p.gen_thread is not None and p.gen_thread.is_alive() and p.generate_button.disabled
    p.generate_button.click()  # a second click while busy does not start another take
    gate.set()
    p.wait()
    assert len(lab.calls) == 1
    call = lab.calls[0]
    assert call["text"] == "A short test sentence." and call["ref"] == p.ref_file.value
    assert (call["accurate_mode"], call["temperature"], call["seed"], call["language"]) == (False, 1.3, 7, "en_gb")
    html = p.gen_out.outputs[-1]["data"]["text/html"]
    assert "<audio" in html and "expressive" in html and "EMULATOR" in html
    assert ">7<" in p.seed_used.value and not p.generate_button.disabled
    assert p.last_take is not None and p.last_take.ok and "Done" in p.gen_status.value
    cap.__exit__(None, None, None)
    # the record (ordinary cell output, saved with the notebook) now holds the take's player
    html_out = [o.data.get("text/html", "") for o in captured.outputs]
    assert len(captured.outputs) == 3 and html_out[1] == ""  # widget, empty record, record update
    assert p.last_take.take_id in html_out[2] and "<audio" in html_out[2] and html_out[2] == p.record_html()


def test_errors_are_plain_words_and_logged(tmp_path: Path, caplog) -> None:
    lab = FakeLab(tmp_path / "say")
    lab.fail = InsufficientBalance("Insufficient balance", status_code=402, hint="Top up your account.")
    p = make_panel(tmp_path, lab)
    with caplog.at_level("ERROR", logger="zonos_lab.notebook.app"):
        p.generate_button.click()
        p.wait()
    assert "Insufficient balance" in p.gen_status.value and "Top up" in p.gen_status.value
    assert "Traceback" not in p.gen_status.value and p.gen_out.outputs == ()
    assert any(r.exc_info for r in caplog.records)
    # bad input is refused before the lab is called
    n = len(lab.calls)
    p.text.value = "   "
    p.generate_button.click()
    assert p.gen_thread is None or not p.gen_thread.is_alive()
    assert len(lab.calls) == n and "text" in p.gen_status.value
    p.text.value = "Hello."
    p.ref_file.value = ""
    p.generate_button.click()
    assert len(lab.calls) == n and "reference" in p.gen_status.value


def test_reference_sources_upload_path_url(tmp_path: Path) -> None:
    p = make_panel(tmp_path)
    assert p.reference() == p.ref_file.value
    p.ref_path.value = "https://example.org/v.mp3"
    assert p.reference() == "https://example.org/v.mp3"
    data = CLIPS[0].read_bytes()
    p.ref_upload.value = ({"name": "my voice.wav", "type": "audio/wav", "size": len(data),
                           "content": memoryview(data), "last_modified": datetime.now()},)
    ref = Path(p.reference())
    assert ref.read_bytes() == data and ref.parent == tmp_path / "runs" / "uploads"
    assert "my voice.wav" in p.ref_used.value


def test_sweep_tab_counts_takes_and_cost_and_refuses_bad_values(tmp_path: Path) -> None:
    p = make_panel(tmp_path)
    spec = p.sweep_spec()
    n = len(SweepSpec.from_dict(spec).expand())
    assert n == 3 * 2 * 2  # temperature × mode × 2 seeds
    assert f"<b>{n}</b> takes" in p.count.value and "set a price" in p.count.value
    p.price.value = 0.25
    assert f"cost {n * 0.25:.2f}" in p.count.value
    p.sweep_fields["top_k"][0].value = True  # 3 more levels
    assert f"<b>{n * 3}</b> takes" in p.count.value
    temp_box = p.sweep_fields["temperature"][1]
    temp_box.value = "0.8, 5"
    assert "temperature" in p.count.value and "0 to 2" in p.count.value and p.run_button.disabled
    temp_box.value = "0.8, 1.6"
    assert not p.run_button.disabled
    assert "top_k" not in p.sweep_spec()["fixed"] and p.sweep_spec()["parameters"]["temperature"]["values"] == [0.8, 1.6]
    assert parse_seeds("3") == 3 and parse_seeds("1, 2, 7") == [1, 2, 7]
    assert parse_values("clean_speaker_background", "false, true") == [False, True]
    with pytest.raises(Exception, match="mode"):
        parse_values("mode", "accurate, loud")


def test_sweep_fills_the_table_live_cancels_and_resumes(tmp_path: Path) -> None:
    step = threading.Semaphore(0)
    made: list[FakeSweep] = []

    def factory(spec: dict[str, Any], out: Path) -> FakeSweep:
        made.append(FakeSweep(spec, out, step))
        return made[-1]

    p = make_panel(tmp_path, sweep_factory=factory)
    p.sweep_fields["temperature"][1].value = "0.8, 1.2"
    p.seeds.value = "1, 2"
    p.run_button.click()
    assert p.sweep_thread is not None and p.run_button.disabled and not p.cancel_button.disabled
    until(lambda: made and p.progress.max == 8)
    assert p.progress.value == 0
    step.release()
    step.release()
    until(lambda: p.progress.value == 2 and p.table.value.count("COMPLETED") == 2)
    assert "0.8" in p.table.value or "1.2" in p.table.value
    p.cancel_button.click()
    p.wait()
    assert made[0].cancelled and "Cancelled" in p.sweep_status.value and not p.resume_button.disabled
    assert p.progress.value == 8 and "CANCELLED" in p.sweep_status.value
    run_dir = made[0].run_dir
    assert run_dir.parent == tmp_path / "runs"
    # Resume: same spec, same run directory
    for _ in range(8):
        step.release()
    p.resume_button.click()
    p.wait()
    assert len(made) == 2 and made[1].run_dir == run_dir and made[1].spec_dict == made[0].spec_dict
    assert "Finished" in p.sweep_status.value and p.table.value.count("COMPLETED") == 8
    # the comparison plot
    assert "duration" in p.metric.options and p.by.value in ("temperature", "mode")
    p.metric.value = "duration"
    p.by.value = "temperature"
    p.plot_button.click()
    assert "data:image/png;base64," in p.plot_out.outputs[-1]["data"]["text/html"]


def test_sweep_failure_is_reported_in_words(tmp_path: Path) -> None:
    def factory(spec: dict[str, Any], out: Path) -> Any:
        raise InsufficientBalance("Insufficient balance", status_code=402, hint="Top up your account.")

    p = make_panel(tmp_path, sweep_factory=factory)
    p.run_button.click()
    p.wait()
    assert "Insufficient balance" in p.sweep_status.value and "Traceback" not in p.sweep_status.value
    assert not p.run_button.disabled


@pytest.mark.timeout(300)
def test_real_lab_generate_sweep_cancel_resume(tmp_path: Path, monkeypatch) -> None:
    from zonos_lab.emulator import EmulatorConfig
    from zonos_lab.lab import Lab

    monkeypatch.chdir(tmp_path)
    with Lab(backend="emulator", runs_dir=tmp_path / "runs",
             emulator_config=EmulatorConfig(concurrency=1, processing_latency=0.4)) as lab:
        p = ZonosPanel(lab, data_roots=[CLIPS[0].parents[1]])
        assert "EMULATOR" in p.banner.value
        p.text.value = "Good evening."
        p.limit.value = True
        p.max_tokens.value = 200
        p.seed.value = 5
        p.generate()
        p.wait(120)
        assert p.last_take is not None and p.last_take.ok, p.gen_status.value
        assert p.last_take.seed == 5 and p.last_take.backend == "emulator"
        assert "<audio" in p.gen_out.outputs[-1]["data"]["text/html"]
        posts_before = lab.emulator.stats()["posts"]
        # a 6-take sweep, one take at a time on the server: cancel after the first, then resume
        p.sweep_fields["temperature"][1].value = "0.8, 1.0, 1.2"
        p.seeds.value = "1"
        p.texts.value = "Hi."
        p.run_sweep(tmp_path / "runs" / "sw")
        until(lambda: p.progress.value >= 1, 120)
        p.cancel_sweep()
        p.wait(120)
        df = p.sweep.results
        done_first = int((df.status == "COMPLETED").sum())
        assert 1 <= done_first < 6 and "Cancelled" in p.sweep_status.value
        p.resume_button.click()
        p.wait(120)
        df = p.sweep.results
        assert (df.status == "COMPLETED").sum() == 6 and "Finished" in p.sweep_status.value
        assert p.sweep.run_dir == tmp_path / "runs" / "sw"
        # nothing paid twice: one POST per take at the server
        assert lab.emulator.stats()["posts"] - posts_before == 6
        assert p.table.value.count("COMPLETED") == 6
    record = p.record_html()
    assert "zonos-grid" in record and "zonos-sweep" in record and record.count("zonos-take") == 1
    # metrics, then a metric-by-field plot
    p.analyze_button.click()
    p.wait(120)
    assert "f0_std_st" in p.metric.options, p.sweep_status.value
    p.metric.value, p.by.value = "f0_std_st", "temperature"
    p.plot_button.click()
    assert "data:image/png;base64," in p.plot_out.outputs[-1]["data"]["text/html"]
