"""Writes a cross-encoder of a real model's shape, for timing only: a BERT sentence embedder's
encoder and vocabulary (all-MiniLM-L6-v2 from scripts/fetch-models.sh has the shape of
ms-marco-MiniLM-L-6-v2: 6 layers, hidden 384, 12 heads) with a random pooler and one-label head.

Its scores are meaningless; its cost per pair is a real MiniLM-L6 cross-encoder's (same layers,
same tokenizer, same lengths). Used by bench/README.md's cross-encoder cost figures.

    /tmp/venv-ce/bin/python tools/cross-encoder-fixture/make_speed_proxy.py MODELS_DIR/all-MiniLM-L6-v2 OUT_DIR
"""

import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def main(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    config["architectures"] = ["BertForSequenceClassification"]
    config["id2label"] = {"0": "LABEL_0"}
    config["label2id"] = {"LABEL_0": 0}
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity"}
    with open(os.path.join(target, "config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=1)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
    tensors = {name if name.startswith("bert.") else "bert." + name: value.astype(np.float32)
               for name, value in load_file(os.path.join(source, "model.safetensors")).items()}
    hidden = int(config["hidden_size"])
    generator = np.random.default_rng(13)
    if "bert.pooler.dense.weight" not in tensors:
        tensors["bert.pooler.dense.weight"] = generator.normal(0, 0.02, (hidden, hidden)).astype(np.float32)
        tensors["bert.pooler.dense.bias"] = np.zeros(hidden, np.float32)
    tensors["classifier.weight"] = generator.normal(0, 0.02, (1, hidden)).astype(np.float32)
    tensors["classifier.bias"] = np.zeros(1, np.float32)
    save_file(tensors, os.path.join(target, "model.safetensors"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_speed_proxy.py SOURCE_BERT_FOLDER OUT_DIR")
    main(sys.argv[1], sys.argv[2])
