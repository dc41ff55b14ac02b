"""The report's Jinja2 template and stylesheet (inline: the page loads nothing from anywhere)."""

from __future__ import annotations

__all__ = ["CSS", "TEMPLATE"]

CSS = """
:root { --fg:#1d232a; --muted:#5b6570; --line:#d9dee3; --accent:#2f5d8a; --warn:#8a5a00; --bad:#a3262a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1180px; padding: 0 20px 60px; }
h1 { font-size: 1.6em; margin: 24px 0 4px; } h2 { font-size: 1.25em; margin-top: 34px;
     border-bottom: 2px solid var(--line); padding-bottom: 4px; } h3 { font-size: 1.05em; }
.muted { color: var(--muted); } .small { font-size: .85em; }
.banner { background: #fff4d6; border: 2px solid #e0a800; color: #5c3d00; padding: 10px 14px;
          border-radius: 6px; margin: 14px 0; font-weight: 600; }
.banner.link { background: #e8f1fa; border-color: var(--accent); color: #17324d; font-weight: 500; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: .9em; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sig { font-weight: 700; color: #0b6b2f; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; }
figure { margin: 10px 0 22px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.card img { width: 100%; height: 64px; image-rendering: auto; display: block; }
.card audio { width: 100%; margin-top: 6px; } .card .id { font-weight: 600; font-size: .85em;
  word-break: break-all; } .card .coords { font-size: .8em; color: var(--muted); }
.failed { color: var(--bad); } code { background: #f3f5f7; padding: 0 3px; border-radius: 3px; }
nav a { margin-right: 12px; } pre { background: #f7f8fa; padding: 8px; overflow-x: auto; font-size: .82em; }
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="zonos-lab {{ version }}">
<title>{{ title }}{% if emulator %} (emulator){% endif %}</title>
<style>{{ css }}</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="muted">Run <code>{{ run_name }}</code> · created {{ created_at or "unknown" }}
 · report written {{ written_at }} by zonos-lab {{ version }}</div>
{% if emulator %}
<div class="banner" id="emulator-banner" role="alert">EMULATOR — this audio was produced by the offline
 zonos-lab emulator ({{ model_id }}), not by the Zonos 2 service. Metrics describe the emulator's engine,
 not the real model.</div>
{% endif %}
{% if reproduces %}
<div class="banner link" id="reproduces">This run reproduces
 {% if reproduces.href %}<a href="{{ reproduces.href }}">{{ reproduces.label }}</a>{% else %}<code>{{ reproduces.label }}</code>{% endif %}
 (same requests, same seeds).
 {% if reproduces.summary %}<br>{{ reproduces.summary }}{% endif %}</div>
{% endif %}
<nav class="small"><a href="#summary">Summary</a><a href="#comparison">Comparison</a><a href="#plots">Plots</a>
<a href="#takes">Spectrograms &amp; audio</a><a href="#reproducibility">Reproducibility</a>
<a href="#environment">Environment</a></nav>

<h2 id="summary">Summary</h2>
{% if description %}<p>{{ description }}</p>{% endif %}
<dl class="kv">
{% for k, v in summary %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}</dl>
{% if swept %}<h3>What was swept</h3>
<table><tr><th>field</th><th>values</th></tr>
{% for name, values in swept %}<tr><td><code>{{ name }}</code></td><td>{{ values }}</td></tr>{% endfor %}
</table>{% endif %}
{% if fixed %}<h3>Held fixed</h3>
<table><tr><th>field</th><th>value</th></tr>
{% for name, value in fixed %}<tr><td><code>{{ name }}</code></td><td>{{ value }}</td></tr>{% endfor %}
</table>{% endif %}
<h3>Takes by status</h3>
<table><tr><th>status</th><th>takes</th></tr>
{% for status, n in counts %}<tr><td>{{ status }}</td><td class="num">{{ n }}</td></tr>{% endfor %}
</table>
{% if failures %}<h3 class="failed" id="failures">Failures and why</h3>
<table><tr><th>status</th><th>reason</th><th>takes</th><th>take ids</th></tr>
{% for f in failures %}<tr><td>{{ f.status }}</td><td>{{ f.error }}</td><td class="num">{{ f.n }}</td>
<td class="small">{{ f.take_ids }}</td></tr>{% endfor %}
</table>{% endif %}
{% if notes %}<ul class="small muted">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}

<h2 id="comparison">Comparison</h2>
{% if comparison %}
<p>Paired comparison by <code>{{ comparison.by }}</code>: takes pair when every other request field (text,
reference, seed, sampling settings) matches. Mean difference B − A with a 95 % percentile-bootstrap CI;
p = two-sided Wilcoxon signed-rank (bold when p &lt; 0.05); d<sub>z</sub> = paired Cohen's d.</p>
{{ comparison.table }}
{% if comparison.figure %}<figure><img src="{{ comparison.figure }}" alt="paired differences by {{ comparison.by }}">
<figcaption>Paired differences (B − A) with 95 % CIs.</figcaption></figure>{% endif %}
<h3>Per group (mean, 95 % t-interval across takes)</h3>
{{ comparison.summary }}
{% else %}<p class="muted">{{ comparison_note }}</p>{% endif %}

<h2 id="plots">Metrics against parameters</h2>
{% for fig in plots %}<figure><img src="{{ fig.src }}" alt="{{ fig.alt }}"><figcaption>{{ fig.caption }}</figcaption></figure>
{% else %}<p class="muted">{{ plots_note }}</p>{% endfor %}
{% if metric_help %}<details><summary class="small">What the metrics mean</summary><table>
{% for name, text in metric_help %}<tr><td><code>{{ name }}</code></td><td class="small">{{ text }}</td></tr>{% endfor %}
</table></details>{% endif %}

<h2 id="takes">Spectrograms and audio</h2>
{% if grid %}<figure><img src="{{ grid.src }}" alt="spectrogram grid"><figcaption>{{ grid.caption }}</figcaption></figure>{% endif %}
<p class="small muted">{{ players_note }}</p>
<div class="cards">
{% for c in cards %}<div class="card" id="take-{{ c.take_id }}">
<div class="id">{{ c.take_id }}</div><div class="coords">{{ c.coords }}</div>
{% if c.thumb %}<img src="{{ c.thumb }}" alt="spectrogram of {{ c.take_id }}">{% endif %}
{% if c.audio %}<audio controls preload="metadata" src="{{ c.audio }}" data-take="{{ c.take_id }}"></audio>{% endif %}
</div>{% endfor %}
</div>

<h2 id="reproducibility">Reproducibility</h2>
<p>{{ repro.note }}</p>
{% if repro.table %}{{ repro.table }}{% endif %}
{% if repro.comparison %}<h3>Against the reproduced run</h3><p>{{ repro.comparison_note }}</p>
{% if repro.spread %}<p class="small">Metric changes (new − original) across takes:</p>{{ repro.spread }}{% endif %}
{{ repro.comparison }}{% endif %}

<h2 id="environment">Environment</h2>
<dl class="kv">{% for k, v in environment %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
{% if references %}<h3>References</h3><table><tr><th>reference</th><th>sha256</th><th>duration (s)</th></tr>
{% for r in references %}<tr><td class="small">{{ r.name }}</td><td class="small"><code>{{ r.sha256 }}</code></td>
<td class="num">{{ r.duration }}</td></tr>{% endfor %}</table>{% endif %}
<h3>Packages</h3><table><tr><th>package</th><th>in the run</th><th>when this report was written</th></tr>
{% for name, then, now in packages %}<tr><td>{{ name }}</td><td>{{ then }}</td><td>{{ now }}</td></tr>{% endfor %}
</table>
<p class="small muted">Files next to this report: <code>manifest.json</code> (spec, every request and seed),
<code>results.parquet</code>/<code>results.csv</code>, <code>metrics.parquet</code>, <code>audio/</code>,
<code>figures/</code>. Re-run the same takes with <code>zonos-lab reproduce {{ run_name }}</code>.</p>
</body>
</html>
"""
