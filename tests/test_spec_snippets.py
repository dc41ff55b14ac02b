"""The vendor page's own curl, Python ``requests`` and JavaScript ``fetch`` examples, run against
``zonos-lab emulator`` (started as a subprocess through its CLI) with only the host and key changed.

The snippets are cut out of docs/zonos-2-api.md (the vendor's page, copied verbatim), not retyped.
Note: the page's Python example writes the JSON literals ``true`` / ``false`` inside a Python dict,
so as printed it is not valid Python; it is run with ``true, false = True, False`` defined first.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "docs" / "zonos-2-api.md"  # the vendor's page, verbatim, kept in the repo
GATEWAY = "https://gateway.pixazo.ai"
KEY = "spec-snippet-key-123"
EXAMPLE_ID = "zonos-2_019dxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
STATUSES = {"QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR"}



def _cut(lines: list[str], start: str, end: str) -> str:
    """The lines from the first one starting with `start` through the next one ending with `end`."""
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    j = next(n for n in range(i, len(lines)) if lines[n].rstrip().endswith(end))
    return "\n".join(lines[i:j + 1]) + "\n"


@pytest.fixture(scope="module")
def snippets() -> dict[str, str]:
    lines = SPEC_PATH.read_text().splitlines()
    out = {
        "python": _cut(lines, "import requests", "print(response.json())"),
        "javascript": _cut(lines, "const url = ", "console.log(data));"),
        "curl": _cut(lines, "curl -X POST", "}'"),
        "curl_status": _cut(lines, 'curl -H "Ocp-Apim-Subscription-Key', '"'),
    }
    for name, code in out.items():
        assert GATEWAY in code and (name == "curl_status" or "YOUR_API_KEY" in code), name
    return out


def _adapt(code: str, base_url: str) -> str:
    """Change only the host and the key."""
    return code.replace(GATEWAY, base_url).replace("YOUR_API_KEY", KEY)


@pytest.fixture(scope="module")
def cli_emulator():
    """``python -m zonos_lab.emulator.cli`` on a free port; yields its base URL (read from the banner)."""
    proc = subprocess.Popen([sys.executable, "-m", "zonos_lab.emulator.cli", "--port", "0", "--api-key", KEY,
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    banner: list[str] = []
    base = None
    deadline = time.monotonic() + 30
    while base is None:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"emulator CLI exited: {proc.stderr.read()}")
        banner.append(line)
        if m := re.search(r"base URL : (http://\S+)", line):
            base = m.group(1)
        assert time.monotonic() < deadline
    for _ in range(3):
        banner.append(proc.stdout.readline())
    text = "".join(banner)
    assert "EMULATOR — not Zonos" in text and KEY in text
    import httpx

    for _ in range(200):  # the banner is printed just before uvicorn listens
        try:
            httpx.get(base + "/")
            break
        except httpx.TransportError:
            time.sleep(0.02)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _check_accepted(data: dict, base: str) -> str:
    assert set(data) == {"request_id", "status", "polling_url"} and data["status"] == "QUEUED"
    assert re.fullmatch(r"zonos-2_[0-9a-f-]{36}", data["request_id"])
    assert data["polling_url"] == f"{base}/v2/requests/status/{data['request_id']}"
    return data["request_id"]


def _status(base: str, rid: str, snippets: dict[str, str]) -> dict:
    code = _adapt(snippets["curl_status"], base).replace(EXAMPLE_ID, rid)
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
    return json.loads(out)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_examples(snippets, cli_emulator):
    code = _adapt(snippets["curl"], cli_emulator)
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
    rid = _check_accepted(json.loads(out), cli_emulator)
    # the page's status example (its placeholder id replaced by the real one)
    deadline = time.monotonic() + 30
    while True:
        st = _status(cli_emulator, rid, snippets)
        assert st["request_id"] == rid and st["status"] in STATUSES and st["model_id"] == "zonos-2-emulator"
        if st["status"] in ("COMPLETED", "FAILED", "ERROR"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # the example's reference lives on the vendor's CDN, unreachable offline: a clear, charged FAILED
    assert st["status"] == "FAILED" and "reference_audio_url" in st["error"] and "r2.dev" in st["error"]


def test_python_requests_example(snippets, cli_emulator):
    pytest.importorskip("requests")
    code = "true, false = True, False  # the page writes JSON literals in Python\n" + _adapt(
        snippets["python"], cli_emulator)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    _check_accepted(ast.literal_eval(out.stdout.strip()), cli_emulator)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_javascript_fetch_example(snippets, cli_emulator):
    code = _adapt(snippets["javascript"], cli_emulator)
    out = subprocess.run(["node", "-e", code], capture_output=True, text=True, timeout=30, check=True,
                         env={**os.environ, "NODE_NO_WARNINGS": "1"})
    # node prints the object in its own notation: turn it into JSON
    text = re.sub(r"^(\s*)(\w+):", r'\1"\2":', out.stdout.replace("'", '"'), flags=re.M)
    _check_accepted(json.loads(text), cli_emulator)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_with_a_local_reference_completes_and_downloads(snippets, cli_emulator, tmp_path):
    """The same curl with a fetchable (loopback) reference: QUEUED → COMPLETED → a WAV via curl."""
    from zonos_lab.references import ReferenceServer

    with ReferenceServer() as refs:
        url = refs.url_for(ROOT / "data" / "voices" / "AmericanMale.mp3")
        code = _adapt(snippets["curl"], cli_emulator).replace(
            "https://pub-582b7213209642b9b995c96c95a30381.r2.dev/Reference.wav", url)
        out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
        rid = _check_accepted(json.loads(out), cli_emulator)
        deadline = time.monotonic() + 120
        while (st := _status(cli_emulator, rid, snippets))["status"] in ("QUEUED", "PROCESSING"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert st["status"] == "COMPLETED", st["error"]
    wav = tmp_path / "out.wav"
    subprocess.run(["curl", "-sf", "-o", str(wav), st["output"]["media_url"][0]], check=True, timeout=30)
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and len(data) == st["output"]["file_size"]
