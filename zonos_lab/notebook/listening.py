"""A blind listening test in the notebook: randomised A/B preference, ABX or MOS over matched pairs.

Pairs are takes that differ only in the compared field (e.g. ``mode``): same text, reference,
language, sampling settings and seed. Order and A/B sides are randomised with `seed`; the hidden
mapping is recorded with every answer (saved after each answer to
``<run_dir>/listening_<timestamp>.csv``) and revealed at the end with a summary: preference share
with an exact binomial 95 % CI (``scipy.stats.binomtest``), ABX accuracy against chance, or mean
opinion scores with t intervals.

Example:
    >>> lt = listening_test(sweep.results, compare="mode")              # doctest: +SKIP
    >>> lt                                                              # doctest: +SKIP
    >>> listening_test(results, answers=["A", "B", "tie"]).summary()    # scripted  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zonos_lab.errors import InvalidParameter
from zonos_lab.notebook.display import _is_na, audio_html, esc, table_html
from zonos_lab.notebook.grid import resolve_audio, results_frame

log = logging.getLogger(__name__)

__all__ = ["ListeningTest", "Pair", "listening_test", "matched_pairs"]

TIE = "tie"


@dataclass(frozen=True)
class Pair:
    """Two takes that differ only in the compared field."""

    pair_id: str
    key: dict[str, Any]
    level_a: Any
    level_b: Any
    take_a: dict[str, Any]
    take_b: dict[str, Any]


def _key(row: dict[str, Any], cols: list[str]) -> str:
    return "\x1f".join("<NA>" if _is_na(row.get(c)) else str(row.get(c)) for c in cols)


def matched_pairs(results: Any, compare: str = "mode", levels: tuple[Any, Any] | None = None,
                  pair_on: list[str] | None = None, base_dir: str | None = None) -> list[Pair]:
    """Pairs of takes with audio that differ only in `compare` (one take per level per pair).

    Args:
        results: a results DataFrame, a `Sweep` or a list of takes.
        compare: the field whose two levels are compared.
        levels: the two levels (default: the only two levels present, sorted).
        pair_on: the fields that must match (default: every request field but `compare`).

    Example:
        >>> pairs = matched_pairs(results, compare="mode")     # doctest: +SKIP
    """
    from zonos_lab.analysis.stats import default_pair_on

    df, base = results_frame(results)
    base = base_dir or base
    if compare not in df.columns:
        raise InvalidParameter("compare", compare, "a column of the results: " + ", ".join(map(str, df.columns)))
    present = [v for v in df[compare].dropna().unique().tolist()]
    if levels is None:
        if len(present) != 2:
            raise InvalidParameter("levels", present, f"exactly two levels of {compare!r}; pass levels=(a, b)")
        levels = tuple(sorted(present, key=lambda v: (v != "accurate", str(v))))  # type: ignore[assignment]
    assert levels is not None
    if len(levels) != 2 or levels[0] == levels[1]:
        raise InvalidParameter("levels", levels, "two different levels")
    cols = list(pair_on) if pair_on is not None else default_pair_on(df, compare)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidParameter("pair_on", missing, "columns of the results")
    if "take_id" in df.columns:
        df = df.sort_values("take_id", kind="stable")
    groups: dict[str, dict[Any, dict[str, Any]]] = {}
    for rec in df.to_dict("records"):
        path = resolve_audio(rec.get("audio_path"), base)
        status = rec.get("status")
        if not path or (not _is_na(status) and str(status) != "COMPLETED"):
            continue
        rec["_audio"] = path
        level = rec[compare]
        if level not in levels:
            continue
        groups.setdefault(_key(rec, cols), {}).setdefault(level, rec)  # repeats: the first take
    pairs = []
    for n, (_k, by_level) in enumerate(sorted(groups.items())):
        if levels[0] in by_level and levels[1] in by_level:
            a, b = by_level[levels[0]], by_level[levels[1]]
            pairs.append(Pair(f"p{n:03d}", {c: a.get(c) for c in cols}, levels[0], levels[1], a, b))
    return pairs


def _infer_run_dir(results: Any, pairs: list[Pair]) -> Path | None:
    rd = getattr(results, "run_dir", None)
    if rd:
        return Path(rd)
    parents = {Path(p.take_a["_audio"]).resolve().parent for p in pairs} | {
        Path(p.take_b["_audio"]).resolve().parent for p in pairs}
    if len(parents) == 1:
        (parent,) = parents
        if parent.name == "audio":
            return parent.parent
    return None


class ListeningTest:
    """The listening-test widget and its answers.

    Attributes:
        trials: the randomised trials (pair, which level plays as A, and for ABX which clip is X).
        answers: a DataFrame, one row per answer, with the hidden mapping.
        csv_path: where answers are saved (None when no run directory is known).
        done: True once every trial is answered.
    """

    def __init__(self, results: Any, compare: str = "mode", *, blind: bool = True, mos: bool = False,
                 abx: bool = False, answers: Iterable[Any] | Callable[[dict[str, Any]], Any] | None = None,
                 seed: int = 0, run_dir: str | Path | None = None, levels: tuple[Any, Any] | None = None,
                 pair_on: list[str] | None = None, max_pairs: int | None = None, rater: str = "",
                 widget: bool = True) -> None:
        if mos and abx:
            raise InvalidParameter("mos/abx", "both", "one kind of test at a time: mos=True or abx=True")
        self.kind = "mos" if mos else "abx" if abx else "ab"
        self.compare = compare
        self.blind = bool(blind)
        self.rater = rater
        pairs = matched_pairs(results, compare, levels, pair_on)
        if not pairs:
            raise InvalidParameter("results", f"no matched pairs for {compare!r}",
                                   f"takes with audio that differ only in {compare!r} (same text, seed, settings)")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(pairs))
        if max_pairs is not None:
            order = order[: int(max_pairs)]
        self.levels = (pairs[0].level_a, pairs[0].level_b)
        # Counterbalanced sides: each level plays as A in half of the trials (random which ones).
        swaps = np.arange(len(order)) % 2 == 1
        rng.shuffle(swaps)
        self.trials: list[dict[str, Any]] = []
        for n, (idx, swap) in enumerate(zip(order, swaps, strict=True), start=1):
            pair = pairs[int(idx)]
            a, b = (pair.take_b, pair.take_a) if swap else (pair.take_a, pair.take_b)
            la, lb = (pair.level_b, pair.level_a) if swap else (pair.level_a, pair.level_b)
            trial = {"trial": n, "pair_id": pair.pair_id, "A": a, "B": b, "level_A": la, "level_B": lb,
                     "key": pair.key}
            if self.kind == "abx":
                trial["X"] = "A" if rng.random() < 0.5 else "B"
            self.trials.append(trial)
        self.pos = 0
        self.records: list[dict[str, Any]] = []
        self.started = datetime.now(UTC)
        rd = Path(run_dir) if run_dir is not None else _infer_run_dir(results, pairs)
        self.csv_path = rd / f"listening_{self.started:%Y%m%d-%H%M%S}.csv" if rd else None
        self._shown_at = time.monotonic()
        self._scripted = False
        self._ui: dict[str, Any] = {}
        if widget:
            self._build()
        if answers is not None:
            self._script(answers)
        self._render()

    # -- answers ----------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True when every trial has an answer."""
        return self.pos >= len(self.trials)

    @property
    def answers(self) -> pd.DataFrame:
        """Every answer so far, with the hidden mapping (level_A / level_B)."""
        return pd.DataFrame(self.records)

    def current(self) -> dict[str, Any] | None:
        """The trial waiting for an answer (None when done)."""
        return None if self.done else self.trials[self.pos]

    def _script(self, answers: Iterable[Any] | Callable[[dict[str, Any]], Any]) -> None:
        self._scripted = True  # no response times for scripted answers (they would only measure the script)
        try:
            if callable(answers):
                while not self.done:
                    trial = self.current()
                    assert trial is not None
                    self.answer(answers(dict(trial)))
                return
            for value in answers:
                if self.done:
                    break
                self.answer(value)
        finally:
            self._scripted = False

    def _normalise(self, trial: dict[str, Any], value: Any) -> Any:
        levels = {str(trial["level_A"]): "A", str(trial["level_B"]): "B"}
        if self.kind == "mos":
            if isinstance(value, dict):
                by_level = {str(k): v for k, v in value.items()}
                if set(by_level) >= set(levels):
                    value = (by_level[str(trial["level_A"])], by_level[str(trial["level_B"])])
                else:
                    value = (value.get("A"), value.get("B"))
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise InvalidParameter("answer", value, "two scores (score_A, score_B), each 1–5")
            scores = []
            for s in value:
                if isinstance(s, bool) or not isinstance(s, int | float) or not 1 <= s <= 5 or s != int(s):
                    raise InvalidParameter("answer", value, "scores are whole numbers from 1 to 5")
                scores.append(int(s))
            return tuple(scores)
        v = str(value).strip()
        if v in ("A", "B"):
            return v
        if v.lower() in ("a", "b"):
            return v.upper()
        if self.kind == "ab" and v.lower() in (TIE, "=", "none", "no preference", "same"):
            return TIE
        if self.kind == "abx" and v.lower() in ("correct", "wrong"):
            x = trial["X"]
            return x if v.lower() == "correct" else ("B" if x == "A" else "A")
        if v in levels:
            if self.kind == "abx":  # "X is the take of this level"
                return levels[v]
            return levels[v]
        allowed = "'A', 'B'" + (", 'tie'" if self.kind == "ab" else ", 'correct', 'wrong'") + \
            f" or a level of {self.compare!r} ({', '.join(levels)})"
        raise InvalidParameter("answer", value, allowed)

    def answer(self, value: Any) -> dict[str, Any]:
        """Record the answer to the current trial and move on.

        ``ab``: ``"A"``, ``"B"``, ``"tie"`` or a level name (prefer that level);
        ``abx``: ``"A"``/``"B"`` (X sounds like …), ``"correct"``/``"wrong"`` or a level name;
        ``mos``: ``(score_A, score_B)`` or ``{level: score}``, scores 1–5.
        """
        trial = self.current()
        if trial is None:
            raise InvalidParameter("answer", value, "no more trials: the test is finished")
        v = self._normalise(trial, value)
        a, b = trial["A"], trial["B"]
        rec: dict[str, Any] = {
            "trial": trial["trial"], "pair_id": trial["pair_id"], "test": self.kind, "compare": self.compare,
            "blind": self.blind, "rater": self.rater,
            "take_A": a.get("take_id"), "take_B": b.get("take_id"),
            "level_A": trial["level_A"], "level_B": trial["level_B"],
        }
        if self.kind == "ab":
            rec["answer"] = v
            rec["preferred_level"] = None if v == TIE else trial[f"level_{v}"]
        elif self.kind == "abx":
            x = trial["X"]
            rec.update({"answer": v, "x_is": x, "x_level": trial[f"level_{x}"], "correct": v == x})
        else:
            rec.update({"answer": f"{v[0]},{v[1]}", "score_A": v[0], "score_B": v[1],
                        "score_level_a": v[0] if trial["level_A"] == self.levels[0] else v[1],
                        "score_level_b": v[1] if trial["level_A"] == self.levels[0] else v[0]})
        rec["response_seconds"] = None if self._scripted else round(time.monotonic() - self._shown_at, 3)
        rec["scripted"] = self._scripted
        rec["answered_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        for k, val in trial["key"].items():
            rec[f"key_{k}"] = val
        self.records.append(rec)
        self.pos += 1
        self._shown_at = time.monotonic()
        self.save()
        self._render()
        return rec

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the answers as CSV (atomically); returns the path (None when there is nowhere to save)."""
        target = Path(path) if path is not None else self.csv_path
        if target is None or not self.records:
            return None
        from zonos_lab.audio import atomic_write_bytes

        atomic_write_bytes(target, self.answers.to_csv(index=False).encode())
        return target

    # -- summary ----------------------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """The result: preference share (ab), accuracy (abx) or mean scores (mos), with 95 % CIs."""
        from scipy import stats

        df = self.answers
        la, lb = self.levels
        if df.empty:
            return pd.DataFrame()
        if self.kind == "ab":
            ties = int((df["answer"] == TIE).sum())
            n = len(df) - ties
            rows = []
            for level in (la, lb):
                k = int((df["preferred_level"] == level).sum())
                row = {"level": level, "preferred": k, "of": n, "ties": ties,
                       "share": k / n if n else math.nan, "ci_low": math.nan, "ci_high": math.nan,
                       "p_value": math.nan}
                if n:
                    res = stats.binomtest(k, n, 0.5)
                    ci = res.proportion_ci(0.95, method="exact")
                    row.update(ci_low=ci.low, ci_high=ci.high, p_value=res.pvalue)
                rows.append(row)
            return pd.DataFrame(rows)
        if self.kind == "abx":
            k, n = int(df["correct"].sum()), len(df)
            res = stats.binomtest(k, n, 0.5, alternative="greater")
            ci = res.proportion_ci(0.95, method="exact")
            return pd.DataFrame([{"correct": k, "of": n, "share": k / n, "ci_low": ci.low, "ci_high": ci.high,
                                  "p_value": res.pvalue}])
        rows = []
        for level, col in ((la, "score_level_a"), (lb, "score_level_b")):
            x = df[col].astype(float).to_numpy()
            m, s = float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else math.nan
            half = stats.t.ppf(0.975, len(x) - 1) * s / math.sqrt(len(x)) if len(x) > 1 else math.nan
            rows.append({"level": level, "mos": m, "sd": s, "n": len(x), "ci_low": m - half, "ci_high": m + half})
        out = pd.DataFrame(rows)
        if len(df) > 1:
            d = df["score_level_b"].astype(float) - df["score_level_a"].astype(float)
            out["p_value_paired_t"] = (float(stats.ttest_rel(df["score_level_b"].astype(float),
                                                              df["score_level_a"].astype(float)).pvalue)
                                       if d.std() > 0 else (1.0 if d.mean() == 0 else 0.0))
        return out

    def summary_text(self) -> str:
        """The summary in one or two sentences."""
        s = self.summary()
        if s.empty:
            return "No answers yet."
        if self.kind == "ab":
            b = s.iloc[1]
            a = s.iloc[0]
            if not b["of"]:
                return f"All {int(b['ties'])} answers were ties: no preference measured."
            lead = a if a["preferred"] >= b["preferred"] else b
            return (f"{self.compare} = {lead['level']} preferred in {int(lead['preferred'])} of {int(lead['of'])} "
                    f"decisive trials ({lead['share']:.0%}, 95% CI {lead['ci_low']:.0%}–{lead['ci_high']:.0%}, "
                    f"exact binomial p = {lead['p_value']:.3g}); {int(lead['ties'])} ties left out.")
        if self.kind == "abx":
            r = s.iloc[0]
            return (f"X identified correctly in {int(r['correct'])} of {int(r['of'])} trials ({r['share']:.0%}, "
                    f"95% CI {r['ci_low']:.0%}–{r['ci_high']:.0%}); one-sided binomial p = {r['p_value']:.3g} "
                    "against guessing.")
        parts = [f"{self.compare} = {r['level']}: MOS {r['mos']:.2f} (95% CI {r['ci_low']:.2f}–{r['ci_high']:.2f}, "
                 f"n = {int(r['n'])})" for r in s.to_dict("records")]
        if "p_value_paired_t" in s.columns:
            parts.append(f"paired t-test p = {float(s['p_value_paired_t'].iloc[0]):.3g}")
        return "; ".join(parts) + "."

    # -- widget -------------------------------------------------------------------------------------

    def _build(self) -> None:
        import ipywidgets as w

        ui = self._ui
        ui["header"] = w.HTML()
        ui["progress"] = w.IntProgress(min=0, max=len(self.trials), value=0, description="Progress")
        ui["stimuli"] = w.HTML()
        ui["message"] = w.HTML()
        ui["result"] = w.HTML()
        controls: list[Any] = []
        if self.kind == "ab":
            ui["buttons"] = {
                "A": w.Button(description="A is better", button_style="info"),
                TIE: w.Button(description="No preference"),
                "B": w.Button(description="B is better", button_style="info"),
            }
            for key, btn in ui["buttons"].items():
                btn.on_click(lambda _b, key=key: self._click(key))
            controls = [w.HBox(list(ui["buttons"].values()))]
        elif self.kind == "abx":
            ui["buttons"] = {"A": w.Button(description="X is A", button_style="info"),
                             "B": w.Button(description="X is B", button_style="info")}
            for key, btn in ui["buttons"].items():
                btn.on_click(lambda _b, key=key: self._click(key))
            controls = [w.HBox(list(ui["buttons"].values()))]
        else:
            opts = [("1 bad", 1), ("2 poor", 2), ("3 fair", 3), ("4 good", 4), ("5 excellent", 5)]
            ui["score_A"] = w.ToggleButtons(options=opts, value=None, description="A")
            ui["score_B"] = w.ToggleButtons(options=opts, value=None, description="B")
            ui["next"] = w.Button(description="Next", button_style="primary")
            ui["next"].on_click(lambda _b: self._click_mos())
            controls = [ui["score_A"], ui["score_B"], ui["next"]]
        ui["controls"] = w.VBox(controls)
        self.widget = w.VBox([ui["header"], ui["progress"], ui["stimuli"], ui["controls"], ui["message"],
                              ui["result"]])

    @property
    def buttons(self) -> dict[str, Any]:
        """The answer buttons (``"A"``, ``"B"`` and, for A/B, ``"tie"``)."""
        return self._ui.get("buttons", {})

    def _click(self, key: str) -> None:
        try:
            self.answer(key)
        except Exception as exc:  # never a traceback in the widget area
            log.exception("listening test answer failed")
            self._ui["message"].value = f'<span style="color:#cf222e">{esc(exc)}</span>'

    def _click_mos(self) -> None:
        a, b = self._ui["score_A"].value, self._ui["score_B"].value
        if a is None or b is None:
            self._ui["message"].value = '<span style="color:#9a6700">Score both clips (1–5) first.</span>'
            return
        self._click_value((a, b))
        self._ui["score_A"].value = None
        self._ui["score_B"].value = None

    def _click_value(self, value: Any) -> None:
        try:
            self.answer(value)
        except Exception as exc:
            log.exception("listening test answer failed")
            self._ui["message"].value = f'<span style="color:#cf222e">{esc(exc)}</span>'

    def _player(self, label: str, rec: dict[str, Any], level: Any, reveal: bool | None = None) -> str:
        # Blind: re-encode (drops WAV metadata that could name the mode) and show no take id or level.
        reveal = (not self.blind) if reveal is None else reveal
        fmt = "auto" if reveal else "wav"
        name = f"<b>{esc(label)}</b>" + ("" if not reveal else f" — {esc(self.compare)} = {esc(level)} "
                                                                f"({esc(rec.get('take_id'))})")
        return (f'<div style="margin:4px 0"><div>{name}</div>'
                f'{audio_html(rec["_audio"], fmt=fmt, preload="metadata")}</div>')

    def _render(self) -> None:
        if not self._ui:
            return
        ui = self._ui
        ui["progress"].value = self.pos
        kind = {"ab": "A/B preference", "abx": "ABX", "mos": "MOS (1–5)"}[self.kind]
        ui["header"].value = (f"<b>Listening test</b> — {kind}, {'blind' if self.blind else 'not blind'}, "
                              f"{len(self.trials)} pairs compared on <code>{esc(self.compare)}</code>")
        ui["message"].value = ""
        trial = self.current()
        if trial is None:
            ui["stimuli"].value = ""
            ui["controls"].layout.display = "none"
            ui["result"].value = self._result_html()
            return
        text = trial["A"].get("text")
        q = {"ab": "Which clip sounds better?", "abx": "Is X the same take as A or as B?",
             "mos": "Rate each clip: how natural does it sound?"}[self.kind]
        parts = [f'<div style="font-family:system-ui,sans-serif;font-size:13px"><div>Trial {trial["trial"]} of '
                 f'{len(self.trials)}. {q}</div>']
        if text and not _is_na(text):
            parts.append(f'<div style="color:#57606a;margin:2px 0">Text: “{esc(text)}”</div>')
        parts.append(self._player("A", trial["A"], trial["level_A"]))
        parts.append(self._player("B", trial["B"], trial["level_B"]))
        if self.kind == "abx":
            x = trial["X"]
            parts.append(self._player("X", trial[x], None, reveal=False))
        parts.append("</div>")
        ui["stimuli"].value = "".join(parts)

    def _result_html(self) -> str:
        df = self.answers
        cols = ["trial", "take_A", "level_A", "take_B", "level_B", "answer"]
        cols += {"ab": ["preferred_level"], "abx": ["x_level", "correct"], "mos": []}[self.kind]
        s = self.summary()
        saved = (f"Answers saved to <code>{esc(self.csv_path)}</code>." if self.csv_path else
                 "No run directory known: call <code>.save(path)</code> to keep the answers.")
        return (f'<div style="font-family:system-ui,sans-serif;font-size:13px"><b>Done.</b> '
                f"{esc(self.summary_text())}<br/>{saved}"
                f"<div style='margin-top:6px'><b>Summary</b></div>{table_html(s.to_dict('records'), list(s.columns))}"
                f"<details open><summary><b>Hidden mapping revealed</b></summary>"
                f"{table_html(df.to_dict('records'), [c for c in cols if c in df.columns], max_rows=500)}"
                f"</details></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.done:  # finished (e.g. scripted answers): static HTML, so a saved notebook still shows it
            return {"text/html": self._result_html(), "text/plain": repr(self)}
        if hasattr(self, "widget"):
            return self.widget._repr_mimebundle_(**kwargs)
        return {"text/plain": repr(self)}

    def __repr__(self) -> str:
        return (f"ListeningTest({self.kind}, {self.compare}: {self.levels[0]} vs {self.levels[1]}, "
                f"{self.pos}/{len(self.trials)} answered)")


def listening_test(results: Any, compare: str = "mode", blind: bool = True, mos: bool = False, abx: bool = False,
                   answers: Iterable[Any] | Callable[[dict[str, Any]], Any] | None = None, seed: int = 0,
                   run_dir: str | Path | None = None, **kw: Any) -> ListeningTest:
    """A randomised blind listening test over pairs of takes that differ only in `compare`.

    Args:
        results: a results DataFrame, a `Sweep` or a list of takes.
        compare: the field compared (two levels; pass ``levels=(a, b)`` when there are more).
        blind: hide which level is A and which is B until the end.
        mos: rate each clip 1–5 instead of choosing one; abx: identify X as A or B.
        answers: scripted answers (a list, or a function of the trial) for executed notebooks and tests.
        seed: randomises the pair order and the A/B sides.
        run_dir: where ``listening_<timestamp>.csv`` is written (default: the sweep's run directory).

    Returns:
        a `ListeningTest` (shows itself as a widget; ``.answers``, ``.summary()``, ``.csv_path``).

    Example:
        >>> lt = listening_test(sweep, compare="mode", answers=["A", "B", "tie", "A"])   # doctest: +SKIP
        >>> lt.summary()                                                                # doctest: +SKIP
    """
    return ListeningTest(results, compare, blind=blind, mos=mos, abx=abx, answers=answers, seed=seed,
                         run_dir=run_dir, **kw)
