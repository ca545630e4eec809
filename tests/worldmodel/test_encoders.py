"""State encoders: TF-IDF, the contrastive RoBERTa, local Hugging Face directories; by name, saved, loaded."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.worldmodel import ContrastiveEncoder, Encoder, ModelFileError, TfidfEncoder
from workbench.worldmodel.encoders import create


def test_tfidf_shapes_and_determinism(tfidf):
    enc, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:10]
    z = enc.encode(texts)
    assert z.shape == (10, 16) and np.isfinite(z).all()
    again = TfidfEncoder(dim=16, seed=0)
    again.fit(groups)
    np.testing.assert_allclose(again.encode(texts), z, rtol=1e-5, atol=1e-5)
    assert np.abs(z[0] - z[-1]).sum() > 0  # different programs get different vectors


def test_contrastive_encoder_trains_deterministically(tfidf):
    _, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:6]

    def train():
        enc = ContrastiveEncoder(dim=8, hidden=32, layers=1, heads=2, vocab_size=300, max_length=128, seed=3)
        stats = enc.fit(groups, steps=3, groups_per_batch=2, per_group=3, warmup_steps=1, progress=False)
        return enc, stats

    a, stats = train()
    b, _ = train()
    za = a.encode(texts)
    assert za.shape == (6, 8) and np.isfinite(za).all()
    np.testing.assert_allclose(b.encode(texts), za, rtol=1e-4, atol=1e-5)
    assert len(stats["losses"]) == 3


def test_create_by_name_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown encoder"):
        create("bert")
    with pytest.raises(ModelFileError, match="no such Hugging Face model directory"):
        create(f"hf:{tmp_path / 'nothing'}")


def test_hf_encoder_loads_a_local_directory_offline(tfidf, tmp_path):
    """A CodeBERT-style directory made here (no hub): tokenizer + RoBERTa weights, loaded offline."""
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    _, groups = tfidf
    texts = [t for ts in groups.values() for t in ts][:4]
    small = ContrastiveEncoder(dim=8, hidden=32, layers=1, heads=2, vocab_size=300, max_length=64)
    small.train_tokenizer(texts)
    tok = PreTrainedTokenizerFast(tokenizer_object=small.tokenizer, pad_token="<pad>", unk_token="<unk>")
    tok.save_pretrained(tmp_path / "codebert")
    cfg = RobertaConfig(vocab_size=small.tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=80,
                        pad_token_id=small.tokenizer.token_to_id("<pad>"))
    RobertaModel(cfg).save_pretrained(tmp_path / "codebert", safe_serialization=True)
    enc = create(f"hf:{tmp_path / 'codebert'}", max_length=64)
    z = enc.encode(texts)
    assert z.shape == (4, 32) and np.isfinite(z).all()
    enc.save(tmp_path / "saved")
    np.testing.assert_allclose(Encoder.load(tmp_path / "saved").encode(texts), z, rtol=1e-5, atol=1e-6)


def test_saved_encoders_load_by_kind(tfidf, tmp_path):
    enc, groups = tfidf
    enc.save(tmp_path / "tfidf")
    texts = [t for ts in groups.values() for t in ts][:3]
    np.testing.assert_allclose(Encoder.load(tmp_path / "tfidf").encode(texts), enc.encode(texts), rtol=1e-6)
    (tmp_path / "tfidf" / "encoder.json").write_text('{"kind": "word2vec"}')
    with pytest.raises(ModelFileError, match="unknown encoder kind 'word2vec'"):
        Encoder.load(tmp_path / "tfidf")
