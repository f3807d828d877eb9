"""Writes the parity files of a fetched `bert` model: the reference token ids and vectors.

    tools/model-parity/make-venv.sh                        # once: the pinned reference stack
    .venv-parity/bin/python tools/model-parity/make_parity.py all-MiniLM-L6-v2 [--models-dir DIR]
        [--compare build/rag-query]

Reads <models dir>/<name> (scripts/fetch-models.sh) with sentence-transformers on torch CPU, in
float32, and writes tests/data/<name>/:
  expected.json  the model name, the manifest it came from, the library versions, max_seq_length,
                 and per text: the text and the Hugging Face tokenizer's ids ([CLS] ... [SEP], cut
                 at max_seq_length, exactly what the model saw)
  vectors.f16    the sentence-transformers vectors (normalised), little-endian float16, one row of
                 `dimension` values per text, in the order of expected.json

With --compare RAG_QUERY it also runs `RAG_QUERY embed --embedder bert --embed-model NAME --json`
on the same texts and prints the minimum cosine and the maximum absolute difference against the
float32 reference (the committed files hold float16, which limits what a test can assert on the
absolute difference, not on the cosine).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

from texts import parity_texts

REPO = Path(__file__).resolve().parents[2]


def reference(folder: Path, texts: list[str]) -> tuple[list[list[int]], np.ndarray, int]:
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    model.eval()
    tokenize = getattr(model, "preprocess", model.tokenize)  # renamed in sentence-transformers 6
    ids: list[list[int]] = []
    for text in texts:
        features = tokenize([text])
        mask = features["attention_mask"][0].tolist()
        ids.append([int(i) for i, m in zip(features["input_ids"][0].tolist(), mask) if m])
    with torch.no_grad():
        vectors = model.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=True)
    return ids, vectors.astype(np.float32), int(model.max_seq_length)


def ours(rag_query: str, name: str, models_dir: Path, texts: list[str]) -> np.ndarray:
    command = [rag_query, "embed", "--embedder", "bert", "--embed-model", name, "--models-dir", str(models_dir),
               "--json", "--"] + [t.replace("\0", "") for t in texts]  # argv cannot hold NUL; BERT drops it
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return np.array(json.loads(output)["vectors"], dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="model folder name under the models folder, e.g. all-MiniLM-L6-v2")
    parser.add_argument("--models-dir", type=Path,
                        default=Path(os.environ.get("RAGLINE_MODELS_DIR", REPO / "models")))
    parser.add_argument("--out", type=Path, help="output folder (default tests/data/NAME)")
    parser.add_argument("--compare", metavar="RAG_QUERY", help="rag-query binary to compare against")
    args = parser.parse_args()

    folder = args.models_dir / args.name
    manifest_path = folder / "ragline-model.json"
    if not manifest_path.is_file():
        sys.exit(f"{manifest_path} missing: fetch the model with scripts/fetch-models.sh")
    manifest = json.loads(manifest_path.read_text())
    texts = parity_texts()
    ids, vectors, max_seq_length = reference(folder, texts)

    out = args.out or REPO / "tests" / "data" / args.name
    out.mkdir(parents=True, exist_ok=True)
    expected = {
        "model": args.name,
        "source": {k: manifest[k] for k in ("package", "version", "sha256")},
        "reference": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
        },
        "max_seq_length": max_seq_length,
        "dimension": int(vectors.shape[1]),
        "vectors": "vectors.f16",
        "cases": [{"text": t, "ids": i} for t, i in zip(texts, ids)],
    }
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=None) + "\n")
    vectors.astype("<f2").tofile(out / "vectors.f16")
    f16 = vectors.astype("<f2").astype(np.float32)
    print(f"{args.name}: {len(texts)} texts -> {out}; float16 storage: min cosine "
          f"{float(np.min(np.sum(f16 * vectors, axis=1) / np.linalg.norm(f16, axis=1))):.7f}, "
          f"max abs diff {float(np.max(np.abs(f16 - vectors))):.2e}")

    if args.compare:
        mine = ours(args.compare, args.name, args.models_dir, texts)
        cosines = np.sum(mine * vectors, axis=1) / (np.linalg.norm(mine, axis=1) * np.linalg.norm(vectors, axis=1))
        worst = int(np.argmin(cosines))
        print(f"{args.name}: ragline vs sentence-transformers (float32): min cosine {float(cosines[worst]):.7f} "
              f"(text {worst}: {texts[worst][:40]!r}), mean cosine {float(np.mean(cosines)):.7f}, "
              f"max abs diff {float(np.max(np.abs(mine - vectors))):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
