"""The report in a real browser: headless Chromium over the DevTools protocol (pipe transport).

Checks that every image decoded, every <audio> has a source the browser can play (metadata loaded,
duration matching the take), nothing was fetched from the network and the console stayed clean.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cdp import Browser, chromium_binary
from report_fixtures import ANALYSIS_CACHE, build_run

pytestmark = pytest.mark.browser

CHROMIUM = chromium_binary()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (/usr/bin/chromium): run "
                                                              "scripts/install-browser")

CHECK_JS = r"""
(async () => {
  const imgs = [...document.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth,
                                               h: i.naturalHeight}));
  const audios = [];
  for (const a of document.querySelectorAll('audio')) {
    const src = a.currentSrc || a.getAttribute('src') || '';
    const mime = src.startsWith('data:') ? src.slice(5, src.indexOf(';'))
               : src.toLowerCase().endsWith('.wav') ? 'audio/wav' : '';
    const loaded = await new Promise(resolve => {
      if (a.readyState >= 1) return resolve(true);
      const timer = setTimeout(() => resolve(false), 20000);
      a.addEventListener('loadedmetadata', () => { clearTimeout(timer); resolve(true); }, {once: true});
      a.addEventListener('error', () => { clearTimeout(timer); resolve(false); }, {once: true});
      a.load();
    });
    audios.push({take: a.dataset.take, scheme: src.split(':')[0], mime, can: a.canPlayType(mime), loaded,
                 duration: a.duration, error: a.error ? a.error.code : null});
  }
  return {imgs, audios, banner: !!document.getElementById('emulator-banner'),
          external: [...document.querySelectorAll('[src],[href]')]
              .map(e => e.getAttribute('src') || e.getAttribute('href'))
              .filter(u => /^(https?:)?\/\//i.test(u))};
})()
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZONOS_LAB_CACHE", str(ANALYSIS_CACHE))
        yield build_run(tmp_path_factory.mktemp("browser") / "run")


def _open(url: str, shot: Path) -> tuple[dict, list[str], list[str]]:
    assert CHROMIUM is not None
    with Browser(CHROMIUM) as browser:
        browser.open_page()
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        browser.navigate(url)
        result = browser.evaluate(CHECK_JS, timeout=90)
        png = browser.screenshot()
        shot.write_bytes(png)
        return result, browser.console_errors(), browser.requested_urls()


def _check(result: dict, errors: list[str], urls: list[str], durations: dict[str, float], shot: Path) -> None:
    assert result["imgs"], "the report shows no images"
    bad_imgs = [i for i in result["imgs"] if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
    assert not bad_imgs, f"images that did not decode: {bad_imgs}"
    assert result["audios"], "the report has no players"
    for a in result["audios"]:
        assert a["can"] in ("probably", "maybe"), f"{a['take']}: browser cannot play {a['mime']!r}"
        assert a["loaded"] and a["error"] is None, f"{a['take']}: audio did not load ({a})"
        assert a["duration"] == pytest.approx(durations[a["take"]], abs=0.05), a
    assert not result["external"], f"network references in the page: {result['external']}"
    remote = [u[:80] for u in urls if not u.startswith(("data:", "file:", "about:"))]
    assert not remote, f"the page fetched from the network: {remote}"
    assert not errors, f"console errors: {errors}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _durations(run_dir: Path) -> dict[str, float]:
    df = pd.read_parquet(run_dir / "results.parquet")
    return {str(t): float(d) for t, d in zip(df["take_id"], df["duration"], strict=True) if pd.notna(d)}


@needs_chromium
def test_embedded_report_loads_cleanly_in_chromium(run_dir: Path, tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    # a colleague opens it from somewhere else: copy only the HTML file
    report = write_report(run_dir, max_audio=6)
    alone = tmp_path / "mail" / "report.html"
    alone.parent.mkdir()
    shutil.copy(report, alone)
    result, errors, urls = _open(alone.as_uri(), tmp_path / "shot.png")
    assert len(result["audios"]) == 6
    assert all(a["scheme"] == "data" for a in result["audios"])
    assert result["banner"], "emulator run without the emulator banner"
    _check(result, errors, urls, _durations(run_dir), tmp_path / "shot.png")


@needs_chromium
def test_linked_audio_report_plays_files_next_to_it(run_dir: Path, tmp_path: Path) -> None:
    from zonos_lab.report import write_report

    copy = tmp_path / "copied-run"
    shutil.copytree(run_dir, copy)  # opened after the run directory moved
    report = write_report(copy, embed_audio=False, out=copy / "linked.html", max_audio=100)
    text = report.read_text(encoding="utf-8")
    assert "data:audio" not in text
    result, errors, urls = _open(report.as_uri(), tmp_path / "linked.png")
    n_audio = int(pd.read_parquet(copy / "results.parquet")["status"].eq("COMPLETED").sum())
    assert len(result["audios"]) == n_audio
    assert all(a["scheme"] == "file" for a in result["audios"])
    _check(result, errors, urls, _durations(copy), tmp_path / "linked.png")
