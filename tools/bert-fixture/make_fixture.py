#!/usr/bin/python3
"""Writes the tiny random BERT under tests/data/bert-tiny/ and its reference outputs.

Run with Debian's python3 (python3-torch): /usr/bin/python3 tools/bert-fixture/make_fixture.py
Everything here is written independently of the C++ code (tokenizer, safetensors writer, forward
pass in plain torch ops, float64) so that the C++ test compares two implementations.
"""

import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "bert-tiny")

HIDDEN = 32
LAYERS = 2
HEADS = 4
INTERMEDIATE = 64
MAX_POSITIONS = 64
TYPE_VOCAB = 2
VOCAB_SIZE = 200
EPS = 1e-12

# ---------------------------------------------------------------- vocabulary

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = """the quick brown fox jump over lazy dog cafe naive resume ecole is fun hello world query passage
represent this sentence for searching relevant passages tab and newline control chars unknown piece search
engine wind tunnel lift drag aircraft wing blood cell cancer library information book un retrieval of a in
to at on with by from measure pressure flow heat red white patient study""".split()
CONTINUATIONS = ["##s", "##ed", "##ing", "##believ", "##able", "##ly", "##er"]
CJK = list("机器学习中文字语言模型")
PUNCTUATION = [chr(c) for c in range(33, 127) if not chr(c).isalnum()] + list("—…¿«»。，")


def build_vocab():
    pieces = list(SPECIALS)
    pieces += PUNCTUATION
    pieces += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces += [str(d) for d in range(10)] + ["##" + str(d) for d in range(10)]
    pieces += CJK
    for word in WORDS + CONTINUATIONS:
        if word not in pieces:
            pieces.append(word)
    assert len(pieces) <= VOCAB_SIZE, len(pieces)
    pieces += ["[unused%d]" % i for i in range(VOCAB_SIZE - len(pieces))]
    return pieces


# ---------------------------------------------------------------- tokenizer (BERT basic + WordPiece)


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    ranges = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
    return any(lo <= cp <= hi for lo, hi in ranges)


def basic_words(text, lower_case=True):
    spaced = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_whitespace(ch):
            spaced.append(" ")
        elif is_cjk(cp):
            spaced += [" ", ch, " "]
        else:
            spaced.append(ch)
    words = []
    for token in "".join(spaced).split(" "):
        if not token:
            continue
        if lower_case:
            token = token.lower()
            token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in token:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece(word, ids):
    if len(word) > 100:
        return [ids["[UNK]"]]
    out = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            candidate = word[start:end] if start == 0 else "##" + word[start:end]
            if candidate in ids:
                found = ids[candidate]
                break
            end -= 1
        if found is None:
            return [ids["[UNK]"]]
        out.append(found)
        start = end
    return out


def token_ids(text, ids, max_tokens):
    pieces = []
    for word in basic_words(text):
        pieces += wordpiece(word, ids)
    pieces = pieces[: max_tokens - 2]
    return [ids["[CLS]"]] + pieces + [ids["[SEP]"]]


# ---------------------------------------------------------------- weights


def make_weights(seed):
    rng = np.random.default_rng(seed)

    def normal(shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {}
    w["embeddings.word_embeddings.weight"] = normal((VOCAB_SIZE, HIDDEN), 0.5)
    w["embeddings.position_embeddings.weight"] = normal((MAX_POSITIONS, HIDDEN), 0.2)
    w["embeddings.token_type_embeddings.weight"] = normal((TYPE_VOCAB, HIDDEN), 0.2)
    w["embeddings.LayerNorm.weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
    w["embeddings.LayerNorm.bias"] = normal((HIDDEN,), 0.1)
    for i in range(LAYERS):
        p = "encoder.layer.%d." % i
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            w[p + name + ".weight"] = normal((HIDDEN, HIDDEN), 0.25)
            w[p + name + ".bias"] = normal((HIDDEN,), 0.1)
        w[p + "intermediate.dense.weight"] = normal((INTERMEDIATE, HIDDEN), 0.25)
        w[p + "intermediate.dense.bias"] = normal((INTERMEDIATE,), 0.1)
        w[p + "output.dense.weight"] = normal((HIDDEN, INTERMEDIATE), 0.2)
        w[p + "output.dense.bias"] = normal((HIDDEN,), 0.1)
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"]:
            w[p + norm + ".weight"] = (1 + normal((HIDDEN,), 0.1)).astype(np.float32)
            w[p + norm + ".bias"] = normal((HIDDEN,), 0.1)
    return w


def write_safetensors(path, tensors):
    """tensors: name -> numpy array (float32, float16 or int64)."""
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64"}
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)


# ---------------------------------------------------------------- forward pass (float64, plain torch)


def layer_norm(x, gamma, beta):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS) * gamma + beta


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def encode(weights, ids, pooling):
    """One sequence at a time (no padding), so the reference needs no mask at all."""
    w = {k: torch.tensor(v.astype(np.float64)) for k, v in weights.items()}
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][torch.tensor(ids)]
    x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    head_dim = HIDDEN // HEADS
    for i in range(LAYERS):
        p = "encoder.layer.%d." % i

        def dense(t, name):
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q = dense(x, "attention.self.query").reshape(n, HEADS, head_dim).transpose(0, 1)
        k = dense(x, "attention.self.key").reshape(n, HEADS, head_dim).transpose(0, 1)
        v = dense(x, "attention.self.value").reshape(n, HEADS, head_dim).transpose(0, 1)
        scores = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(head_dim), dim=-1)
        context = (scores @ v).transpose(0, 1).reshape(n, HIDDEN)
        x = layer_norm(dense(context, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        h = gelu(dense(x, "intermediate.dense"))
        x = layer_norm(dense(h, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    pooled = x[0] if pooling == "cls" else x.mean(dim=0)
    pooled = pooled / torch.linalg.norm(pooled)
    return [float("%.7g" % float(value)) for value in pooled]


# ---------------------------------------------------------------- fixture

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Café NAÏVE résumé — École!",
    "机器学习 is fun，中文字。",
    "unbelievable!!! hello,world",
    "a" * 101,
    "",
    "tab\tand\nnewline\u0000 control\u200b chars\u0007 \u00a0 search",
    "qzx unknown \u26bd piece ¿searching? «passages»",
    "wind tunnel lift " * 30,
    "カタカナ and 한국어 with 模型",
    "Blood cells: 42 red, 7 white (study 2024).",
    "   ",
]


def main():
    os.makedirs(os.path.join(OUT, "1_Pooling"), exist_ok=True)
    pieces = build_vocab()
    ids = {piece: i for i, piece in enumerate(pieces)}
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(pieces) + "\n")

    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": HIDDEN,
              "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": INTERMEDIATE,
              "max_position_embeddings": MAX_POSITIONS, "type_vocab_size": TYPE_VOCAB, "vocab_size": VOCAB_SIZE,
              "layer_norm_eps": EPS, "hidden_act": "gelu", "position_embedding_type": "absolute"}
    json.dump(config, open(os.path.join(OUT, "config.json"), "w"), indent=2)
    json.dump({"do_lower_case": True, "model_max_length": MAX_POSITIONS},
              open(os.path.join(OUT, "tokenizer_config.json"), "w"), indent=2)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(OUT, "modules.json"), "w"), indent=2)
    json.dump({"word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False},
              open(os.path.join(OUT, "1_Pooling", "config.json"), "w"), indent=2)

    weights = make_weights(seed=5)
    # F32 file: plain names plus an I64 position_ids buffer, as some exports carry.
    f32_tensors = dict(weights)
    f32_tensors["embeddings.position_ids"] = np.arange(MAX_POSITIONS, dtype=np.int64).reshape(1, MAX_POSITIONS)
    write_safetensors(os.path.join(OUT, "model.safetensors"), f32_tensors)
    # F16 file: "bert."-prefixed names (BertForMaskedLM-style exports); the reference uses the
    # rounded values.
    f16_weights = {k: v.astype(np.float16) for k, v in weights.items()}
    write_safetensors(os.path.join(OUT, "model.f16.safetensors"), {"bert." + k: v for k, v in f16_weights.items()})
    f16_as_f32 = {k: v.astype(np.float32) for k, v in f16_weights.items()}

    query_prefix, passage_prefix = "query: ", "passage: "
    expected = {
        "generator": "tools/bert-fixture/make_fixture.py",
        "max_tokens": MAX_POSITIONS,
        "query_prefix": query_prefix,
        "passage_prefix": passage_prefix,
        "texts": TEXTS,
        "words": [basic_words(t) for t in TEXTS],
        "token_ids": [token_ids(t, ids, MAX_POSITIONS) for t in TEXTS],
        "query_token_ids": [token_ids(query_prefix + t, ids, MAX_POSITIONS) for t in TEXTS],
        "passage_token_ids": [token_ids(passage_prefix + t, ids, MAX_POSITIONS) for t in TEXTS],
    }
    expected["f32_mean"] = [encode(weights, s, "mean") for s in expected["token_ids"]]
    expected["f32_cls"] = [encode(weights, s, "cls") for s in expected["token_ids"]]
    expected["f16_mean"] = [encode(f16_as_f32, s, "mean") for s in expected["token_ids"]]
    expected["f16_cls"] = [encode(f16_as_f32, s, "cls") for s in expected["token_ids"]]
    expected["f32_mean_query"] = [encode(weights, s, "mean") for s in expected["query_token_ids"]]
    expected["f32_mean_passage"] = [encode(weights, s, "mean") for s in expected["passage_token_ids"]]
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(OUT) for n in names)
    print("wrote %s (%d bytes, torch %s)" % (OUT, total, torch.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
