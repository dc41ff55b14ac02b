"""`Lab`: a notebook session — one backend, default request fields, a runs folder.

``Lab()`` uses the cloud when ``PIXAZO_API_KEY`` / ``PIXAZO_BASE_URL`` (or `api_key` / `base_url`) are
set, otherwise it starts the offline *emulator* in-process. Local reference files are served to the
emulator on loopback; for the cloud give http(s) URLs.

Example:
    >>> from zonos_lab import Lab
    >>> with Lab(backend="emulator", runs_dir="runs", language="en_us") as lab:     # doctest: +SKIP
    ...     take = lab.say("Hello there.", ref="data/voices/AmericanFemale.mp3", seed=7)
    ...     sweep = lab.sweep({"mode": ["accurate", "expressive"], "seeds": 4,
    ...                        "references": ["data/voices/AmericanMale.mp3"]}, out="runs/modes")
    ...     df = sweep.run()
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zonos_lab.errors import InvalidParameter, Unauthorized
from zonos_lab.params import FIELD_SPECS, MAX_SEED, GenerationParams

__all__ = ["BACKENDS", "Lab"]

BACKENDS = ("auto", "emulator", "cloud")
_DATA_VOICES = Path(__file__).resolve().parent.parent / "data" / "voices"


def default_reference() -> str | None:
    """The bundled example voice (``data/voices/AmericanFemale.mp3``) when this is a source checkout."""
    p = _DATA_VOICES / "AmericanFemale.mp3"
    return str(p) if p.is_file() else None


class Lab:
    """A session: backend (cloud or emulator), default request fields, and where runs go.

    Args:
        api_key, base_url: like `ZonosClient` (else ``PIXAZO_API_KEY`` / ``PIXAZO_BASE_URL``).
        backend: ``"auto"`` (cloud if a key or URL is set, else the emulator), ``"emulator"`` (start one
            in-process unless `base_url` points at a running one) or ``"cloud"`` (a key is required).
        runs_dir: folder for sweeps (``runs_dir/<name>``) and single takes (``runs_dir/takes``).
        **defaults: default request fields for `say` (e.g. ``language="en_gb"``, ``temperature=0.9``),
            plus ``ref=`` for a default reference.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, backend: str = "auto",
                 runs_dir: str | Path = "runs", emulator_config: Any = None, **defaults: Any) -> None:
        if backend not in BACKENDS:
            raise InvalidParameter("backend", backend, ", ".join(repr(b) for b in BACKENDS))
        ref = defaults.pop("ref", None) or defaults.pop("reference", None)
        for k in defaults:
            if k not in FIELD_SPECS or k == "reference_audio_url":
                raise InvalidParameter(k, defaults[k], "a request field: " + ", ".join(
                    f for f in FIELD_SPECS if f != "reference_audio_url") + ", or ref")
        if defaults:
            GenerationParams(reference_audio_url="https://example.org/ref.wav", **defaults)  # validate now
        self.defaults: dict[str, Any] = dict(defaults)
        self.default_ref: str | None = str(ref) if ref is not None else None
        self.runs_dir = Path(runs_dir)
        self.emulator: Any = None
        self._ref_server: Any = None
        self._client: Any = None
        self._closed = False
        key = api_key or os.environ.get("PIXAZO_API_KEY") or None
        url = base_url or os.environ.get("PIXAZO_BASE_URL") or None
        if backend == "auto":
            backend = "cloud" if (key or url) else "emulator"
            if backend == "cloud" and url and not key:
                backend = "emulator" if self._probe(url) else "cloud"
        if backend == "emulator":
            if base_url:  # an emulator already running somewhere
                self._api_key, self.base_url = key, base_url.rstrip("/")
            elif url and self._probe(url):
                self._api_key, self.base_url = key, url.rstrip("/")
            else:
                from zonos_lab.emulator import Emulator

                kw = {"config": emulator_config} if emulator_config is not None else {}
                self.emulator = Emulator(**kw).start()
                self._api_key, self.base_url = self.emulator.api_key, self.emulator.base_url
                print(f"zonos-lab: using the offline Zonos 2 *emulator* at {self.base_url} (not the real model)",
                      file=sys.stderr)
        else:
            if not key:
                raise Unauthorized("backend='cloud' needs an API key",
                                   hint="Set PIXAZO_API_KEY (or pass api_key=), or use backend='emulator'.")
            from zonos_lab.client._core import DEFAULT_BASE_URL

            self._api_key, self.base_url = key, (url or DEFAULT_BASE_URL).rstrip("/")
            if self._probe(self.base_url):
                backend = "emulator"
        self.backend: str = backend
        from zonos_lab.client._redact import register_secret

        register_secret(self._api_key)

    @staticmethod
    def _probe(url: str) -> bool:
        from zonos_lab.sweep.runner import _probe_emulator

        return _probe_emulator(url) is not None

    # ------------------------------------------------------------------ pieces
    @property
    def client(self) -> Any:
        """The blocking `ZonosClient` of this session (created on first use)."""
        if self._closed:
            raise RuntimeError("this Lab is closed")
        if self._client is None:
            from zonos_lab.client import ZonosClient

            policy = None
            if self.backend == "emulator":  # answers in well under the cloud's 5 s first poll
                from zonos_lab.sweep.runner import SweepPollPolicy

                policy = SweepPollPolicy(default_first=0.25, unknown_step=0.1)
            self._client = ZonosClient(api_key=self._api_key or "", base_url=self.base_url, poll_policy=policy)
        return self._client

    def _reference_server_if_local(self) -> Any:
        """The loopback reference server (for local files) when the backend can reach it, else None."""
        from zonos_lab.sweep.runner import _is_loopback

        if not _is_loopback(self.base_url):
            return None
        if self._ref_server is None:
            from zonos_lab.references import ReferenceServer

            self._ref_server = ReferenceServer().start()
        return self._ref_server

    def resolve(self, ref: str | Path) -> Any:
        """A reference (local path or URL) → `ResolvedReference` the backend can fetch.

        Raises `InvalidParameter` (field ``ref``) for a local file with a remote (cloud) backend.
        """
        from zonos_lab.references import ResolvedReference, resolve_reference
        from zonos_lab.sweep.spec import is_url

        ref = str(ref)
        if is_url(ref):
            return ResolvedReference(url=ref)
        server = self._reference_server_if_local()
        if server is None:
            raise InvalidParameter("ref", ref, "an http(s) URL the cloud service can fetch",
                                   f"{ref!r} is a local file and {self.base_url} cannot read it: upload it to "
                                   "public https storage and pass its URL")
        return resolve_reference(ref, server=server)

    # ------------------------------------------------------------------ actions
    def say(self, text: str, ref: str | Path | None = None, *, timeout: float = 600, **params: Any) -> Any:
        """Generate one take and save its audio under ``runs_dir/takes/``; returns a `Take`.

        A seed is always sent (a random one when not given) so the take can be reproduced.

        Example:
            >>> take = lab.say("Good morning.", ref="data/voices/BritishFemale.mp3", language="en_gb")  # doctest: +SKIP
            >>> take.duration, take.seed                                                        # doctest: +SKIP
        """
        from zonos_lab.errors import GenerationError, GenerationFailed
        from zonos_lab.take import Take

        ref = ref if ref is not None else (self.default_ref or (default_reference() if self.backend == "emulator"
                                                                else None))
        if ref is None:
            raise InvalidParameter("ref", None, "a local audio file or an http(s) URL of the voice to clone")
        for k in params:
            if k not in FIELD_SPECS or k in ("reference_audio_url", "text"):
                raise InvalidParameter(k, params[k], "a request field: " + ", ".join(
                    f for f in FIELD_SPECS if f not in ("reference_audio_url", "text")))
        request = {**self.defaults, **params, "text": text}
        if request.get("seed") is None:
            request["seed"] = random.SystemRandom().randrange(0, MAX_SEED)
        GenerationParams(reference_audio_url="https://example.org/ref.wav", **request)  # fail before serving
        resolved = self.resolve(ref)
        p = GenerationParams(reference_audio_url=resolved.url, **request)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        digest = hashlib.sha256(json.dumps({**request, "reference": str(ref)}, sort_keys=True).encode()).hexdigest()
        take_id = f"say-{stamp}-{digest[:6]}{secrets.token_hex(2)}"
        take = Take(params=p, take_id=take_id, reference=str(ref),
                    reference_path=str(resolved.local_path) if resolved.local_path else None,
                    reference_sha256=resolved.sha256, backend=self.backend, status="SUBMITTING")
        c = self.client
        t0 = time.monotonic()
        job = c.submit(p)
        take = take.with_(request_id=job.request_id, status=job.status, submitted_at=job.submitted_at)
        try:
            st = c.wait(job, timeout=timeout)
        except GenerationError as exc:
            return take.with_(status="ERROR", error=exc.error or exc.message)
        except GenerationFailed as exc:
            return take.with_(status="FAILED", error=exc.error or exc.message)
        dest = self.runs_dir / "takes" / f"{take_id}.wav"
        path = c.download(st, dest)
        from zonos_lab.sweep.runner import _audio_facts

        sha, duration, sr = _audio_facts(path)
        return take.with_(status="COMPLETED", audio_path=str(path), sha256=sha, duration=duration, sample_rate=sr,
                          completed_at=st.completed_at or datetime.now(UTC), model_id=st.model_id,
                          total_seconds=st.duration_seconds if st.duration_seconds is not None
                          else time.monotonic() - t0,
                          backend="emulator" if st.is_emulator else self.backend)

    def panel(self, **kwargs: Any) -> Any:
        """The ipywidgets panel (Generate and Sweep tabs) bound to this session.

        Example:
            >>> lab.panel()   # doctest: +SKIP
        """
        from zonos_lab.notebook.app import panel

        return panel(self, **kwargs)

    def sweep(self, spec: Any, out: str | Path | None = None, **kwargs: Any) -> Any:
        """A `Sweep` of `spec` on this session's backend, in `out` (default ``runs_dir/<name>``); call ``.run()``.

        Example:
            >>> df = lab.sweep("study.toml", out="runs/study").run()     # doctest: +SKIP
        """
        from zonos_lab.sweep.runner import Sweep
        from zonos_lab.sweep.spec import SweepSpec

        spec = SweepSpec.coerce(spec)
        if self.defaults:
            merged = dict(spec.raw)
            fixed = {k: v for k, v in self.defaults.items()
                     if k not in (merged.get("fixed") or {}) and k not in (merged.get("parameters") or {})
                     and not (k == "accurate_mode" and "mode" in merged)
                     and not (k == "seed" and "seeds" in merged) and not (k == "text" and "texts" in merged)}
            if fixed:
                merged["fixed"] = {**fixed, **(merged.get("fixed") or {})}
                spec = SweepSpec.from_dict(merged, base_dir=spec.base_dir)
        fallback = self.default_ref or (default_reference() if self.backend == "emulator" else None)
        if spec.references is None and fallback:
            merged = dict(spec.raw)
            merged["references"] = [fallback]
            spec = SweepSpec.from_dict(merged, base_dir=spec.base_dir)
        run_dir = Path(out) if out is not None else self.runs_dir / spec.name
        return Sweep(spec, run_dir, lab=self, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the client, stop the reference server and the emulator this session started."""
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            self._client.close()
        if self._ref_server is not None:
            self._ref_server.stop()
        if self.emulator is not None:
            self.emulator.stop()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Lab(backend={self.backend!r}, base_url={self.base_url!r}, runs_dir={str(self.runs_dir)!r}, "
                f"api_key='***')")
