"""The package as a whole: lazy top-level imports, every advertised name resolves, the CLI dispatches."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zonos_lab
from zonos_lab import cli

HEAVY = ("librosa", "matplotlib", "torch", "piper", "ipywidgets", "IPython", "pandas", "scipy", "onnxruntime",
         "starlette", "uvicorn", "httpx")


def test_import_is_lazy() -> None:
    """`import zonos_lab` must not pull in heavy libraries (run in a fresh interpreter)."""
    code = ("import sys, json, zonos_lab; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", sorted(zonos_lab._EXPORTS))
def test_every_export_resolves(name: str) -> None:
    assert getattr(zonos_lab, name) is not None
    assert name in dir(zonos_lab)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        zonos_lab.no_such_thing  # noqa: B018


def test_cli_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "sweep", "report", "reproduce", "emulator", "doctor"):
        assert name in out, name


def test_cli_without_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out.lower()


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "zonos_lab.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert zonos_lab.__version__ in out.stdout
