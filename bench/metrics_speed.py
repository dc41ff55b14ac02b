"""Real-time factor of each analysis metric on this machine (models loaded first, then timed).

RTF here = seconds of audio analysed per second of compute (higher is faster; 20 means 20× real time),
measured in one process on one core's worth of threads (ONNX Runtime / torch / CTranslate2 limited to
1 thread), so the figure is "per core".

Two workloads: the whole reference clips (6–11 s) and the same clips cut into 3 s pieces, the length of
a typical TTS take. DNSMOS scores fixed 9.01 s windows and repeats a short clip to fill them (Microsoft's
procedure), so its cost per second of audio is far higher on short takes; the script prints how many
windows it scored and the seconds per window, which is what bounds the core set.

It also prints the floor: the convolution FLOPs DNSMOS must do on the workload (counted from the model
file, with the shared layers counted once per frame) divided by the FLOP/s ONNX Runtime reaches on the
model's largest layer alone in this process, and the best core-set speed that floor allows.

Run: ``python bench/metrics_speed.py [--repeat 3] [--threads 1] [--take-seconds 3]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ["en_us_jfk.flac", "en_us_ljspeech_LJ001-0001.wav", "en_gb_vctk_p225_003.wav", "de_fleurs_001.ogg"]
TEXTS = {
    "en_us_jfk.flac": "And so, my fellow Americans, ask not what your country can do for you, ask what you can do "
                      "for your country.",
    "en_us_ljspeech_LJ001-0001.wav": "Printing, in the only sense with which we are at present concerned, differs "
                                     "from most if not from all the arts and crafts represented in the Exhibition",
    "en_gb_vctk_p225_003.wav": "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack "
                               "for her brother Bob.",
    "de_fleurs_001.ogg": "er griff auch alles an was ins wasser kam selbst ein großer dinosaurier wie der t rex war "
                         "ihm nicht gewachsen",
}


def _best(fn: Any, clips: list[tuple[str, Any, dict]], repeat: int) -> float:
    from zonos_lab.analysis.metrics_core import Clip

    best = float("inf")
    for _ in range(repeat):
        fresh = [(Clip(c.y, c.sr), ctx) for _n, c, ctx in clips]  # no resampling cached across runs
        t0 = time.perf_counter()
        for clip, ctx in fresh:
            fn(clip, ctx)
        best = min(best, time.perf_counter() - t0)
    return best


def _conv_flops() -> tuple[float, float]:
    """DNSMOS P.835 convolution FLOPs: (per frame of the shared full-resolution body, per window outside it)."""
    import onnx

    from zonos_lab.analysis.dnsmos import FRAMES_PER_WINDOW, _split, model_path

    model = onnx.shape_inference.infer_shapes(onnx.load(model_path()))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    weights = {w.name: list(w.dims) for w in model.graph.initializer}
    body_nodes = {n.name for n in onnx.load_from_string(_split(model_path())[1]).graph.node}
    body = other = 0.0
    for node in model.graph.node:
        if node.op_type != "Conv" or node.output[0] not in shapes:
            continue
        flops = 2.0 * float(np.prod(weights[node.input[1]][1:])) * float(np.prod(shapes[node.output[0]][1:]))
        if node.name in body_nodes:
            body += flops
        else:
            other += flops
    return body / FRAMES_PER_WINDOW, other


def _conv_throughput(repeat: int) -> float:
    """FLOP/s this process gets from ONNX Runtime on DNSMOS's largest layer alone (its weights, 400 frames)."""
    import onnx
    from onnx import helper, numpy_helper

    from zonos_lab.analysis.dnsmos import model_path
    from zonos_lab.analysis.metrics_core import onnx_session

    model = onnx.load(model_path())
    weights = {w.name: numpy_helper.to_array(w) for w in model.graph.initializer}
    conv = max((n for n in model.graph.node if n.op_type == "Conv"), key=lambda n: weights[n.input[1]].size)
    w = weights[conv.input[1]]
    frames, bins = 400, 161
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "largest_conv",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, w.shape[1], frames, bins])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, w.shape[0], frames, bins])],
        [numpy_helper.from_array(w, "w")])
    session = onnx_session(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    x = np.random.default_rng(0).standard_normal((1, w.shape[1], frames, bins)).astype(np.float32)
    session.run(None, {"x": x})
    best = float("inf")
    for _ in range(max(3, repeat)):
        t0 = time.perf_counter()
        session.run(None, {"x": x})
        best = min(best, time.perf_counter() - t0)
    return 2.0 * w.size * frames * bins / best


def _report(title: str, clips: list[tuple[str, Any, dict]], metrics: list[str], repeat: int) -> None:
    from zonos_lab.analysis.dnsmos import FRAMES_PER_WINDOW, _parts, dnsmos_windows, shared_frames
    from zonos_lab.analysis.metrics import METRIC_SETS
    from zonos_lab.analysis.pipeline import COMPUTE, _function

    audio_s = sum(c.duration for _, c, _ in clips)
    print(f"\n{title}: {len(clips)} clips, {audio_s:.1f} s of audio")
    times: dict[str, float] = {}
    for metric in metrics:
        times[metric] = _best(_function(metric), clips, repeat)
        print(f"  {metric:12s} {times[metric]:7.3f} s  RTF {audio_s / times[metric]:8.1f}× real time   ({COMPUTE[metric]})")
    if "dnsmos" in times:
        counts = [len(dnsmos_windows(c.at(16000))) for _, c, _ in clips]
        windows = sum(counts)
        frames = sum(shared_frames(len(c.at(16000))) for _, c, _ in clips)  # the union of each clip's windows
        print(f"  {'':12s} dnsmos scored {windows} windows of 9.01 s ({windows * 9.01 / audio_s:.1f} s of model input "
              f"per second of audio); its full-resolution layers ran on {frames} frames instead of "
              f"{FRAMES_PER_WINDOW * windows} ({FRAMES_PER_WINDOW * windows / frames:.2f}× fewer): "
              f"{times['dnsmos'] / windows:.3f} s per window")

        def whole_model(clip: Any, ctx: dict) -> None:  # the reference way: the whole model on every window
            for window in dnsmos_windows(clip.at(16000)):
                whole.run(None, {"input_1": window[np.newaxis, :]})

        whole = _parts().full
        reference = _best(whole_model, clips, repeat)
        print(f"  {'':12s} the whole model on every window (Microsoft's way) takes {reference:.3f} s: "
              f"{reference / times['dnsmos']:.2f}× the shared computation, {reference / windows:.3f} s per window")
        per_frame, per_window = _conv_flops()
        flops = frames * per_frame + windows * per_window
        rate = _conv_throughput(repeat)
        floor = flops / rate
        fast_s = sum(times[m] for m in METRIC_SETS["fast"] if m in times)
        print(f"  {'':12s} floor: {flops / 1e9:.0f} GFLOP of convolutions; ONNX Runtime runs DNSMOS's largest layer "
              f"alone at {rate / 1e9:.0f} GFLOP/s here, so DNSMOS cannot take less than {floor:.3f} s "
              f"(it took {times['dnsmos'] / floor:.2f}× that) and the core set cannot beat "
              f"{audio_s / (floor + fast_s):.1f}× real time on this machine at that rate")
    core = [m for m in METRIC_SETS["core"] if m in times]
    if core:
        # the core set shares one decode + resample per take; time it as analyze() runs it
        functions = [_function(m) for m in core]

        def core_set(clip: Any, ctx: dict) -> None:
            for fn in functions:
                fn(clip, ctx)

        total = _best(core_set, clips, repeat)
        print(f"  {'core set':12s} {total:7.3f} s  RTF {audio_s / total:8.1f}× real time   ({', '.join(core)})")
        fast = [m for m in METRIC_SETS["fast"] if m in times]
        fsum = sum(times[m] for m in fast)
        if fast and fsum > 0:
            print(f"  {'fast set':12s} {fsum:7.3f} s  RTF {audio_s / fsum:8.1f}× real time   ({', '.join(fast)}; "
                  "sum of best)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1 = per core)")
    parser.add_argument("--take-seconds", type=float, default=3.0, help="length of the short-take pieces")
    parser.add_argument("--metrics", nargs="*",
                        default=["signal", "loudness", "vad", "f0", "dnsmos", "dnsmos_p808", "speaker", "asr"])
    args = parser.parse_args(argv)
    os.environ["ZONOS_LAB_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    sys.path.insert(0, str(ROOT))

    from zonos_lab.analysis.metrics import MissingExtra, require
    from zonos_lab.analysis.metrics_core import Clip
    from zonos_lab.analysis.pipeline import _function

    clips = []
    for name in CLIPS:
        path = ROOT / "data" / "reference" / name
        ctx = {"text": TEXTS[name], "language": "de" if name.startswith("de") else "en_us", "max_tokens": 6144,
               "reference_path": str(ROOT / "data" / "reference" / "en_us_ljspeech_LJ001-0005.mp3"),
               "reference_sha256": "bench"}
        clips.append((name, Clip.load(str(path)), ctx))
    piece = args.take_seconds
    takes = []
    for name, clip, ctx in clips:
        n = int(piece * clip.sr)
        for k in range(len(clip.y) // n):
            words = ctx["text"].split()
            share = max(1, round(len(words) * piece / clip.duration))  # about the words in the piece
            takes.append((f"{name}#{k}", Clip(clip.y[k * n:(k + 1) * n], clip.sr),
                          {**ctx, "text": " ".join(words[k * share:(k + 1) * share])}))
    print(f"threads per model: {args.threads}; best of {args.repeat}")
    metrics = []
    for metric in args.metrics:
        try:
            require(metric)
        except MissingExtra as exc:
            print(f"{metric:12s} skipped: {exc}")
            continue
        _function(metric)(clips[0][1], clips[0][2])  # load models, JIT, warm caches
        metrics.append(metric)
    _report("whole reference clips", clips, metrics, args.repeat)
    _report(f"{piece:g} s takes cut from them", takes, metrics, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
