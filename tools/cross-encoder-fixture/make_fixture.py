"""Writes the tiny random cross-encoder under tests/data/cross-encoder-tiny/ and its reference scores.

Run in a virtual environment with torch (CPU), transformers and sentence-transformers from PyPI:

    python3 -m venv /tmp/venv-ce && /tmp/venv-ce/bin/pip install torch sentence-transformers
    /tmp/venv-ce/bin/python tools/cross-encoder-fixture/make_fixture.py

The model is a Hugging Face BertForSequenceClassification with one label and random weights
(no registry package carries real cross-encoder weights; see README.md). The reference is
sentence-transformers' CrossEncoder: its preprocess() gives the token ids and token types, its
predict() the scores (default activation, the sigmoid for one label) and the raw logits.
"""

import json
import os
import shutil

import torch
from sentence_transformers import CrossEncoder
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "cross-encoder-tiny")
VOCAB = os.path.join(ROOT, "tests", "data", "bert-tiny", "vocab.txt")
MAX_TOKENS = 40  # model_max_length: below the 64 positions, so the tokenizer's limit is the one used

LONG = " ".join(["the quick brown fox jumps over the lazy dog"] * 8)
PAIRS: list[tuple[str, str]] = [
    ("wind tunnel", "wind tunnel measure pressure flow"),
    ("wind tunnel", "blood cell cancer study"),
    ("lift drag", "aircraft wing lift and drag in a wind tunnel"),
    ("blood cell", "red and white blood cell"),
    ("cancer patient", "patient study of cancer"),
    ("library", "information retrieval in a library book"),
    ("search engine", "searching relevant passages"),
    ("", "query with an empty query side"),
    ("empty passage", ""),
    ("", ""),
    ("Hello World", "HELLO world"),
    ("café naïve", "cafe naive resume"),
    ("résumé école", "ecole resume"),
    ("机器学习", "中文字语言模型"),
    ("中文 query", "passage 机器 and 学习"),
    ("numbers 42", "3.14 and 2026 and 1e10"),
    ("1234567890", "0987654321"),
    ("punctuation!?", "hello, world; (fun) — «quoted» ¿why? …"),
    ("tab\tand\nnewline", "control\x07chars\x00 and tab\t"),
    ("unknown piece zzzqqq", "unbelievable searching jumped"),
    ("the", LONG),
    (LONG, "the"),
    (LONG, LONG),
    (LONG[:120], LONG),
    (LONG, LONG[:150]),
    ("wind tunnel lift", LONG + " wind tunnel"),
    ("a b c d e f g h i j k l m n o p q r s", "t u v w x y z a b c d e f g h i j k l m n"),
    ("a b c d e f g h i j k l m n o p q r", "s t u v w x y z a b c d e f g h i j k l m"),
    ("a b c d e f g h i j k l m n o p q", "r s t u v w x y z a b c d e f g h i j k l m n o p"),
    ("heat flow", "heat flow " * 15),
    ("book", "book"),
    ("fox", "dog"),
    ("quick fox", "lazy dog"),
    ("measure pressure", "pressure measure"),
    ("aircraft", "aircraft aircraft aircraft"),
    ("study", "a study of the blood of a patient with cancer"),
    ("information", "information on retrieval"),
    ("un", "unbelievable"),
    ("jumping", "jumped jumps jump"),
    ("wing", "wing"),
    ("Wing", "WING"),
    ("ÉCOLE", "école"),
    ("語", "語言"),
    ("represent this sentence", "for searching relevant passages"),
    ("1 2 3", "4 5 6"),
    ("fun", "is fun"),
    ("hello", "world " * 30),
    ("world " * 30, "hello"),
    ("the lazy dog", "the quick brown fox jumps over the lazy dog"),
    ("red cell", "white cell"),
]


def main() -> None:
    torch.manual_seed(13)
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(VOCAB, os.path.join(OUT, "vocab.txt"))
    with open(VOCAB, encoding="utf-8") as vocab:
        vocab_size = sum(1 for _ in vocab)
    config = BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu",
        num_labels=1, architectures=["BertForSequenceClassification"])
    model = BertForSequenceClassification(config).eval()
    # Larger than BERT's 0.02 initialisation, so scores spread and a wrong token type shows.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + 0.1 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.3 * torch.randn_like(parameter))
    model.save_pretrained(OUT, safe_serialization=True)
    tokenizer = BertTokenizerFast(os.path.join(OUT, "vocab.txt"), do_lower_case=True,
                                  model_max_length=MAX_TOKENS)
    tokenizer.save_pretrained(OUT)
    for extra in ("tokenizer.json", "special_tokens_map.json"):
        path = os.path.join(OUT, extra)
        if os.path.exists(path) and extra == "special_tokens_map.json":
            os.remove(path)

    encoder = CrossEncoder(OUT, device="cpu")
    assert encoder.max_seq_length == MAX_TOKENS, encoder.max_seq_length
    scores = encoder.predict(PAIRS, batch_size=8, convert_to_numpy=True)
    logits = encoder.predict(PAIRS, batch_size=8, convert_to_numpy=True, activation_fn=torch.nn.Identity())
    records = []
    for (query, passage), score, logit in zip(PAIRS, scores, logits):
        features = encoder.preprocess([(query, passage)])
        records.append({
            "query": query,
            "passage": passage,
            "ids": features["input_ids"][0].tolist(),
            "token_types": features["token_type_ids"][0].tolist(),
            "logit": float(logit),
            "score": float(score),
        })
    expected = {
        "generator": "tools/cross-encoder-fixture/make_fixture.py",
        "reference": "sentence-transformers CrossEncoder.predict (default activation: sigmoid)",
        "max_tokens": MAX_TOKENS,
        "pairs": records,
    }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as out:
        json.dump(expected, out, ensure_ascii=False, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
