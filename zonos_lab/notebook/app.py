"""`panel()`: an ipywidgets app to generate single takes and run sweeps without writing code.

Two tabs:

* **Generate** — text, reference (a file from ``data/``, a path, a URL or an upload), language,
  accurate/expressive, clean background, sliders with the spec's ranges (``max_tokens`` shown in
  seconds too), a seed with a randomize button; the take appears below with the seed used.
* **Sweep** — pick fields and values, seeds, texts and references; the take count (and cost when
  a price is set) updates as you type; *Run*, *Cancel* and *Resume*; a live progress bar and a
  results table that fills in as takes complete; then a plot of a metric by a field.

Work runs in background threads, so the kernel stays free. Errors appear in plain words in the
panel (and in the ``zonos_lab.notebook.app`` log), never as a traceback.

Example:
    >>> import zonos_lab
    >>> zonos_lab.panel()          # or Lab().panel()          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zonos_lab.errors import InvalidParameter
from zonos_lab.notebook.display import errors_in_words, esc, progress_html, status_counts, table_html
from zonos_lab.params import (
    FIELD_SPECS,
    LANGUAGES,
    MAX_SEED,
    MAX_TOKENS_LIMIT,
    GenerationParams,
    frames_to_seconds,
)

log = logging.getLogger(__name__)

__all__ = ["SWEEPABLE", "ZonosPanel", "find_reference_files", "panel", "parse_values"]

AUDIO_EXTS = (".wav", ".mp3", ".ogg", ".m4a", ".aac", ".flac")
#: Fields the Sweep tab offers, with the values pre-filled.
SWEEPABLE: dict[str, str] = {
    "temperature": "0.8, 1.0, 1.2",
    "mode": "accurate, expressive",
    "top_p": "0, 0.9",
    "min_p": "0.05, 0.18, 0.3",
    "top_k": "50, 106, 500",
    "max_tokens": "431, 862",
    "language": "en_us, en_gb",
    "clean_speaker_background": "false, true",
}
#: Seconds between refreshes of the live sweep table.
REFRESH_SECONDS = 0.3
#: Results kept in the panel's static record (takes and sweeps, newest first).
MAX_RECORDS = 6
#: Metric set the *Add metrics* button computes (see `zonos_lab.analysis.metric_info`).
PANEL_METRICS = "fast"


def find_reference_files(roots: list[Path] | None = None) -> list[Path]:
    """Audio files under ``data/`` (of the current directory and of the source checkout).

    Example:
        >>> any(p.suffix == ".wav" for p in find_reference_files())    # doctest: +SKIP
        True
    """
    if roots is None:
        roots = [Path.cwd() / "data", Path(__file__).resolve().parents[2] / "data"]
    seen: dict[Path, Path] = {}
    for root in roots:
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.suffix.lower() in AUDIO_EXTS and p.is_file():
                    seen.setdefault(p.resolve(), p)
    return list(seen.values())


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _preferred_reference(files: list[Path], default: str | None) -> str:
    """The file to pre-select: the Lab's default reference, else the bundled example voice, else the first."""
    if not files:
        return ""
    if default:
        for p in files:
            if p.resolve() == Path(default).resolve():
                return str(p)
    for p in files:
        if p.name == "AmericanFemale.mp3":
            return str(p)
    return str(files[0])


def parse_values(field: str, text: str) -> list[Any]:
    """Parse a comma-separated list of values for `field`, each checked against the spec.

    Example:
        >>> parse_values("temperature", "0.8, 1.2")
        [0.8, 1.2]
        >>> parse_values("mode", "accurate,expressive")
        ['accurate', 'expressive']
    """
    items = [s.strip() for s in str(text).replace(";", ",").split(",") if s.strip()]
    if not items:
        raise InvalidParameter(field, text, "at least one value, separated by commas")
    out: list[Any] = []
    for item in items:
        if field == "mode":
            if item not in ("accurate", "expressive"):
                raise InvalidParameter("mode", item, "'accurate' or 'expressive'")
            out.append(item)
            continue
        spec = FIELD_SPECS.get(field)
        if spec is None:
            raise InvalidParameter("field", field, ", ".join(SWEEPABLE))
        value: Any
        try:
            if spec.type is bool:
                if item.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(item)
                value = item.lower() in ("true", "yes", "1")
            elif spec.type is int:
                value = int(float(item))
                if float(item) != value:
                    raise ValueError(item)
            elif spec.type is float:
                value = float(item)
            else:
                value = item
        except ValueError:
            raise InvalidParameter(field, item, spec.allowed()) from None
        GenerationParams(reference_audio_url="https://x.invalid/r.wav", **{field: value})  # range check
        out.append(value)
    if len(set(map(str, out))) != len(out):
        raise InvalidParameter(field, text, "distinct values (a value is repeated)")
    return out


def parse_seeds(text: str) -> int | list[int]:
    """``"3"`` → 3 seeds (derived by the sweep); ``"1, 2, 7"`` → those seeds."""
    items = [s.strip() for s in str(text).replace(";", ",").split(",") if s.strip()]
    try:
        values = [int(s) for s in items]
    except ValueError:
        raise InvalidParameter("seeds", text, "a count (e.g. 3) or a list of seeds (e.g. 1, 2, 7)") from None
    if not values:
        raise InvalidParameter("seeds", text, "a count (e.g. 3) or a list of seeds (e.g. 1, 2, 7)")
    if len(values) == 1:
        if not 1 <= values[0] <= 1000:
            raise InvalidParameter("seeds", text, "a count from 1 to 1000, or a list with at least two seeds")
        return values[0]
    for v in values:
        if not 0 <= v <= MAX_SEED:
            raise InvalidParameter("seeds", v, f"seeds from 0 to {MAX_SEED}")
    return values


def _plain(message: str, kind: str = "error") -> str:
    colour = {"error": "#cf222e", "ok": "#1a7f37", "info": "#57606a", "warn": "#9a6700"}[kind]
    return f'<div style="color:{colour};font-family:system-ui,sans-serif;font-size:13px">{esc(message)}</div>'


class ZonosPanel:
    """The panel's widgets and its background work (see `panel`).

    Attributes:
        widget: the top-level ipywidgets box (the panel displays itself).
        last_take: the most recent take from *Generate*.
        sweep: the most recent sweep from *Run*.
    """

    def __init__(self, lab: Any = None, *, sweep_factory: Callable[..., Any] | None = None,
                 runs_dir: str | Path | None = None, data_roots: list[Path] | None = None) -> None:
        import ipywidgets as w

        self._lab = lab
        self._lab_lock = threading.Lock()
        self._sweep_factory = sweep_factory
        self.runs_dir = Path(runs_dir or getattr(lab, "runs_dir", None) or "runs")
        self.last_take: Any = None
        self.takes: list[Any] = []
        self.sweep: Any = None
        self._sweep_spec: dict[str, Any] | None = None
        self._sweep_dir: Path | None = None
        self._cancelled = False
        self.gen_thread: threading.Thread | None = None
        self.sweep_thread: threading.Thread | None = None
        self.analyze_thread: threading.Thread | None = None
        self._scored: Any = None
        self._uploaded: Path | None = None
        self._records: list[tuple[str, str]] = []
        self._handle: Any = None
        wide = w.Layout(width="520px")
        style = {"description_width": "110px"}

        # -- Generate tab ---------------------------------------------------------------------
        files = find_reference_files(data_roots)
        self.text = w.Textarea(value=FIELD_SPECS["text"].default, description="Text", layout=w.Layout(
            width="520px", height="70px"), style=style)
        preferred = _preferred_reference(files, getattr(lab, "default_ref", None))
        self.ref_file = w.Dropdown(options=[("(none)", "")] + [(_short(p), str(p)) for p in files],
                                   value=preferred, description="Reference", layout=wide, style=style)
        self.ref_path = w.Text(placeholder="or a file path or an http(s) URL", description="Path or URL",
                               layout=wide, style=style)
        self.ref_upload = w.FileUpload(accept="audio/*", multiple=False, description="Upload")
        self.ref_used = w.HTML()
        self.language = w.Dropdown(options=list(LANGUAGES), value=FIELD_SPECS["language"].default,
                                   description="Language", style=style)
        self.mode = w.ToggleButtons(options=["accurate", "expressive"], value="accurate", description="Mode",
                                    style=style, tooltips=["closer voice match", "more expressive delivery"])
        self.clean = w.Checkbox(value=False, description="Clean reference background", indent=False)

        def fslider(name: str, step: float) -> Any:
            s = FIELD_SPECS[name]
            return w.FloatSlider(value=s.default, min=s.minimum, max=s.maximum, step=step, description=name,
                                 readout_format=".2f", layout=wide, style=style, continuous_update=False)

        self.temperature = fslider("temperature", 0.05)
        self.top_p = fslider("top_p", 0.01)
        self.min_p = fslider("min_p", 0.01)
        tk = FIELD_SPECS["top_k"]
        self.top_k = w.IntSlider(value=tk.default, min=int(tk.minimum or 0), max=int(tk.maximum or 2048),
                                 description="top_k", layout=wide, style=style, continuous_update=False)
        self.limit = w.Checkbox(value=False, description="limit length (max_tokens)", indent=False)
        self.max_tokens = w.IntSlider(value=862, min=1, max=MAX_TOKENS_LIMIT, description="max_tokens",
                                      layout=wide, style=style, disabled=True, continuous_update=False)
        self.max_seconds = w.HTML()
        self.seed = w.BoundedIntText(value=random.SystemRandom().randrange(0, 2**31 - 1), min=0, max=MAX_SEED,
                                     description="seed", style=style)
        self.randomize = w.Button(description="Randomize", icon="random", tooltip="pick a new random seed")
        self.seed_used = w.HTML()
        self.generate_button = w.Button(description="Generate", button_style="primary", icon="play")
        self.gen_status = w.HTML()
        self.gen_out = w.Output(layout=w.Layout(border="1px solid #eaeef2", min_height="40px"))
        self.limit.observe(lambda ch: setattr(self.max_tokens, "disabled", not ch["new"]), "value")
        self.limit.observe(lambda _ch: self._update_seconds(), "value")
        self.max_tokens.observe(lambda _ch: self._update_seconds(), "value")
        self.randomize.on_click(lambda _b: self._randomize())
        self.generate_button.on_click(lambda _b: self.generate())
        for wid in (self.ref_file, self.ref_path):
            wid.observe(lambda _ch: self._update_ref_label(), "value")
        self.ref_upload.observe(lambda _ch: self._on_upload(), "value")
        self._update_seconds()
        self._update_ref_label()
        gen_tab = w.VBox([
            self.text, self.ref_file, w.HBox([self.ref_path, self.ref_upload]), self.ref_used, self.language,
            self.mode, self.clean, self.temperature, self.top_p, self.min_p, self.top_k,
            w.HBox([self.limit, self.max_seconds]), self.max_tokens,
            w.HBox([self.seed, self.randomize, self.seed_used]),
            w.HBox([self.generate_button, self.gen_status]), self.gen_out,
        ])

        # -- Sweep tab ------------------------------------------------------------------------
        self.sweep_fields: dict[str, tuple[Any, Any]] = {}
        rows = []
        for name, default in SWEEPABLE.items():
            cb = w.Checkbox(value=name in ("temperature", "mode"), description=name, indent=False,
                            layout=w.Layout(width="200px"))
            tx = w.Text(value=default, layout=w.Layout(width="320px"))
            self.sweep_fields[name] = (cb, tx)
            rows.append(w.HBox([cb, tx]))
        self.seeds = w.Text(value="2", description="Seeds", placeholder="a count, or a list: 1, 2, 7",
                            style=style)
        self.texts = w.Textarea(value=FIELD_SPECS["text"].default, description="Texts (1/line)",
                                layout=w.Layout(width="520px", height="60px"), style=style)
        self.refs = w.SelectMultiple(options=[(_short(p), str(p)) for p in files],
                                     value=[preferred] if preferred else [], description="References",
                                     layout=w.Layout(width="520px", height="90px"), style=style)
        self.more_refs = w.Text(placeholder="more paths or URLs, comma-separated", description="More refs",
                                layout=wide, style=style)
        self.price = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.01, description="Price/take",
                                        style=style)
        self.out_dir = w.Text(value="", placeholder="runs/panel-<time> (default)", description="Run dir",
                              layout=wide, style=style)
        self.count = w.HTML()
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = w.Button(description="Cancel", button_style="warning", icon="stop", disabled=True)
        self.resume_button = w.Button(description="Resume", icon="repeat", disabled=True,
                                      tooltip="run the same spec again in the same run directory")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress", bar_style="info")
        self.sweep_status = w.HTML()
        self.table = w.HTML()
        self.metric = w.Dropdown(options=[], description="Metric", style=style)
        self.by = w.Dropdown(options=[], description="by field", style=style)
        self.plot_button = w.Button(description="Plot", icon="line-chart", disabled=True)
        self.analyze_button = w.Button(description="Add metrics", icon="calculator", disabled=True,
                                       tooltip="zonos_lab.analysis.pipeline (fast metrics: loudness, F0, "
                                               "speech/silence, speaking rate)")
        self.plot_out = w.Output()
        for cb, tx in self.sweep_fields.values():
            cb.observe(lambda _ch: self._update_count(), "value")
            tx.observe(lambda _ch: self._update_count(), "value")
        for wid in (self.seeds, self.texts, self.refs, self.more_refs, self.price):
            wid.observe(lambda _ch: self._update_count(), "value")
        self.run_button.on_click(lambda _b: self.run_sweep())
        self.cancel_button.on_click(lambda _b: self.cancel_sweep())
        self.resume_button.on_click(lambda _b: self.resume_sweep())
        self.plot_button.on_click(lambda _b: self.plot())
        self.analyze_button.on_click(lambda _b: self.analyze())
        self._update_count()
        sweep_tab = w.VBox([
            w.HTML("<b>Sweep these fields</b> (other settings come from the Generate tab)"), *rows,
            self.seeds, self.texts, self.refs, self.more_refs, w.HBox([self.price, self.out_dir]), self.count,
            w.HBox([self.run_button, self.cancel_button, self.resume_button]), self.progress, self.sweep_status,
            self.table, w.HBox([self.metric, self.by, self.plot_button, self.analyze_button]), self.plot_out,
        ])
        self.tabs = w.Tab(children=[gen_tab, sweep_tab])
        self.tabs.set_title(0, "Generate")
        self.tabs.set_title(1, "Sweep")
        self.banner = w.HTML(self._banner())
        self.widget = w.VBox([self.banner, self.tabs])

    # -- display --------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        """Show the widgets, and below them a plain-HTML record of the results (kept in the saved notebook)."""
        from IPython.display import HTML, display

        display(self.widget)
        self._handle = display(HTML(self.record_html()), display_id=True)

    def record_html(self) -> str:
        """Static HTML of the latest results: the last takes and the last sweep (players, grid, table).

        Widget state is not always saved with a notebook; this record is ordinary cell output, so a
        reopened notebook still plays the panel's results.
        """
        if not self._records:
            return ""
        return ('<details class="zonos-panel-record"><summary>Panel results (kept when the notebook is saved)'
                "</summary>" + "".join(html for _, html in self._records) + "</details>")

    def _record(self, key: str, html: str) -> None:
        self._records = [(k, h) for k, h in self._records if k != key]
        self._records.insert(0, (key, html))
        del self._records[MAX_RECORDS:]
        handle = getattr(self, "_handle", None)
        if handle is not None:
            from IPython.display import HTML

            try:
                handle.update(HTML(self.record_html()))
            except Exception:  # a closed kernel channel must not break the panel
                log.warning("could not update the panel record", exc_info=True)

    def __repr__(self) -> str:
        return f"ZonosPanel(lab={type(self._lab).__name__ if self._lab is not None else 'not started'})"

    def _banner(self) -> str:
        lab = self._lab
        backend = None
        if lab is not None:  # never touch lab.client here: it may start a server
            backend = getattr(lab, "backend", None)
            if backend not in ("emulator", "cloud"):
                backend = getattr(getattr(lab, "_client", None), "backend", None)
        if backend == "cloud":
            text = "Backend: the Zonos 2 cloud API (takes are charged)."
            return _plain(text, "info")
        note = "Backend: the offline zonos-2-emulator (not the real service)" if backend == "emulator" else \
            "Backend: chosen when you first generate (the offline emulator when no API key is set)"
        from zonos_lab.notebook.display import emulator_badge

        return (emulator_badge() if backend == "emulator" else "") + _plain(note + ".", "info")

    # -- helpers --------------------------------------------------------------------------------

    @property
    def lab(self) -> Any:
        """The `Lab` (created on first use: ``Lab()``)."""
        with self._lab_lock:
            if self._lab is None:
                from zonos_lab.lab import Lab

                self._lab = Lab(runs_dir=str(self.runs_dir))
                self.banner.value = self._banner()
            return self._lab

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the background work started by the panel (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        for t in (self.gen_thread, self.sweep_thread, self.analyze_thread):
            if t is not None:
                t.join(max(0.0, deadline - time.monotonic()))

    def _update_seconds(self) -> None:
        if self.limit.value:
            self.max_seconds.value = (f"<span style='color:#57606a'>{self.max_tokens.value} frames = "
                                      f"{frames_to_seconds(self.max_tokens.value):.2f} s</span>")
        else:
            self.max_seconds.value = "<span style='color:#57606a'>service default (up to 71.3 s)</span>"

    def _randomize(self) -> None:
        self.seed.value = random.SystemRandom().randrange(0, 2**31 - 1)

    def _on_upload(self) -> None:
        value = self.ref_upload.value
        if not value:
            return
        item = value[0] if isinstance(value, tuple | list) else next(iter(value.values()))
        name = Path(str(item["name"])).name
        if Path(name).suffix.lower() not in AUDIO_EXTS:
            self.ref_used.value = _plain(f"{name} is not an audio file ({', '.join(AUDIO_EXTS)}).")
            return
        from zonos_lab.audio import atomic_write_bytes

        target = self.runs_dir / "uploads" / name
        atomic_write_bytes(target, bytes(item["content"]))
        self._uploaded = target
        self._update_ref_label()

    def reference(self) -> str:
        """The reference Generate will use: the upload, else the path/URL box, else the chosen file."""
        if self._uploaded is not None:
            return str(self._uploaded)
        if self.ref_path.value.strip():
            return self.ref_path.value.strip()
        if self.ref_file.value:
            return str(self.ref_file.value)
        raise InvalidParameter("reference", None, "a file from data/, a path, an http(s) URL or an upload")

    def _update_ref_label(self) -> None:
        try:
            ref = self.reference()
        except InvalidParameter:
            self.ref_used.value = _plain("Choose a reference voice.", "warn")
            return
        if not ref.startswith(("http://", "https://")) and not Path(ref).exists():
            self.ref_used.value = _plain(f"File not found: {ref}", "warn")
        else:
            self.ref_used.value = _plain(f"Reference: {ref}", "info")

    def settings(self) -> dict[str, Any]:
        """The Generate tab's request settings (everything but text and reference)."""
        out: dict[str, Any] = {
            "language": self.language.value,
            "accurate_mode": self.mode.value == "accurate",
            "clean_speaker_background": bool(self.clean.value),
            "temperature": round(float(self.temperature.value), 4),
            "top_p": round(float(self.top_p.value), 4),
            "min_p": round(float(self.min_p.value), 4),
            "top_k": int(self.top_k.value),
            "seed": int(self.seed.value),
        }
        if self.limit.value:
            out["max_tokens"] = int(self.max_tokens.value)
        return out

    def _fail(self, target: Any, exc: BaseException, what: str) -> None:
        log.error("%s failed", what, exc_info=exc)
        target.value = _plain(f"{what} failed: {errors_in_words(exc)}")

    # -- Generate -------------------------------------------------------------------------------

    def generate(self) -> threading.Thread | None:
        """Start one take in the background (what the Generate button does)."""
        if self.gen_thread is not None and self.gen_thread.is_alive():
            self.gen_status.value = _plain("Still generating the previous take…", "warn")
            return None
        try:
            text = self.text.value.strip()
            ref = self.reference()
            kwargs = self.settings()
            GenerationParams(reference_audio_url="https://x.invalid/r.wav", text=text, **kwargs)
        except Exception as exc:
            self._fail(self.gen_status, exc, "Generate")
            return None
        self.generate_button.disabled = True
        self.gen_status.value = _plain(f"Generating (seed {kwargs['seed']})…", "info")
        self.gen_thread = threading.Thread(target=self._generate_worker, args=(text, ref, kwargs),
                                           name="zonos-panel-generate", daemon=True)
        self.gen_thread.start()
        return self.gen_thread

    def _generate_worker(self, text: str, ref: str, kwargs: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            take = self.lab.say(text, ref=ref, **kwargs)
        except Exception as exc:
            self._fail(self.gen_status, exc, "Generate")
        else:
            self.last_take = take
            self.takes.append(take)
            self.gen_out.outputs = ()
            self.gen_out.append_display_data(take)
            from zonos_lab.notebook.display import take_html

            self._record(f"take:{take.take_id}", take_html(take))
            self.seed_used.value = f"<span style='color:#57606a'>seed used: <b>{esc(take.seed)}</b></span>"
            if getattr(take, "ok", False):
                self.gen_status.value = _plain(
                    f"Done in {time.monotonic() - started:.1f} s: {take.duration or 0:.2f} s of audio.", "ok")
            else:
                self.gen_status.value = _plain(
                    f"The take ended {take.status}: {take.error or 'no audio came back'}. Nothing to play; "
                    "try another seed or reference (FAILED/ERROR takes are explained above).", "error")
        finally:
            self.generate_button.disabled = False

    # -- Sweep ----------------------------------------------------------------------------------

    def sweep_spec(self) -> dict[str, Any]:
        """The sweep spec (a `SweepSpec` dict) the Sweep tab describes."""
        fixed = self.settings()
        fixed.pop("seed")
        parameters: dict[str, Any] = {}
        mode: list[str] | None = None
        for name, (cb, tx) in self.sweep_fields.items():
            if not cb.value:
                continue
            values = parse_values(name, tx.value)
            if name == "mode":
                mode = values
                fixed.pop("accurate_mode", None)
            else:
                parameters[name] = {"values": values}
                fixed.pop(name, None)
        texts = [t.strip() for t in self.texts.value.splitlines() if t.strip()]
        if not texts:
            raise InvalidParameter("texts", self.texts.value, "at least one line of text")
        for t in texts:
            GenerationParams(reference_audio_url="https://x.invalid/r.wav", text=t)
        refs = list(self.refs.value) + [r.strip() for r in self.more_refs.value.split(",") if r.strip()]
        if not refs:
            raise InvalidParameter("references", None, "at least one reference (a file, a path or a URL)")
        for r in refs:
            if not r.startswith(("http://", "https://")) and not Path(r).exists():
                raise InvalidParameter("references", r, "existing files or http(s) URLs")
        spec: dict[str, Any] = {"name": "panel", "method": "grid", "parameters": parameters, "fixed": fixed,
                                "seeds": parse_seeds(self.seeds.value), "texts": texts, "references": refs}
        if mode:
            spec["mode"] = mode
        if self.price.value:
            spec["price_per_take"] = float(self.price.value)
        return spec

    def take_count(self) -> tuple[int, float | None]:
        """(takes, cost or None) for the spec the Sweep tab describes."""
        spec = self.sweep_spec()
        price = float(self.price.value) or None
        try:
            from zonos_lab.sweep import SweepSpec

            dry = SweepSpec.from_dict({k: v for k, v in spec.items() if k != "price_per_take"}).dry_run(
                price_per_take=price)
            return int(dry.n_takes), dry.cost
        except ImportError:
            n = 1
            for p in spec["parameters"].values():
                n *= len(p["values"])
            seeds = spec["seeds"]
            n *= seeds if isinstance(seeds, int) else len(seeds)
            n *= len(spec["texts"]) * len(spec["references"]) * len(spec.get("mode") or [1])
            return n, (n * price if price else None)

    def _update_count(self) -> None:
        try:
            n, cost = self.take_count()
        except Exception as exc:
            self.count.value = _plain(errors_in_words(exc))
            self.run_button.disabled = True
            return
        t = self.sweep_thread
        busy = t is not None and t.is_alive() and t is not threading.current_thread()
        self.run_button.disabled = busy
        cost_text = f" · cost {cost:.2f}" if cost is not None else " · cost: set a price per take to see it"
        self.count.value = f"<b>{n}</b> takes{esc(cost_text)}"

    def run_sweep(self, run_dir: str | Path | None = None) -> threading.Thread | None:
        """Start the sweep the tab describes in the background (what the Run button does)."""
        if self.sweep_thread is not None and self.sweep_thread.is_alive():
            self.sweep_status.value = _plain("A sweep is already running: cancel it first.", "warn")
            return None
        try:
            spec = self.sweep_spec()
        except Exception as exc:
            self._fail(self.sweep_status, exc, "Sweep")
            return None
        out = Path(run_dir or self.out_dir.value.strip() or
                   self.runs_dir / f"panel-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        return self._start(spec, out)

    def resume_sweep(self) -> threading.Thread | None:
        """Run the last spec again in the same run directory (done takes are kept, not paid twice)."""
        if self._sweep_spec is None or self._sweep_dir is None:
            self.sweep_status.value = _plain("Nothing to resume yet: run a sweep first.", "warn")
            return None
        if self.sweep_thread is not None and self.sweep_thread.is_alive():
            self.sweep_status.value = _plain("The sweep is still running.", "warn")
            return None
        return self._start(self._sweep_spec, self._sweep_dir)

    def cancel_sweep(self) -> None:
        """Cancel the running sweep (takes already submitted finish on the server; nothing new is sent)."""
        self._cancelled = True
        sweep = self.sweep
        if sweep is not None:
            try:
                sweep.cancel()
            except Exception as exc:
                self._fail(self.sweep_status, exc, "Cancel")
                return
        self.cancel_button.disabled = True
        self.sweep_status.value = _plain("Cancelling… takes in flight finish, nothing new is sent.", "warn")

    def _make_sweep(self, spec: dict[str, Any], out: Path) -> Any:
        if self._sweep_factory is not None:
            return self._sweep_factory(spec, out)
        lab = self.lab
        if hasattr(lab, "sweep"):  # Lab.sweep merges the session defaults
            return lab.sweep(spec, out, progress=False)
        from zonos_lab.sweep import Sweep

        return Sweep(spec, out, lab=lab, progress=False)

    def _start(self, spec: dict[str, Any], out: Path) -> threading.Thread:
        self._sweep_spec, self._sweep_dir, self._cancelled, self._scored = spec, out, False, None
        self.run_button.disabled = True
        self.resume_button.disabled = True
        self.cancel_button.disabled = False
        self.plot_button.disabled = True
        self.analyze_button.disabled = True
        self.progress.value, self.progress.bar_style = 0, "info"
        self.sweep_status.value = _plain(f"Starting… run directory: {out}", "info")
        self.table.value = ""
        self.sweep_thread = threading.Thread(target=self._sweep_worker, args=(spec, out),
                                             name="zonos-panel-sweep", daemon=True)
        self.sweep_thread.start()
        return self.sweep_thread

    def _sweep_worker(self, spec: dict[str, Any], out: Path) -> None:
        try:
            sweep = self._make_sweep(spec, out)
            self.sweep = sweep
            if self._cancelled:
                sweep.cancel()
            sweep.start()
            while not sweep.done:
                self._refresh(sweep)
                time.sleep(REFRESH_SECONDS)
            try:
                sweep.wait()
            except Exception as exc:  # the run's own failure (e.g. 402): keep what is done, say it
                self._fail(self.sweep_status, exc, "Sweep")
                self._refresh(sweep, final=True, keep_status=True)
                self._record_sweep(sweep)
                return
            self._refresh(sweep, final=True)
            self._record_sweep(sweep)
        except Exception as exc:
            self._fail(self.sweep_status, exc, "Sweep")
            self.progress.bar_style = "danger"
        finally:
            self.run_button.disabled = False
            self.cancel_button.disabled = True
            self.resume_button.disabled = self._sweep_spec is None
            self._update_count()

    def _record_sweep(self, sweep: Any) -> None:
        from zonos_lab.notebook.display import sweep_html
        from zonos_lab.notebook.grid import show_grid

        parts = []
        swept = [f for f in self._swept() if f != "mode"]
        rows = swept[0] if swept else "seed"
        cols = "mode" if "mode" in self._swept() else (swept[1] if len(swept) > 1 else None)
        try:
            parts.append(show_grid(sweep, rows=rows, cols=cols, seed="first").html)
        except Exception as exc:  # no completed take, or no audio: the table still says why
            log.info("no grid for the panel record: %s", exc)
        parts.append(sweep_html(sweep))
        self._record(f"sweep:{getattr(sweep, 'run_dir', '')}", "".join(parts))

    def _refresh(self, sweep: Any, final: bool = False, keep_status: bool = False) -> None:
        from zonos_lab.take import TERMINAL_STATUSES

        try:
            df = sweep.results
        except Exception:
            log.debug("results not ready", exc_info=True)
            return
        counts = status_counts(df)
        total = len(df)
        done = sum(v for k, v in counts.items() if k in TERMINAL_STATUSES)
        self.progress.max = max(total, 1)
        self.progress.value = done
        if not keep_status:
            if final:
                bad = sum(counts.get(k, 0) for k in ("FAILED", "ERROR", "UNCERTAIN", "CANCELLED", "SKIPPED"))
                words = "Cancelled" if self._cancelled else "Finished"
                self.sweep_status.value = progress_html(done, total, counts) + _plain(
                    f"{words}: {counts.get('COMPLETED', 0)} of {total} takes completed"
                    + (f", {bad} not (see the table)" if bad else "") + f". Run directory: {self._sweep_dir}",
                    "warn" if bad or self._cancelled else "ok")
            else:
                self.sweep_status.value = progress_html(done, total, counts)
        self.progress.bar_style = "success" if final and not self._cancelled else "info"
        cols = [c for c in ("take_id", *self._swept(), "seed", "status", "duration", "error") if c in df.columns]
        if len(df):
            finished = df[df["status"].astype(str).isin(TERMINAL_STATUSES)] if "status" in df.columns else df
            self.table.value = table_html(finished.to_dict("records"), list(dict.fromkeys(cols)), max_rows=200)
        if final:
            self._offer_plots(df)

    def _swept(self) -> list[str]:
        spec = self._sweep_spec or {}
        names = list(spec.get("parameters", {}))
        if spec.get("mode"):
            names.append("mode")
        if len(spec.get("texts", [])) > 1:
            names.append("text")
        if len(spec.get("references", [])) > 1:
            names.append("reference")
        return names

    def _offer_plots(self, df: Any) -> None:
        import pandas as pd

        skip = {"seed", "sample_rate", "top_k", "temperature", "top_p", "min_p", "max_tokens"}
        numeric = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
                   and not pd.api.types.is_bool_dtype(df[c]) and df[c].notna().any()]
        self.metric.options = numeric
        if numeric:
            self.metric.value = "duration" if "duration" in numeric else numeric[0]
        fields = [f for f in self._swept() if f in df.columns] or ["seed"]
        self.by.options = fields
        self.by.value = fields[0]
        self.plot_button.disabled = not numeric
        self.analyze_button.disabled = not len(df)

    def plot(self) -> None:
        """Plot the chosen metric by the chosen field (mean and 95 % CI across seeds)."""
        sweep = self.sweep
        try:
            if sweep is None or not self.metric.value:
                raise InvalidParameter("metric", self.metric.value, "a finished sweep and a metric column")
            from zonos_lab.analysis.plots import metric_plot
            from zonos_lab.notebook.display import figure_png

            df = self._scored if self._scored is not None else sweep.results
            by = self.by.value
            hue = next((f for f in self._swept() if f != by and f in ("mode",)), None)
            fig = metric_plot(df[df["status"].astype(str) == "COMPLETED"], x=by, y=self.metric.value, hue=hue)
            from IPython.display import HTML

            self.plot_out.outputs = ()
            self.plot_out.append_display_data(HTML(f'<img src="data:image/png;base64,{figure_png(fig, 90)}"/>'))
        except Exception as exc:
            log.error("plot failed", exc_info=exc)
            from IPython.display import HTML

            self.plot_out.outputs = ()
            self.plot_out.append_display_data(HTML(_plain(f"Plot failed: {errors_in_words(exc)}")))

    def analyze(self) -> threading.Thread | None:
        """Add analysis metrics to the results in the background, then offer them for plotting."""
        sweep = self.sweep
        if sweep is None:
            return None
        self.analyze_button.disabled = True
        self.sweep_status.value = _plain("Computing metrics…", "info")

        def work() -> None:
            try:
                from zonos_lab.analysis import analyze

                scored = analyze(sweep.results, metrics=PANEL_METRICS, progress=False)
                self._scored = scored
                self._offer_plots(scored)
                self.sweep_status.value = _plain("Metrics added: pick one and press Plot.", "ok")
            except Exception as exc:
                self._fail(self.sweep_status, exc, "Metrics")
            finally:
                self.analyze_button.disabled = False

        self.analyze_thread = threading.Thread(target=work, name="zonos-panel-analyze", daemon=True)
        self.analyze_thread.start()
        return self.analyze_thread


def panel(lab: Any = None, **kw: Any) -> ZonosPanel:
    """The interactive panel: a *Generate* tab and a *Sweep* tab (see the module docstring).

    Args:
        lab: a `Lab` (default: ``Lab()`` created on first use: the offline emulator without an API key).

    Example:
        >>> from zonos_lab.notebook import panel
        >>> p = panel()            # displays itself in a notebook cell     # doctest: +SKIP
    """
    return ZonosPanel(lab, **kw)
