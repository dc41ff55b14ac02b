"""Write the example notebooks in notebooks/ from the cell lists below (outputs are filled by
``scripts/execute-notebooks``, which runs them top to bottom on the emulator and stores the outputs).

Keeping the sources here makes them reviewable as plain Python and keeps every notebook's first cell the
same: a fixed working directory (the repository root), no progress bars, and a clean run directory.

Usage:
    python scripts/build_notebooks.py            # all notebooks
    python scripts/build_notebooks.py 02 03      # only those
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"

SETUP = """\
# Set-up: work from the repository root (so data/ paths resolve) and start from a clean run directory.
import os, shutil
from pathlib import Path
os.chdir(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd())
import pandas as pd
pd.set_option("display.width", 140, "display.max_columns", 20, "display.precision", 3)
import zonos_lab as zl
RUNS = Path("runs/notebooks")
"""


def clean(run: str) -> str:
    return f'RUN = RUNS / "{run}"\nshutil.rmtree(RUN, ignore_errors=True)\n'


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_quickstart"] = [
    ("md", """\
# 01 · Quick start: a first take

This notebook makes one take from a reference clip, listens to it, looks at its spectrogram and reads the
fields the API reported. Without `PIXAZO_API_KEY` everything runs against zonos-lab's **offline emulator**
of the gateway: same protocol, real (but small, Piper-based) speech. **It is not Zonos 2**; every take it
makes is labelled `backend = emulator`. Set `PIXAZO_API_KEY` and the same cells call the real API
(see `07_real_api.ipynb`)."""),
    ("code", SETUP + clean("01")),
    ("md", """\
A `Lab` is a session: a backend (cloud or emulator), defaults, and a folder for takes. With no key it starts
the emulator in-process on 127.0.0.1, which takes about a second."""),
    ("code", """\
lab = zl.Lab(backend="emulator", runs_dir=RUN)
lab"""),
    ("md", """\
`say` validates the request before anything is sent (a bad value raises `InvalidParameter` naming the
field and its allowed range), submits it, waits for the result and downloads the WAV. Always pass a `seed`
when you want to hear the same take again."""),
    ("code", """\
take = lab.say("The lab is open, and the first take is ready.",
               ref="data/voices/AmericanFemale.mp3", seed=7)
take"""),
    ("md", "The take's fields, as one row of the results table every sweep produces:"),
    ("code", """\
row = take.to_row()
{k: row[k] for k in ["mode", "language", "temperature", "top_k", "min_p", "seed", "status",
                     "duration", "sample_rate", "backend", "model_id"]}"""),
    ("md", """\
Bad values never reach the API. Here `temperature` is outside the spec's 0–2 range:"""),
    ("code", """\
try:
    lab.say("Too hot.", ref="data/voices/AmericanFemale.mp3", temperature=2.5)
except zl.InvalidParameter as err:
    print(type(err).__name__, "-", err)"""),
    ("md", """\
## The same with the `%zonos` magic

`%load_ext zonos_lab` adds a line magic for quick takes and a cell magic for small sweeps
(see `04_panel_and_magic.ipynb`). `%zonos config` sets session defaults."""),
    ("code", """\
%load_ext zonos_lab
%zonos config --backend emulator --ref data/voices/AmericanFemale.mp3"""),
    ("code", """\
magic_take = %zonos The lab is open, and the first take is ready. --seed 7
import numpy as np
# same request, same seed → the same samples (the WAV files differ only in their metadata: the request id)
np.array_equal(magic_take.audio()[0], take.audio()[0])"""),
    ("code", "lab.close()"),
]

NOTEBOOKS["02_accurate_vs_expressive"] = [
    ("md", """\
# 02 · Accurate vs expressive: the flagship study

**Question.** Zonos 2's `accurate_mode` promises a closer match to the reference voice; turning it off
promises a more expressive delivery. Does that show up in measurements, and by how much compared with
seed-to-seed variation?

**Design.** 3 texts × 2 reference voices × 2 modes × 3 seeds = 36 takes, all other settings at the API
defaults, a fixed seed list so the study can be re-run exactly. Pairs differ only in mode (same text,
voice and seed), so the comparison is paired.

> Run here on the **emulator**, the numbers describe the emulator's documented behaviour, not Zonos 2.
> Point the same notebook at the real API to measure the real model."""),
    ("code", SETUP + clean("02")),
    ("code", """\
from zonos_lab.demo import flagship_spec
spec = zl.SweepSpec.from_dict(flagship_spec(seeds=3))
spec.dry_run()"""),
    ("code", """\
lab = zl.Lab(backend="emulator")
sweep = lab.sweep(spec, out=RUN, progress=False)
results = sweep.run()
results.groupby(["mode", "status"], observed=True).size()"""),
    ("md", """\
## Metrics

`analyze` adds offline metrics (cached by audio hash): loudness, speech/silence, speaking rate, F0
statistics and DNSMOS (signal quality, *not* naturalness). Speaker similarity to the reference needs the
`[speaker]` extra; it is included when installed (the test set-up installs it)."""),
    ("code", """\
import importlib.util
HAVE_SPEAKER = importlib.util.find_spec("resemblyzer") is not None   # the [speaker] extra
analysed = zl.analyze(results, metrics=["core", "speaker"] if HAVE_SPEAKER else "core", progress=False)
cols = ["text", "reference", "mode", "seed", "duration_s", "f0_mean_hz", "f0_std_st", "speaking_rate", "loudness_lufs"]
analysed[cols].assign(text=analysed["text"].str[:24], reference=analysed["reference"].map(lambda p: Path(p).stem)).round(2).head(12)"""),
    ("md", """\
## Paired comparison

For each metric: the mean of each mode, the mean paired difference with a bootstrap 95 % CI, the Wilcoxon
signed-rank p-value and an effect size."""),
    ("code", """\
compared = ["speaker_similarity"] * HAVE_SPEAKER + ["f0_std_st", "f0_mean_hz", "speaking_rate", "duration_s"]
table = pd.concat([zl.compare(analysed, by="mode", metric=m) for m in compared])
table[["metric", "level_a", "level_b", "n_pairs", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "p_wilcoxon"]].round(3)"""),
    ("md", """\
**Reading it (emulator run).** Accurate mode stays closer to the reference voice: higher speaker
similarity (a small but consistent difference: the CI excludes 0) and a mean F0 nearer the reference's.
Expressive mode varies pitch clearly more: its F0 spread is about 1.8 semitones larger (95 % CI about
1.3 to 2.3 over 18 pairs). Speaking rate and duration do not change with the mode."""),
    ("code", """\
zl.paired_plot(zl.compare(analysed, by="mode", metric="f0_std_st"))"""),
    ("md", "Seed-to-seed spread within each condition, for scale:"),
    ("code", """\
zl.summarize(analysed, by=["mode"], metrics=["f0_std_st", "speaking_rate"]).round(3)"""),
    ("md", "## Listen and look"),
    ("code", """\
one_voice = analysed[analysed["reference"].str.contains("AmericanFemale") & (analysed["seed"] == analysed["seed"].min())]
zl.show_grid(one_voice, rows="text", cols="mode")"""),
    ("md", "## The report\n\nOne self-contained HTML file for colleagues (audio and figures inline, emulator banner)."),
    ("code", """\
report = zl.write_report(RUN, max_audio=12)
report.name, report.stat().st_size < 30_000_000"""),
    ("code", "lab.close()"),
]

NOTEBOOKS["03_sampling_sweep"] = [
    ("md", """\
# 03 · Sampling settings: temperature × min_p, and top_k

Zonos 2 samples audio tokens with temperature → top_k → softmax → top_p → min_p (in that order). This
study sweeps temperature against min_p (and top_k separately) to see where prosody gets livelier and where
artefacts begin, with 2 seeds per cell to show the seed-to-seed spread.

> On the emulator these settings drive a prosody sampler built on the same pipeline (see the README's
> emulator section); the shapes of the curves are the emulator's, not Zonos 2's."""),
    ("code", SETUP + clean("03")),
    ("code", """\
spec = zl.SweepSpec.from_dict({
    "name": "temperature-x-min_p",
    "method": "grid",
    "parameters": {"temperature": {"values": [0.5, 1.15, 1.8]}, "min_p": {"values": [0.0, 0.18, 0.5]}},
    "fixed": {"accurate_mode": False, "top_k": 0, "max_tokens": 600},
    "texts": ["Every setting changes the melody of this sentence a little."],
    "references": ["data/voices/BritishFemale.mp3"],
    "seeds": 2, "sweep_seed": 3,
})
spec.dry_run()"""),
    ("code", """\
lab = zl.Lab(backend="emulator")
results = lab.sweep(spec, out=RUN, progress=False).run()
analysed = zl.analyze(results, metrics="fast", progress=False)
heat = analysed.pivot_table(index="temperature", columns="min_p", values="f0_std_st", aggfunc="mean")
heat.round(2)"""),
    ("code", """\
zl.metric_plot(analysed, x="temperature", y="f0_std_st", hue="min_p")"""),
    ("code", """\
zl.spectrogram_grid(analysed[analysed["seed"] == analysed["seed"].min()], rows="temperature", cols="min_p")"""),
    ("md", "## top_k: from greedy (1) to off (0)"),
    ("code", """\
spec_k = zl.SweepSpec.from_dict({
    "name": "top_k", "method": "grid",
    "parameters": {"top_k": {"values": [1, 8, 106, 0]}},
    "fixed": {"accurate_mode": False, "temperature": 1.5, "min_p": 0.0, "max_tokens": 600},
    "texts": ["Every setting changes the melody of this sentence a little."],
    "references": ["data/voices/BritishFemale.mp3"], "seeds": 2, "sweep_seed": 3,
})
res_k = zl.analyze(lab.sweep(spec_k, out=RUN / "top_k", progress=False).run(), metrics="fast", progress=False)
zl.summarize(res_k, by=["top_k"], metrics=["f0_std_st", "peak_dbfs"]).round(2)"""),
    ("code", "lab.close()"),
]

NOTEBOOKS["04_panel_and_magic"] = [
    ("md", """\
# 04 · The panel and the `%zonos` magic

The panel is an ipywidgets app: a *Generate* tab for single takes and a *Sweep* tab that counts takes before
you run them, runs in the background (the kernel stays free) and fills a results table as takes complete.
On a code host the widgets show as text; open the notebook in Jupyter to use them. The cells below also
drive the panel from code, exactly as the tests do."""),
    ("code", SETUP + clean("04")),
    ("code", """\
lab = zl.Lab(backend="emulator", runs_dir=RUN)
app = lab.panel()
app"""),
    ("md", "## `%zonos`: one take"),
    ("code", """\
%load_ext zonos_lab
%zonos config --backend emulator --ref data/voices/AmericanMale.mp3 --language en_us"""),
    ("code", """\
take = %zonos Magic makes a single take. --expressive --seed 11 --temperature 1.3
take.mode, take.seed, take.params.temperature, take.status"""),
    ("md", "Argument errors give a usage line, not a traceback:"),
    ("code-raises", "%zonos Too cold. --temperature -1"),
    ("md", "## `%%zonos`: a small sweep over the cell's text"),
    ("code", """\
%%zonos --sweep temperature=0.8,1.4 --sweep mode=accurate,expressive --seeds 1 --out runs/notebooks/04/magic
The cell body is the text of every take in this sweep."""),
    ("code", "lab.close()"),
]

NOTEBOOKS["05_listening_test"] = [
    ("md", """\
# 05 · A blind A/B listening test

Metrics are not the last word: listen. `listening_test` pairs takes that differ only in the compared field
(here accurate vs expressive), hides which is which, randomises the order, records every answer with the
hidden mapping, reveals it at the end and summarises the preference with a binomial 95 % CI.

When this notebook runs as a test, the answers are scripted (`answers=`); leave it out to click through
the widget yourself."""),
    ("code", SETUP + clean("05")),
    ("code", """\
lab = zl.Lab(backend="emulator")
spec = {"method": "grid", "parameters": {"accurate_mode": {"values": [True, False]}},
        "texts": ["Which of these two sounds more like the reference?", "Listen closely to the melody."],
        "references": ["data/voices/AmericanFemale.mp3"], "seeds": 2, "sweep_seed": 5,
        "fixed": {"max_tokens": 500}}
results = lab.sweep(spec, out=RUN, progress=False).run()
len(results)"""),
    ("code", """\
test = zl.listening_test(results, compare="mode", blind=True, answers=["A", "B", "A", "A"], seed=0, run_dir=RUN)
test.summary()"""),
    ("code", "test.answers[[c for c in test.answers.columns if c not in ('answered_at',)]]"),
    ("code", "lab.close()"),
]

NOTEBOOKS["06_reproducibility"] = [
    ("md", """\
# 06 · Reproducibility: does a seed give the same audio?

The hosted Zonos 2 batches requests and takes the minimum top_k / maximum top_p and min_p across a batch,
so a fixed seed is not guaranteed to reproduce under load. zonos-lab measures it instead of assuming it:
repeat takes, compare hashes and, where they differ, how far apart they are."""),
    ("code", SETUP + clean("06")),
    ("code", """\
lab = zl.Lab(backend="emulator")
spec = {"method": "grid", "parameters": {"temperature": {"values": [0.8, 1.5]}},
        "texts": ["The same seed should give the same voice."],
        "references": ["data/voices/AmericanMale.mp3"], "seeds": 2, "sweep_seed": 9,
        "fixed": {"max_tokens": 500}}
first = lab.sweep(spec, out=RUN / "first", progress=False).run()
first[["take_id", "temperature", "seed", "status", "duration"]]"""),
    ("md", "`reproduce` re-runs every take of a run with the same seeds on the recorded backend and compares:"),
    ("code", """\
again = zl.reproduce(RUN / "first", out=RUN / "again", progress=False)
again.summary"""),
    ("md", """\
Per take: identical samples or not (`pcm_sha256` hashes the decoded audio; the WAV files themselves always
differ, because each carries its own request id), the log-mel distance and metric deltas:"""),
    ("code", """\
cols = ["take_id", "identical", "pcm_sha256_old", "pcm_sha256_new", "mel_distance_db", "delta_f0_mean_hz", "delta_duration_s"]
again.table[cols].assign(pcm_sha256_old=again.table["pcm_sha256_old"].str[:12],
                         pcm_sha256_new=again.table["pcm_sha256_new"].str[:12])"""),
    ("md", """\
On the emulator every take is identical. The emulator can also imitate batch nondeterminism
(`EmulatorConfig(nondeterministic=True)`), which is what the real service may do under load:"""),
    ("code", """\
with zl.Emulator(config=zl.EmulatorConfig(nondeterministic=True)) as emu:
    noisy_lab = zl.Lab(api_key=emu.api_key, base_url=emu.base_url)
    noisy = noisy_lab.sweep(spec, out=RUN / "noisy", progress=False).run()
    noisy_lab.close()
both = pd.concat([first.assign(run="first"), noisy.assign(run="noisy")], ignore_index=True)
repeats = zl.reproducibility(both)
repeats[["temperature", "seed", "n_audio", "n_distinct_audio", "identical"]]"""),
    ("md", """\
How far apart the repeats are varies from run to run (the emulator draws its perturbation at random, as
a loaded server would), so this cell's numbers are not compared when the notebook runs as a test:"""),
    ("code", """\
# NBVAL_IGNORE_OUTPUT
repeats[["temperature", "seed", "mel_distance_db"]].round(2)"""),
    ("code", "lab.close()"),
]

NOTEBOOKS["07_real_api"] = [
    ("md", """\
# 07 · The real API

Everything in the other notebooks runs unchanged against the real Zonos 2 gateway: set `PIXAZO_API_KEY`
(and, if you need to, `PIXAZO_BASE_URL`) in the environment before starting Jupyter. The hosted API takes a
reference **URL**, not a file: host your clip somewhere the gateway can fetch it.

Without a key, the cells below say so and do nothing (this is what happens when the notebook runs in CI).
**Real calls cost money**: check `dry_run()` first."""),
    ("code", """\
import os
import zonos_lab as zl
HAVE_KEY = bool(os.environ.get("PIXAZO_API_KEY"))
print("PIXAZO_API_KEY is set: real calls will be made" if HAVE_KEY else "No PIXAZO_API_KEY: real-API cells are skipped")"""),
    ("code", """\
REFERENCE_URL = "https://pub-582b7213209642b9b995c96c95a30381.r2.dev/Reference.wav"  # the spec's example
spec = zl.SweepSpec.from_dict({"method": "grid", "parameters": {"accurate_mode": {"values": [True, False]}},
                               "texts": ["Hello from the real gateway."], "references": [REFERENCE_URL],
                               "seeds": [1, 2]})
spec.dry_run()"""),
    ("code", """\
if HAVE_KEY:
    lab = zl.Lab(backend="cloud")
    results = lab.sweep(spec, out="runs/real-api").run()
    display(results[["mode", "seed", "status", "duration", "total_seconds"]])
else:
    print("skipped: set PIXAZO_API_KEY to run this cell")"""),
]


def _cell(kind: str, src: str) -> nbformat.NotebookNode:
    if kind == "md":
        return new_markdown_cell(src)
    cell = new_code_cell(src)
    if kind == "code-raises":  # an error is the point of the cell (nbval and nbclient both honour the tag)
        cell.metadata["tags"] = ["raises-exception"]
    return cell


def build(names: list[str] | None = None) -> list[Path]:
    """Write the notebooks (without outputs) and return their paths."""
    written = []
    for name, cells in NOTEBOOKS.items():
        if names and not any(name.startswith(n) for n in names):
            continue
        path = NB_DIR / f"{name}.ipynb"
        nb = new_notebook(cells=[_cell(kind, src) for kind, src in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build(sys.argv[1:]):
        print(p.relative_to(ROOT))
