"""`SweepSpec`: a W&B-shaped sweep configuration, expanded into validated `Trial`s.

A spec names the dimensions of a study: request fields (``parameters``), ``texts``, ``references``
(voices), ``mode`` (accurate / expressive) and ``seeds``. ``method`` says how they combine:

* ``grid``   — every combination (cartesian product);
* ``random`` — ``count`` settings of ``parameters`` drawn with a seeded RNG (``sweep_seed``), each crossed
  with the texts, references, modes and seeds;
* ``zip``    — the i-th value of every listed dimension together (lists of length 1 broadcast),
  crossed with the seeds.

Every trial is validated with `GenerationParams` before anything is sent; invalid ones are reported
with their coordinates. Expansion is deterministic, and each trial's `take_id` is a hash of its
coordinates and request, so re-running a spec finds the same takes in the journal.

Example:
    >>> spec = SweepSpec.from_dict({
    ...     "name": "temp", "method": "grid",
    ...     "parameters": {"temperature": {"values": [0.8, 1.15]}},
    ...     "mode": ["accurate", "expressive"], "seeds": [1, 2],
    ...     "fixed": {"max_tokens": 862}, "references": ["https://x.org/voice.wav"],
    ... })
    >>> trials = spec.expand()
    >>> len(trials), trials[0].coords["mode"], trials[0].params.seed
    (8, 'accurate', 1)
    >>> round(spec.dry_run(price_per_take=0.05).cost, 2)
    0.4
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from zonos_lab.errors import InvalidParameter
from zonos_lab.params import FIELD_SPECS, MAX_SEED, MAX_TOKENS_LIMIT, GenerationParams, frames_to_seconds

__all__ = ["LOCAL_PLACEHOLDER", "METHODS", "DryRun", "SweepSpec", "Trial", "is_url", "load_spec_file"]

METHODS = ("grid", "random", "zip")
DISTRIBUTIONS = ("uniform", "log_uniform", "log_uniform_values", "int_uniform", "categorical")
MODES = {"accurate": True, "expressive": False}
#: Placeholder host for local reference files before they are served (``.invalid`` is reserved).
LOCAL_PLACEHOLDER = "http://local-reference.invalid/"
TOP_LEVEL_KEYS = ("name", "description", "method", "parameters", "seeds", "sweep_seed", "fixed", "texts",
                  "references", "mode", "count", "repeats", "price_per_take", "metric", "program")
#: parameters entries that are really study dimensions, with the dimension they map to
_ALIASES = {"text": "texts", "texts": "texts", "reference": "references", "references": "references",
            "reference_audio_url": "references", "seed": "seeds", "seeds": "seeds", "mode": "mode"}


def is_url(ref: str) -> bool:
    """True for http(s) URLs (anything else is treated as a local file)."""
    parts = urlsplit(str(ref))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _bad(field_: str, value: Any, allowed: str, reason: str | None = None) -> InvalidParameter:
    return InvalidParameter(field_, value, allowed, reason)


@dataclass(frozen=True)
class Trial:
    """One planned take: its id, validated request, coordinates in the sweep, and reference as given.

    For a local reference file, ``params.reference_audio_url`` is a placeholder until the runner
    serves the file (`is_local`).
    """

    take_id: str
    params: GenerationParams
    coords: dict[str, Any]
    reference: str
    index: int = 0

    @property
    def is_local(self) -> bool:
        """True when the reference is a local file (served to the backend at run time)."""
        return not is_url(self.reference)

    def request(self) -> dict[str, Any]:
        """The request JSON (with the placeholder URL for local references)."""
        return self.params.to_request_json()


@dataclass(frozen=True)
class ParamDim:
    """One swept request field: a list of values or a random distribution."""

    name: str
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    distribution: str | None = None

    def sample(self, rng: random.Random) -> Any:
        if self.values is not None:
            return self.values[rng.randrange(len(self.values))]
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        if self.distribution == "int_uniform":
            return rng.randint(int(lo), int(hi))
        if self.distribution in ("log_uniform", "log_uniform_values"):
            return round(math.exp(rng.uniform(math.log(lo), math.log(hi))), 6)
        return round(rng.uniform(lo, hi), 6)


@dataclass
class DryRun:
    """What a sweep would do: number of takes, audio seconds requested at most, and cost.

    Attributes:
        n_takes: trials in the sweep.
        max_audio_seconds: upper bound of audio requested (``max_tokens``, or 6144 frames when unset).
        price_per_take: the price you gave (None = unknown).
        cost: ``n_takes × price_per_take`` (None when no price was given).
        dims: each dimension and its number of values.
    """

    name: str
    method: str
    n_takes: int
    max_audio_seconds: float
    price_per_take: float | None
    cost: float | None
    dims: dict[str, int] = field(default_factory=dict)
    unbounded_takes: int = 0

    def __str__(self) -> str:
        dims = " × ".join(f"{n} {k}" for k, n in self.dims.items()) or "1"
        secs = self.max_audio_seconds
        text = (f"sweep {self.name!r} ({self.method}): {self.n_takes} takes [{dims}], "
                f"at most {secs:.0f} s of audio ({secs / 60:.1f} min)")
        if self.unbounded_takes:
            text += f" ({self.unbounded_takes} without max_tokens counted at {MAX_TOKENS_LIMIT} frames)"
        if self.cost is not None:
            text += f", cost {self.cost:.2f} at {self.price_per_take:g} per take"
        else:
            text += ", cost unknown (give price_per_take)"
        return text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in self.dims.items())
        cost = "unknown" if self.cost is None else f"{self.cost:.2f}"
        return (f"<div><b>{html.escape(self.name)}</b> ({self.method}): <b>{self.n_takes}</b> takes, "
                f"≤ {self.max_audio_seconds:.0f} s audio, cost {cost}"
                f"<table><tr><th>dimension</th><th>values</th></tr>{rows}</table></div>")


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a spec from TOML, YAML or JSON (by extension).

    Example: ``load_spec_file("study.toml")``
    """
    p = Path(path)
    if not p.is_file():
        raise _bad("spec", str(path), "an existing .toml, .yaml, .yml or .json file", "file not found")
    text = p.read_text(encoding="utf-8")
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise _bad("spec", str(path), "a .toml, .yaml, .yml or .json file", f"unknown extension {suffix!r}")
    except InvalidParameter:
        raise
    except Exception as exc:  # parse errors of the three formats
        raise _bad("spec", str(path), "a well-formed spec file", f"could not parse: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("spec", str(path), "a mapping at the top level", f"got {type(data).__name__}")
    return data


def _as_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        if "values" in value:
            value = value["values"]
        elif "value" in value:
            value = [value["value"]]
        else:
            raise _bad(key, value, "a list, a single value, or {values: [...]}")
    if isinstance(value, (list, tuple)):
        if not value:
            raise _bad(key, value, "a non-empty list", "is empty")
        return list(value)
    return [value]


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _derive_seeds(sweep_seed: int, n: int) -> list[int]:
    rng = random.Random(f"zonos-lab/seeds/{sweep_seed}")
    seeds: list[int] = []
    seen: set[int] = set()
    while len(seeds) < n:
        s = rng.randrange(1, MAX_SEED)
        if s not in seen:
            seen.add(s)
            seeds.append(s)
    return seeds


class SweepSpec:
    """A sweep configuration (see the module docstring); build with `from_dict` or `from_file`.

    Attributes:
        name, description, method: as given (method defaults to ``grid``).
        params: swept request fields, in the order given.
        fixed: request fields held constant.
        texts, references, modes, seeds: study dimensions (None when not swept).
        count: random settings drawn (``method: random``).
        repeats: identical takes per trial (for reproducibility studies).
        raw: the spec exactly as given.
    """

    def __init__(self, *, name: str = "sweep", description: str = "", method: str = "grid",
                 params: list[ParamDim] | None = None, fixed: dict[str, Any] | None = None,
                 texts: list[str] | None = None, references: list[str] | None = None,
                 modes: list[str] | None = None, seeds: list[int] | None = None, sweep_seed: int = 0,
                 count: int | None = None, repeats: int = 1, price_per_take: float | None = None,
                 raw: dict[str, Any] | None = None, base_dir: Path | None = None) -> None:
        self.name = name
        self.description = description
        self.method = method
        self.params = list(params or [])
        self.fixed = dict(fixed or {})
        self.texts = texts
        self.references = references
        self.modes = modes
        self.seeds = seeds
        self.sweep_seed = sweep_seed
        self.count = count
        self.repeats = repeats
        self.price_per_take = price_per_take
        self.raw = raw if raw is not None else self.to_dict()
        self.base_dir = base_dir

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: str | Path) -> SweepSpec:
        """Load a spec from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file.

        Relative reference paths are looked up next to the spec file first.
        """
        p = Path(path)
        spec = cls.from_dict(load_spec_file(p), base_dir=p.resolve().parent)
        if spec.name == "sweep" and "name" not in spec.raw:
            spec.name = p.stem
        return spec

    @classmethod
    def coerce(cls, spec: SweepSpec | Mapping[str, Any] | str | Path) -> SweepSpec:
        """A `SweepSpec` from a spec, a dict, or a path to a spec file."""
        if isinstance(spec, SweepSpec):
            return spec
        if isinstance(spec, Mapping):
            return cls.from_dict(spec)
        if isinstance(spec, (str, Path)):
            return cls.from_file(spec)
        raise _bad("spec", type(spec).__name__, "a SweepSpec, a dict, or a path to a .toml/.yaml/.json file")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> SweepSpec:
        """Build a spec from a W&B-shaped dict; raises `InvalidParameter` naming the bad key."""
        if not isinstance(data, Mapping):
            raise _bad("spec", type(data).__name__, "a mapping (dict)")
        raw = copy.deepcopy(dict(data))
        unknown = [k for k in raw if k not in TOP_LEVEL_KEYS]
        if unknown:
            raise _bad(unknown[0], raw[unknown[0]], "one of: " + ", ".join(TOP_LEVEL_KEYS), "is not a spec key")
        method = raw.get("method", "grid")
        if method not in METHODS:
            raise _bad("method", method, ", ".join(repr(m) for m in METHODS))
        name = raw.get("name", "sweep")
        if not isinstance(name, str) or not name.strip():
            raise _bad("name", name, "a non-empty string")
        sweep_seed = raw.get("sweep_seed", 0)
        if isinstance(sweep_seed, bool) or not isinstance(sweep_seed, int):
            raise _bad("sweep_seed", sweep_seed, "an integer")

        dims: dict[str, Any] = {}  # texts / references / mode / seeds as given (top level or parameters)
        params: list[ParamDim] = []
        parameters = raw.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise _bad("parameters", parameters, "a mapping of request field → {values: [...]} or {min, max}")
        fixed = raw.get("fixed") or {}
        if not isinstance(fixed, Mapping):
            raise _bad("fixed", fixed, "a mapping of request field → value")
        fixed = dict(fixed)
        for key in ("texts", "references", "mode", "seeds"):
            if key in raw and raw[key] is not None:
                dims[key] = raw[key]
        for pname, pdef in parameters.items():
            where = f"parameters.{pname}"
            if pname in _ALIASES:
                dim = _ALIASES[pname]
                if dim in dims:
                    raise _bad(where, pdef, f"only one of `{dim}` and `{where}`", "given twice")
                if isinstance(pdef, Mapping) and "values" not in pdef and "value" not in pdef and dim != "seeds":
                    raise _bad(where, pdef, "{values: [...]}", "texts, references and modes take a list")
                dims[dim] = pdef
                continue
            if pname not in FIELD_SPECS:
                raise _bad(where, pdef, "a request field: " + ", ".join(FIELD_SPECS) + ", or mode",
                           "is not a request field")
            params.append(cls._param_dim(where, pname, pdef, method))
        for fname in fixed:
            if fname == "mode":
                continue
            if fname in ("reference", "references"):
                raise _bad(f"fixed.{fname}", fixed[fname], "the top-level `references` list")
            if fname not in FIELD_SPECS:
                raise _bad(f"fixed.{fname}", fixed[fname], "a request field: " + ", ".join(FIELD_SPECS))
        if "mode" in fixed:
            dims.setdefault("mode", fixed.pop("mode"))
        swept = {p.name for p in params}
        for fname in fixed:
            if fname in swept:
                raise _bad(f"fixed.{fname}", fixed[fname], "a field that is not also swept in parameters",
                           "is both fixed and swept")
        if "reference_audio_url" in fixed:
            if "references" in dims:
                raise _bad("fixed.reference_audio_url", fixed["reference_audio_url"], "only `references`",
                           "given twice")
            dims["references"] = [fixed.pop("reference_audio_url")]
        if "text" in fixed and "texts" in dims:
            raise _bad("fixed.text", fixed["text"], "only one of fixed.text and texts", "given twice")
        if "text" in fixed:
            dims["texts"] = [fixed.pop("text")]

        texts = [str(t) if not isinstance(t, str) else t for t in _as_list("texts", dims["texts"])] \
            if "texts" in dims else None
        references = None
        if "references" in dims:
            references = []
            for r in _as_list("references", dims["references"]):
                if not isinstance(r, (str, Path)) or not str(r).strip():
                    raise _bad("references", r, "local file paths or http(s) URLs")
                r = str(r).strip()
                if r.startswith("file://"):
                    r = unquote(urlsplit(r).path)
                references.append(r)
        modes = None
        if "mode" in dims:
            if "accurate_mode" in swept or "accurate_mode" in fixed:
                raise _bad("mode", dims["mode"], "either `mode` or `accurate_mode`, not both", "given twice")
            modes = []
            for m in _as_list("mode", dims["mode"]):
                if isinstance(m, bool):
                    m = "accurate" if m else "expressive"
                if m not in MODES:
                    raise _bad("mode", m, "'accurate', 'expressive'")
                modes.append(m)
        seeds = None
        if "seeds" in dims:
            if "seed" in fixed:
                raise _bad("fixed.seed", fixed["seed"], "either fixed.seed or seeds", "given twice")
            sd = dims["seeds"]
            if isinstance(sd, Mapping) and "count" in sd:
                sd = sd["count"]
            if isinstance(sd, int) and not isinstance(sd, bool):
                if not 1 <= sd <= 100_000:
                    raise _bad("seeds", sd, "a count from 1 to 100000, or a list of seeds")
                seeds = _derive_seeds(sweep_seed, sd)
            else:
                seeds = _as_list("seeds", sd)
                for s in seeds:
                    if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
                        raise _bad("seeds", s, f"integers from 0 to {MAX_SEED}")
        elif "seed" not in fixed:
            seeds = _derive_seeds(sweep_seed, 1)  # sweeps always send a seed, so every take is reproducible
        count = raw.get("count")
        if method == "random" and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise _bad("count", count, "a positive integer (settings to draw for method: random)")
        repeats = raw.get("repeats", 1)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise _bad("repeats", repeats, "a positive integer")
        price = raw.get("price_per_take")
        if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0):
            raise _bad("price_per_take", price, "a non-negative number")
        if method == "zip":
            lengths = {len(p.values or ()) for p in params}
            lengths |= {len(x) for x in (texts, references, modes) if x is not None}
            lengths.discard(1)
            if len(lengths) > 1:
                raise _bad("method", "zip", "lists of equal length (or length 1) for every zipped dimension",
                           f"lengths differ: {sorted(lengths)}")
        return cls(name=name.strip(), description=str(raw.get("description", "")), method=method,
                   params=params, fixed=fixed, texts=texts, references=references, modes=modes, seeds=seeds,
                   sweep_seed=sweep_seed, count=count if method == "random" else None, repeats=repeats,
                   price_per_take=None if price is None else float(price), raw=raw, base_dir=base_dir)

    @staticmethod
    def _param_dim(where: str, pname: str, pdef: Any, method: str) -> ParamDim:
        if not isinstance(pdef, Mapping):
            return ParamDim(pname, values=tuple(_as_list(where, pdef)))
        if "values" in pdef or "value" in pdef:
            extra = set(pdef) - {"values", "value", "distribution", "probabilities"}
            if extra:
                raise _bad(f"{where}.{sorted(extra)[0]}", pdef, "values / value")
            return ParamDim(pname, values=tuple(_as_list(where, pdef)))
        if "min" not in pdef or "max" not in pdef:
            raise _bad(where, dict(pdef), "{values: [...]}, {value: x}, or {min, max, distribution}")
        if method != "random":
            raise _bad(where, dict(pdef), "{values: [...]} (min/max ranges need method: random)",
                       f"a range cannot be swept with method {method!r}")
        lo, hi = pdef["min"], pdef["max"]
        for k, v in (("min", lo), ("max", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _bad(f"{where}.{k}", v, "a number")
        if lo > hi:
            raise _bad(f"{where}.min", lo, f"a number ≤ max ({hi})")
        dist = pdef.get("distribution")
        if dist is None:
            dist = "int_uniform" if isinstance(lo, int) and isinstance(hi, int) and FIELD_SPECS[pname].type is int \
                else "uniform"
        if dist not in DISTRIBUTIONS or dist == "categorical":
            raise _bad(f"{where}.distribution", dist, "'uniform', 'log_uniform', 'int_uniform'")
        if dist.startswith("log_uniform") and lo <= 0:
            raise _bad(f"{where}.min", lo, "a number > 0 for log_uniform")
        return ParamDim(pname, min=float(lo), max=float(hi), distribution=dist)

    # ------------------------------------------------------------------ views
    def to_dict(self) -> dict[str, Any]:
        """The spec as resolved (explicit method, seeds list, every dimension)."""
        params: dict[str, Any] = {}
        for p in self.params:
            params[p.name] = ({"values": list(p.values)} if p.values is not None
                              else {"min": p.min, "max": p.max, "distribution": p.distribution})
        out: dict[str, Any] = {"name": self.name, "description": self.description, "method": self.method,
                               "parameters": params, "fixed": dict(self.fixed), "sweep_seed": self.sweep_seed,
                               "repeats": self.repeats}
        for key, val in (("texts", self.texts), ("references", self.references), ("mode", self.modes),
                         ("seeds", self.seeds), ("count", self.count), ("price_per_take", self.price_per_take)):
            if val is not None:
                out[key] = list(val) if isinstance(val, list) else val
        return out

    def __repr__(self) -> str:
        return f"SweepSpec(name={self.name!r}, method={self.method!r}, takes={len(self.expand(validate=False))})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SweepSpec) and _canon(self.to_dict()) == _canon(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ expansion
    def _points(self) -> list[dict[str, Any]]:
        """Coordinate dicts (without seeds / repeats) in deterministic order."""
        dims: list[tuple[str, list[Any]]] = []
        if self.references is not None:
            dims.append(("reference", self.references))
        if self.texts is not None:
            dims.append(("text", self.texts))
        if self.modes is not None:
            dims.append(("mode", self.modes))
        if self.method == "grid":
            dims += [(p.name, list(p.values or ())) for p in self.params]
            return [dict(zip([d[0] for d in dims], combo, strict=True))
                    for combo in itertools.product(*[d[1] for d in dims])]
        if self.method == "zip":
            dims += [(p.name, list(p.values or ())) for p in self.params]
            n = max([len(v) for _, v in dims] or [1])
            return [{k: (v[i] if len(v) > 1 else v[0]) for k, v in dims} for i in range(n)]
        # random: `count` draws of the parameters, crossed with references × texts × modes
        rng = random.Random(f"zonos-lab/random/{self.sweep_seed}")
        draws = [{p.name: p.sample(rng) for p in self.params} for _ in range(self.count or 1)]
        fixed_dims = [dict(zip([d[0] for d in dims], combo, strict=True))
                      for combo in itertools.product(*[d[1] for d in dims])]
        points = []
        for d in draws:
            for fd in fixed_dims:
                points.append({**fd, **d})
        return points

    def _dims_summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.references is not None:
            out["references"] = len(self.references)
        if self.texts is not None:
            out["texts"] = len(self.texts)
        if self.modes is not None:
            out["modes"] = len(self.modes)
        if self.method == "random":
            out["random settings"] = self.count or 1
        else:
            for p in self.params:
                out[p.name] = len(p.values or ())
        if self.method == "zip":
            n = max(out.values() or [1])
            out = {"zipped (" + ", ".join(out) + ")": n} if out else {}
        if self.seeds is not None:
            out["seeds"] = len(self.seeds)
        if self.repeats > 1:
            out["repeats"] = self.repeats
        return out

    def resolve_reference_path(self, ref: str) -> str:
        """A local reference as a path: relative paths are tried next to the spec file, then as given."""
        if is_url(ref):
            return ref
        p = Path(ref).expanduser()
        if not p.is_absolute() and self.base_dir is not None and (self.base_dir / p).exists():
            return str(self.base_dir / p)
        return str(p)

    def expand(self, *, validate: bool = True) -> list[Trial]:
        """All trials, validated; raises `InvalidParameter` listing every invalid trial with its coordinates.

        Example:
            >>> SweepSpec.from_dict({"references": ["https://x.org/a.wav"], "seeds": [3]}).expand()[0].params.seed
            3
        """
        trials: list[Trial] = []
        invalid: list[tuple[dict[str, Any], InvalidParameter]] = []
        seeds: list[int | None] = list(self.seeds) if self.seeds is not None else [None]
        refs_missing = self.references is None
        seen: dict[str, dict[str, Any]] = {}
        for point in self._points():
            for seed in seeds:
                for rep in range(self.repeats):
                    coords = dict(point)
                    if seed is not None:
                        coords["seed"] = seed
                    if self.repeats > 1:
                        coords["repeat"] = rep
                    request = dict(self.fixed)
                    ref = coords.get("reference")
                    for k, v in coords.items():
                        if k in ("reference", "repeat"):
                            continue
                        if k == "mode":
                            request["accurate_mode"] = MODES[v]
                        else:
                            request[k] = v
                    if ref is None:
                        ref = ""
                        request["reference_audio_url"] = "http://missing-reference.invalid/"
                    else:
                        request["reference_audio_url"] = ref if is_url(ref) else LOCAL_PLACEHOLDER + quote(ref)
                    try:
                        params = GenerationParams(**request)
                    except InvalidParameter as exc:
                        invalid.append((coords, exc))
                        continue
                    take_id = self.take_id_for(coords, params, ref)
                    if take_id in seen:
                        raise _bad("spec", coords, "distinct trials",
                                   f"two trials are identical (coordinates {coords}); remove duplicate values "
                                   "or use `repeats`")
                    seen[take_id] = coords
                    trials.append(Trial(take_id, params, coords, ref, len(trials)))
        if validate and refs_missing:
            raise _bad("references", None, "a list of local file paths or http(s) URLs",
                       "the spec has no references (voices to clone)")
        if validate and invalid:
            lines = [f"  {_coords_text(c)}: {e}" for c, e in invalid[:10]]
            more = f"\n  … and {len(invalid) - 10} more" if len(invalid) > 10 else ""
            first = invalid[0][1]
            err = InvalidParameter(first.field, first.value, first.allowed,
                                   problems=[(p[0], p[1], f"{p[2]} (at {_coords_text(c)})")
                                             for c, e in invalid for p in e.problems][:50])
            err.message = (f"{len(invalid)} of {len(invalid) + len(trials)} trials of sweep {self.name!r} are "
                           f"invalid:\n" + "\n".join(lines) + more)
            err.args = (err.message,)
            err.invalid_trials = invalid  # type: ignore[attr-defined]
            raise err
        return trials

    @staticmethod
    def take_id_for(coords: Mapping[str, Any], params: GenerationParams, reference: str) -> str:
        """Stable id: hash of the coordinates, the request (minus the served URL) and the reference."""
        req = params.to_request_json()
        req.pop("reference_audio_url", None)
        digest = hashlib.sha256(_canon({"coords": dict(coords), "request": req, "reference": reference}).encode())
        return "t" + digest.hexdigest()[:12]

    def dry_run(self, price_per_take: float | None = None) -> DryRun:
        """Count takes, audio seconds requested at most, and cost (with a price per take).

        Example:
            >>> s = SweepSpec.from_dict({"references": ["https://x.org/a.wav"], "seeds": 10,
            ...                          "fixed": {"max_tokens": 861}})
            >>> d = s.dry_run(price_per_take=0.1); d.n_takes, round(d.max_audio_seconds), round(d.cost, 2)
            (10, 100, 1.0)
        """
        trials = self.expand()
        price = price_per_take if price_per_take is not None else self.price_per_take
        frames = [t.params.max_tokens or MAX_TOKENS_LIMIT for t in trials]
        return DryRun(name=self.name, method=self.method, n_takes=len(trials),
                      max_audio_seconds=sum(frames_to_seconds(f) for f in frames),
                      price_per_take=price, cost=None if price is None else price * len(trials),
                      dims=self._dims_summary(),
                      unbounded_takes=sum(1 for t in trials if t.params.max_tokens is None))


def _coords_text(coords: Mapping[str, Any]) -> str:
    parts = []
    for k, v in coords.items():
        s = repr(v)
        parts.append(f"{k}={s if len(s) <= 40 else s[:37] + '…'}")
    return "{" + ", ".join(parts) + "}"


def references_of(trials: Iterable[Trial]) -> list[str]:
    """Distinct references of some trials, in first-seen order."""
    return list(dict.fromkeys(t.reference for t in trials))
