"""The ``%zonos`` / ``%%zonos`` IPython magics (``%load_ext zonos_lab``).

Example (in a notebook):
    %load_ext zonos_lab
    %zonos config --backend emulator --ref data/voices/AmericanFemale.mp3 --language en_us
    take = %zonos Hello there, how are you? --expressive --seed 7 --temperature 1.3
    %%zonos --sweep temperature=0.8,1.0,1.2 --sweep mode=accurate,expressive --seeds 3
    The quick brown fox jumps over the lazy dog.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from zonos_lab.errors import InvalidParameter, ZonosError
from zonos_lab.params import FIELD_SPECS, LANGUAGES, GenerationParams, seconds_to_frames

log = logging.getLogger(__name__)

__all__ = ["ZonosMagics", "load_ipython_extension"]

_OPTION_START = re.compile(r"(?:^|\s)--?[A-Za-z]")
_SAMPLING = ("temperature", "top_p", "min_p", "top_k", "max_tokens", "seed", "language")
BACKENDS = ("auto", "emulator", "cloud")
USAGE = ("usage: %zonos TEXT [--ref PATH|URL] [--expressive] [--seed N] [--temperature T] [--top-k K] ...\n"
         "       %%zonos [--sweep FIELD=V1,V2 ...] [--seeds N] (cell body = text)\n"
         "       %zonos config [--backend emulator|cloud] [--ref PATH] [--language CODE] ...\n"
         "       %zonos? shows every option")


def _split_text(line: str) -> tuple[str, str]:
    """``"Hello there --seed 7"`` → ``("Hello there", "--seed 7")``: the text is what precedes the first option."""
    m = _OPTION_START.search(line)
    if m is None:
        return line.strip(), ""
    return line[: m.start()].strip(), line[m.start():].strip()


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


@magics_class
class ZonosMagics(Magics):
    """``%zonos`` (one take, or a sweep with ``--sweep``), ``%%zonos`` (cell body = text) and ``%zonos config``.

    Attributes:
        lab: the session's `Lab` (created on first use from the config; assign one to use your own).
        settings: session defaults set with ``%zonos config``.
    """

    def __init__(self, shell: Any = None, lab: Any = None) -> None:
        super().__init__(shell)
        self._lab = lab
        self._own_lab = False
        self.settings: dict[str, Any] = {"backend": "auto", "ref": None, "runs_dir": "runs", "defaults": {}}
        self.last: Any = None

    # -- the Lab --------------------------------------------------------------------------------

    @property
    def lab(self) -> Any:
        """The `Lab` the magics use (``Lab(backend=config backend, runs_dir=...)`` on first use)."""
        if self._lab is None:
            from zonos_lab.lab import Lab

            self._lab = Lab(backend=self.settings["backend"], runs_dir=self.settings["runs_dir"])
            self._own_lab = True
        return self._lab

    @lab.setter
    def lab(self, value: Any) -> None:
        self._drop_lab()
        self._lab = value

    def _drop_lab(self) -> None:
        if self._lab is not None and self._own_lab:
            try:
                self._lab.close()
            except Exception:
                log.warning("closing the previous Lab failed", exc_info=True)
        self._lab, self._own_lab = None, False

    # -- the magic ------------------------------------------------------------------------------

    @magic_arguments()
    @argument("text", nargs="*", help="the text to speak (line form; the cell body in %%%%zonos). "
              "Write 'config' first to set session defaults instead.")
    @argument("--ref", help="reference voice: a local audio file or an http(s) URL")
    @argument("--language", choices=LANGUAGES, help="text-normalisation language")
    @argument("--expressive", action="store_true", help="expressive mode (accurate_mode=false)")
    @argument("--accurate", action="store_true", help="accurate mode (the default)")
    @argument("--clean", action="store_true", help="mark the reference background as clean")
    @argument("--temperature", type=float, help="sampling temperature, 0–2 (default 1.15)")
    @argument("--top-p", "--top_p", dest="top_p", type=float, help="nucleus sampling, 0–1 (0 = off)")
    @argument("--min-p", "--min_p", dest="min_p", type=float, help="min-p threshold, 0–1 (default 0.18)")
    @argument("--top-k", "--top_k", dest="top_k", type=int, help="top-k cutoff, 0–2048 (0 = off)")
    @argument("--max-tokens", "--max_tokens", dest="max_tokens", type=int,
              help="maximum audio frames, 1–6144 (86.13 per second)")
    @argument("--seconds", type=float, help="maximum length in seconds (sets --max-tokens)")
    @argument("--seed", type=int, help="random seed (default: a random one, recorded in the take)")
    @argument("--sweep", action="append", default=[], metavar="FIELD=V1,V2,...",
              help="sweep a field over values (repeatable), e.g. temperature=0.8,1.2 or mode=accurate,expressive; "
                   "ref=a.wav,b.wav sweeps references")
    @argument("--seeds", help="sweep seeds: a count (3) or a list (1,2,7)")
    @argument("--lines", action="store_true", help="%%%%zonos: each non-empty line of the cell is a separate text")
    @argument("--out", help="run directory of the sweep (default runs/magic-<spec hash>: running the same "
              "cell again resumes it)")
    @argument("--rows", help="grid rows field (default: the first swept field)")
    @argument("--cols", help="grid columns field (default: mode, or the second swept field)")
    @argument("--concurrency", type=int, default=4, help="takes in flight at once (sweeps)")
    @argument("--price", type=float, help="price per take (shown as cost; sweeps)")
    @argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
              help="only show how many takes a sweep would make (and its cost)")
    @argument("--as", dest="as_var", metavar="NAME", help="also store the result in this variable")
    @argument("--no-display", dest="no_display", action="store_true", help="return the result, show nothing")
    @argument("--backend", choices=BACKENDS, help="config: 'emulator', 'cloud' or 'auto'")
    @argument("--runs-dir", "--runs_dir", dest="runs_dir", help="config: where runs and takes are saved")
    @argument("--reset", action="store_true", help="config: forget all session defaults")
    @line_cell_magic
    def zonos(self, line: str = "", cell: str | None = None) -> Any:
        """Generate speech with Zonos 2 (or its offline emulator) from a notebook.

        One take (shown as a player + spectrogram, and returned)::

            take = %zonos Hello there --ref data/voices/AmericanMale.mp3 --expressive --seed 7 --temperature 1.3

        A sweep: the cell body is the text; shows a grid of players and a table, returns the Sweep::

            %%zonos --ref data/voices/AmericanMale.mp3 --sweep temperature=0.8,1.0,1.2 --sweep mode=accurate,expressive --seeds 3
            The quick brown fox jumps over the lazy dog.

        Session defaults (used by every later call; `%zonos config` alone shows them)::

            %zonos config --backend emulator --ref data/voices/BritishFemale.mp3 --language en_gb --temperature 1.0
        """
        text, opts = _split_text(line)
        args = self._parse(opts)
        if text.split(maxsplit=1)[:1] == ["config"] and cell is None:
            rest = text.split(maxsplit=1)[1:]
            if rest:
                raise UsageError(f"unexpected words after 'config': {rest[0]!r}\n{self._usage()}")
            self._configure(args)
            return None
        if cell is not None:
            body = cell.strip("\n")
            texts = [t.strip() for t in body.splitlines() if t.strip()] if args.lines else \
                ([" ".join(t.strip() for t in body.splitlines() if t.strip())] if body.strip() else [])
            if text:
                texts = [_unquote(text), *texts]
        else:
            texts = [_unquote(text)] if text else []
        if not texts:
            raise UsageError("no text: write it after %zonos (or in the cell body of %%zonos)\n" + self._usage())
        try:
            if cell is not None or args.sweep or args.seeds or len(texts) > 1:
                return self._run_sweep(texts, args, line, cell is not None or self._is_cell_result(line))
            return self._say(texts[0], args, line)
        except InvalidParameter as exc:
            raise UsageError(f"{exc}\n{self._usage()}") from None

    # -- parsing --------------------------------------------------------------------------------

    def _usage(self) -> str:
        return USAGE

    def _parse(self, opts: str) -> Any:
        try:
            argv = shlex.split(opts)
        except ValueError as exc:
            raise UsageError(f"could not read the options ({exc}): check the quotes\n{self._usage()}") from None
        try:
            args = self.zonos.parser.parse_args(argv)
        except UsageError as exc:
            raise UsageError(f"{exc}\n{self._usage()}") from None
        if args.text:  # words after the options: not allowed (the text comes first)
            raise UsageError(f"unexpected words after the options: {' '.join(args.text)!r} "
                             f"(write the text before the first --option)\n{self._usage()}")
        if args.expressive and args.accurate:
            raise UsageError("--expressive and --accurate exclude each other\n" + self._usage())
        return args

    def _request(self, args: Any) -> dict[str, Any]:
        """Session defaults overlaid with this call's options (request fields only)."""
        req = dict(self.settings["defaults"])
        for name in _SAMPLING:
            value = getattr(args, name, None)
            if value is not None:
                req[name] = value
        if args.seconds is not None:
            if args.max_tokens is not None:
                raise InvalidParameter("seconds", args.seconds, "either --seconds or --max-tokens, not both")
            if args.seconds <= 0:
                raise InvalidParameter("seconds", args.seconds, "a positive number of seconds (at most 71.3)")
            req["max_tokens"] = seconds_to_frames(args.seconds)
        if args.expressive:
            req["accurate_mode"] = False
        elif args.accurate:
            req["accurate_mode"] = True
        if args.clean:
            req["clean_speaker_background"] = True
        GenerationParams(reference_audio_url="https://example.org/ref.wav", **req)  # typed error now
        return req

    def _configure(self, args: Any) -> None:
        if args.reset:
            self._drop_lab()
            self.settings = {"backend": "auto", "ref": None, "runs_dir": "runs", "defaults": {}}
        try:
            req = self._request(args)
        except InvalidParameter as exc:
            raise UsageError(f"{exc}\n{self._usage()}") from None
        if args.seed is not None:
            req.pop("seed", None)
            print("note: --seed is not kept as a session default (every take gets its own seed)", file=sys.stderr)
        if args.backend and args.backend != self.settings["backend"]:
            self.settings["backend"] = args.backend
            if getattr(self._lab, "backend", None) != args.backend:
                self._drop_lab()  # the next call starts a Lab on the new backend
        if args.runs_dir:
            self.settings["runs_dir"] = args.runs_dir
            if self._lab is not None and self._own_lab:
                self._lab.runs_dir = Path(args.runs_dir)
        if args.ref:
            self._check_ref(args.ref)
            self.settings["ref"] = args.ref
        self.settings["defaults"] = req
        shown = {"backend": self.settings["backend"], "ref": self.settings["ref"], "runs_dir": self.settings["runs_dir"],
                 **self.settings["defaults"]}
        print("zonos session defaults: " + ", ".join(f"{k}={v}" for k, v in shown.items() if v is not None))

    @staticmethod
    def _check_ref(ref: str) -> None:
        if not re.match(r"^https?://", ref) and not Path(ref).exists():
            raise UsageError(f"reference not found: {ref!r} (give an existing audio file or an http(s) URL)")

    # -- actions --------------------------------------------------------------------------------

    def _display(self, obj: Any, line: str, args: Any, force: bool = False) -> None:
        if args.no_display:
            return
        if force or not self._is_cell_result(line):
            from IPython.display import display

            display(obj)

    def _is_cell_result(self, line: str) -> bool:
        """True when this magic is the last expression of the running cell (IPython will show its result)."""
        try:
            hist = self.shell.user_ns.get("_ih") or []
            src = hist[-1] if hist else ""
            tree = ast.parse(src)
        except Exception:
            return False
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            return False
        call = tree.body[-1].value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "run_line_magic" and len(call.args) >= 2):
            return False
        name, arg = call.args[0], call.args[1]
        return (isinstance(name, ast.Constant) and name.value == "zonos" and isinstance(arg, ast.Constant)
                and str(arg.value).strip() == line.strip())

    def _store(self, value: Any, args: Any) -> Any:
        self.last = value
        if args.as_var:
            if not args.as_var.isidentifier():
                raise UsageError(f"--as needs a Python name, got {args.as_var!r}")
            self.shell.user_ns[args.as_var] = value
        return value

    def _ref(self, args: Any) -> str | None:
        ref = args.ref or self.settings["ref"]
        if ref:
            self._check_ref(ref)
        return ref

    def _say(self, text: str, args: Any, line: str) -> Any:
        req = self._request(args)
        GenerationParams(reference_audio_url="https://example.org/ref.wav", text=text, **req)
        ref = self._ref(args)
        try:
            take = self.lab.say(text, ref=ref, **req)
        except InvalidParameter:
            raise
        except ZonosError as exc:
            log.error("%%zonos failed", exc_info=exc)
            print(f"zonos: the take failed: {exc}", file=sys.stderr)
            return None
        self._store(take, args)
        if not take.ok:
            print(f"zonos: the take ended {take.status}: {take.error or 'no audio'}", file=sys.stderr)
        self._display(take, line, args)
        return take

    def _spec(self, texts: list[str], args: Any) -> tuple[dict[str, Any], list[str]]:
        from zonos_lab.notebook.app import parse_seeds, parse_values

        fixed = self._request(args)
        parameters: dict[str, Any] = {}
        swept: list[str] = []
        mode: list[str] | None = None
        refs: list[str] | None = None
        for item in args.sweep:
            if "=" not in item:
                raise InvalidParameter("--sweep", item, "FIELD=V1,V2,... e.g. temperature=0.8,1.2")
            name, values = (s.strip() for s in item.split("=", 1))
            name = name.replace("-", "_")
            if name in swept:
                raise InvalidParameter("--sweep", name, "each field once")
            if name in ("ref", "reference", "references"):
                refs = [v.strip() for v in values.split(",") if v.strip()]
                for r in refs:
                    self._check_ref(r)
                swept.append("reference")
                continue
            if name == "accurate_mode":
                name, values = "mode", ",".join("accurate" if v.strip().lower() in ("true", "1") else "expressive"
                                                for v in values.split(","))
            if name not in ("mode", *FIELD_SPECS) or name in ("text", "reference_audio_url", "seed"):
                raise InvalidParameter("--sweep", name, "a field: mode, ref, " + ", ".join(
                    f for f in FIELD_SPECS if f not in ("text", "reference_audio_url", "seed")) +
                    " (seeds: use --seeds)")
            parsed = parse_values(name, values)
            swept.append(name)
            if name == "mode":
                mode = parsed
                fixed.pop("accurate_mode", None)
            else:
                parameters[name] = {"values": parsed}
                fixed.pop(name, None)
        seed = fixed.pop("seed", None)
        seeds: Any = parse_seeds(args.seeds) if args.seeds else ([seed] if seed is not None else 1)
        if refs is None:
            ref = self._ref(args)
            refs = [ref] if ref else None
        spec: dict[str, Any] = {"name": "magic", "method": "grid", "parameters": parameters, "fixed": fixed,
                                "seeds": seeds, "texts": texts}
        if refs:
            spec["references"] = refs
        if mode:
            spec["mode"] = mode
        if args.price is not None:
            spec["price_per_take"] = args.price
        if len(texts) > 1:
            swept.append("text")
        return spec, swept

    def _run_sweep(self, texts: list[str], args: Any, line: str, auto_shown: bool) -> Any:
        spec, swept = self._spec(texts, args)
        # Default run directory: named after the spec, so running the same cell again resumes it
        # (completed takes are reused, never paid twice); give --out for a separate run.
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]
        out = Path(args.out) if args.out else Path(self.settings["runs_dir"]) / f"magic-{digest}"
        if args.dry_run:
            from zonos_lab.sweep import SweepSpec

            counted = dict(spec)
            counted.setdefault("references", ["https://example.org/voice.wav"])  # the session's default voice
            dry = SweepSpec.from_dict(counted).dry_run(price_per_take=args.price)
            self._store(dry, args)
            if not auto_shown and not args.no_display:
                from IPython.display import display

                display(dry)
            return dry
        sweep = self.lab.sweep(spec, out, concurrency=args.concurrency, progress=True)
        try:
            sweep.run()
        except KeyboardInterrupt:  # "interrupt the kernel" = cancel; what is done is kept
            print(f"zonos: sweep interrupted. Takes already submitted keep their request ids; run the same cell "
                  f"again to resume it (run directory {out}).", file=sys.stderr)
        except InvalidParameter:
            raise
        except ZonosError as exc:  # e.g. out of credit: keep what is done and say so
            log.error("%%zonos sweep stopped", exc_info=exc)
            print(f"zonos: the sweep stopped: {exc}", file=sys.stderr)
        self._store(sweep, args)
        rows, cols = args.rows, args.cols
        vary = [s for s in swept if s != "mode"]
        if rows is None:
            rows = vary[0] if vary else ("seed" if "mode" in swept else None)
        if cols is None:
            cols = "mode" if "mode" in swept and rows != "mode" else (vary[1] if len(vary) > 1 else None)
        if not args.no_display:
            from zonos_lab.notebook.grid import show_grid

            try:
                grid = show_grid(sweep, rows=rows, cols=cols, seed="first")
                self._display(grid, line, args, force=True)
            except ZonosError as exc:
                print(f"zonos: no grid to show: {exc}", file=sys.stderr)
        if not auto_shown and not args.no_display:  # the progress/summary table (else IPython shows the result)
            from IPython.display import display

            display(sweep)
        return sweep


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext zonos_lab``: register ``%zonos`` and ``%%zonos``."""
    ipython.register_magics(ZonosMagics(ipython))


def magics_of(ipython: Any) -> ZonosMagics:
    """The registered `ZonosMagics` instance (to set ``.lab`` or read ``.config``)."""
    return ipython.magics_manager.registry["ZonosMagics"]
