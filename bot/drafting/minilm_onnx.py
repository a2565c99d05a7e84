"""The MiniLM encoder layers as an ONNX graph run by onnxruntime: the same weights, 2-3x faster than numpy.

Why: a question's encoding is most of the embeddings extra's answer time. numpy runs each small matrix
product on its own and re-reads 42 MB of layer weights per question; onnxruntime runs the whole graph in
one call with fused kernels. The graph is built in memory from the weights `bot.drafting.embeddings`
already loads (no model file, no download), in float32, so its vectors equal the numpy forward pass's to
float precision (tests/test_kb_embeddings.py checks that on a small random model) and cached vectors
stay valid. Measured in docs/quality.md.

Input: the embedding layer's output `x` (n, t, dim) and the additive attention mask `bias` (n, 1, 1, t),
both computed in numpy (a table lookup and one layer norm); output: the last hidden states (n, t, dim).
"""
from __future__ import annotations

import math
import os

import numpy as np


def _graph(weights: dict[str, np.ndarray], layers: int, heads: int, dim: int, eps: float):
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    head = dim // heads

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    const("scale", np.array(1.0 / math.sqrt(head), np.float32))
    const("half", np.array(0.5, np.float32))
    const("one", np.array(1.0, np.float32))
    const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))
    const("split_heads", np.array([0, 0, heads, head], np.int64))
    const("merge_heads", np.array([0, 0, dim], np.int64))
    x = "x"
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def dense(inp: str, name: str, p: str = p, i: int = i) -> str:
            w, b = const(p + name + ".weight", weights[p + name + ".weight"]), const(p + name + ".bias", weights[p + name + ".bias"])
            return op("Add", [op("MatMul", [inp, w], f"{name}.mm.{i}"), b], f"{name}.{i}")

        def norm(inp: str, name: str, p: str = p, i: int = i) -> str:
            w, b = const(p + name + ".weight", weights[p + name + ".weight"]), const(p + name + ".bias", weights[p + name + ".bias"])
            return op("LayerNormalization", [inp, w, b], f"{name}.{i}", axis=-1, epsilon=eps)

        def heads_of(name: str, perm: list[int], x: str = x, i: int = i) -> str:
            split = op("Reshape", [dense(x, f"attention.self.{name}"), "split_heads"], f"{name}.split.{i}")
            return op("Transpose", [split], f"{name}.heads.{i}", perm=perm)

        q, k, v = heads_of("query", [0, 2, 1, 3]), heads_of("key", [0, 2, 3, 1]), heads_of("value", [0, 2, 1, 3])
        att = op("Mul", [op("MatMul", [q, k], f"qk.{i}"), "scale"], f"qk.scaled.{i}")
        att = op("Softmax", [op("Add", [att, "bias"], f"qk.masked.{i}")], f"att.{i}", axis=-1)
        ctx = op("Transpose", [op("MatMul", [att, v], f"ctx.heads.{i}")], f"ctx.t.{i}", perm=[0, 2, 1, 3])
        ctx = op("Reshape", [ctx, "merge_heads"], f"ctx.{i}")
        x = norm(op("Add", [dense(ctx, "attention.output.dense"), x], f"res1.{i}"), "attention.output.LayerNorm")
        mid = dense(x, "intermediate.dense")
        erf = op("Erf", [op("Mul", [mid, "inv_sqrt2"], f"gelu.in.{i}")], f"gelu.erf.{i}")
        gelu = op("Mul", [op("Mul", [mid, "half"], f"gelu.half.{i}"), op("Add", [erf, "one"], f"gelu.sum.{i}")], f"gelu.{i}")
        x = norm(op("Add", [dense(gelu, "output.dense"), x], f"res2.{i}"), "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        nodes, "minilm-encoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "t", dim]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["n", 1, 1, "t"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["n", "t", dim])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def cpu_session(model):
    """An onnxruntime session for a graph (a file path or serialized bytes), shared by every ONNX encoder."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # at most 2 threads per question: the bot runs several drafting workers at once
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    # no busy-waiting between questions: an idle bot should not hold a core
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxLayers:
    """Callable (x, bias) -> hidden states; thread-safe (onnxruntime sessions allow concurrent runs)."""

    def __init__(self, weights: dict[str, np.ndarray], layers: int, heads: int, dim: int, eps: float):
        self.session = cpu_session(_graph(weights, layers, heads, dim, eps).SerializeToString())

    def __call__(self, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        return self.session.run(["hidden"], {"x": x.astype(np.float32, copy=False),
                                             "bias": bias.astype(np.float32, copy=False)})[0]

