#!/usr/bin/env python3
"""Side-by-side embedding throughput on one model folder and one set of texts.

Systems: ragline's runtime (rag-bench-embed, fp32 and int8), ONNX Runtime fp32 and its dynamic
int8 quantisation (the model exported here with torch.onnx, then ORT's BERT graph optimiser, as
Optimum's O2 does), and sentence-transformers on torch CPU. Every system embeds the same texts,
sorted by length and batched by 32 with padding within a batch, on 1 and 2 threads; rounds run
the systems interleaved (ours, then the peers) so machine load hits them alike, and the figure
of a system is the median over rounds of its median over repeats. Wall and process-CPU seconds
are both kept: on a shared machine, CPU seconds are the steadier measure on one thread.

Correctness: the vectors of every system are compared with sentence-transformers' (cosine per
text, mean and min), so a fast but wrong run shows.

Run with the peers' environment (bench/peers/setup-venv.sh):
  .venv-bench-peers/bin/python bench/peers/embed_side_by_side.py \\
      --bench build/bench/rag-bench-embed --model MODEL_DIR [--rounds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

BATCH = 32
QUERY = "how does the retrieval engine rank short passages for a twelve word query"


def common_words(vocab_path: Path) -> list[str]:
    """Whole lower-case words among the first 8,000 vocabulary entries (BERT's common words)."""
    words = []
    for index, line in enumerate(vocab_path.read_text(encoding="utf-8").splitlines()):
        if index >= 8000:
            break
        if len(line) >= 2 and line.isalpha() and line.isascii() and line.islower():
            words.append(line)
    if not words:
        raise SystemExit(f"{vocab_path}: no plain words among its first 8,000 entries")
    return words


def make_texts(words: list[str], word_counts: list[int], seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for count in word_counts:
        parts = []
        for w in range(count):
            parts.append(rng.choice(words) + ("." if w % 12 == 11 else ""))
        texts.append(" ".join(parts))
    return texts


def text_sets(model: Path) -> dict[str, list[str]]:
    words = common_words(model / "vocab.txt")
    mixed_lengths = [4, 8, 12, 16, 24, 32, 48, 64, 96, 120, 160, 200, 250, 300, 400, 12] * 2
    return {
        "uniform-120w": make_texts(words, [120] * 32, seed=1),
        "mixed": make_texts(words, mixed_lengths, seed=2),
    }


def max_seq_length(model: Path) -> int:
    config = model / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 512))
    return 512


def cls_pooling(model: Path) -> bool:
    pooling = model / "1_Pooling" / "config.json"
    return pooling.exists() and bool(json.loads(pooling.read_text()).get("pooling_mode_cls_token", False))


def export_onnx(model: Path, work: Path) -> dict[str, Path]:
    """fp32 ONNX (torch.onnx), ORT-optimised fp32, and its dynamic int8 quantisation."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel, AutoTokenizer

    raw = work / "model.onnx"
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    class Encoder(torch.nn.Module):
        """Keyword arguments only: BertModel.forward's positional order changes between versions."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model)).eval()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    encoder = Encoder().eval()
    sample = tokenizer(["a sample sentence for export"], return_tensors="pt")
    with torch.no_grad():
        torch.onnx.export(
            encoder,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(raw),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ["input_ids", "attention_mask", "token_type_ids"]}
            | {"last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=17,
            dynamo=False,
        )
    config = json.loads((model / "config.json").read_text())
    optimized = work / "model.opt.onnx"
    optimize_model(
        str(raw), model_type="bert", num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"]
    ).save_model_to_file(str(optimized))
    quantized = work / "model.opt.int8.onnx"
    import onnx

    # The optimiser's fused operators (com.microsoft domain) defeat shape inference: say float.
    quantize_dynamic(
        str(optimized),
        str(quantized),
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return {"fp32": optimized, "int8": quantized}


class OrtEmbedder:
    def __init__(self, path: Path, model: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_seq_length(model))
        self.cls = cls_pooling(model)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            if self.cls:
                pooled = hidden[:, 0, :]
            else:
                pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[chunk] = pooled
        return out

    def token_count(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(texts))


def timed(function: Callable[[], np.ndarray], repeats: int) -> tuple[float, float, np.ndarray]:
    vectors = function()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        vectors = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(wall), statistics.median(cpu), vectors


def run_ours(bench: Path, model: Path, texts_file: Path, threads: list[int], repeats: int, prefix: Path) -> dict:
    command = [
        str(bench), "--model", str(model), "--texts-file", str(texts_file), "--repeats", str(repeats),
        "--query-repeats", "30", "--vectors-out", str(prefix), "--json", "--threads",
    ] + [str(t) for t in threads]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")
    return json.loads(result.stdout)


def cosines(vectors: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    values = (vectors * reference).sum(axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1)
    )
    return {"mean": float(values.mean()), "min": float(values.min())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, required=True, help="the rag-bench-embed executable")
    parser.add_argument("--model", type=Path, required=True, help="a sentence-transformers BERT model folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sets", nargs="+", default=["uniform-120w", "mixed"])
    parser.add_argument("--json-out", type=Path, help="also write every figure as JSON here")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    work = Path(tempfile.mkdtemp(prefix="ragline-embed-peers-"))
    onnx_paths = export_onnx(args.model, work)
    sessions = {
        (variant, threads): OrtEmbedder(path, args.model, threads)
        for variant, path in onnx_paths.items()
        for threads in args.threads
    }
    sentence_model = SentenceTransformer(str(args.model), device="cpu")
    sentence_model.max_seq_length = max_seq_length(args.model)
    sets = {name: texts for name, texts in text_sets(args.model).items() if name in args.sets}

    systems = ["ours fp32", "ours int8", "ORT fp32", "ORT int8", "torch (sentence-transformers)"]
    samples: dict = {}
    results: dict = {"model": args.model.name, "rounds": args.rounds, "repeats": args.repeats, "sets": {}}
    for set_name, texts in sets.items():
        texts_file = work / f"{set_name}.json"
        texts_file.write_text(json.dumps(texts))
        token_count = sessions[("fp32", args.threads[0])].token_count(texts)
        vectors: dict[str, np.ndarray] = {}
        ours_tokens = 0
        latency: dict[str, list[float]] = {s: [] for s in ["ours fp32", "ours int8", "ORT fp32", "ORT int8"]}
        latency_cpu: dict[str, list[float]] = {s: [] for s in latency}
        for round_index in range(args.rounds):
            ours = run_ours(args.bench, args.model, texts_file, args.threads, args.repeats, work / set_name)
            ours_tokens = ours["tokens"]
            for precision in ["fp32", "int8"]:
                for threads in args.threads:
                    figures = ours[precision][f"threads_{threads}"]
                    key = (set_name, f"ours {precision}", threads)
                    samples.setdefault(key, []).append((figures["median_seconds"], figures["median_cpu_seconds"]))
                latency[f"ours {precision}"].append(ours[precision]["query_12_words_ms_1_thread"])
                latency_cpu[f"ours {precision}"].append(ours[precision]["query_12_words_cpu_ms_1_thread"])
                if round_index == 0:
                    raw = np.fromfile(work / f"{set_name}.{precision}.f32", dtype=np.float32)
                    vectors[f"ours {precision}"] = raw.reshape(len(texts), -1)
            for threads in args.threads:
                torch.set_num_threads(threads)
                for variant in ["fp32", "int8"]:
                    session = sessions[(variant, threads)]
                    wall, cpu, v = timed(lambda: session.embed(texts), args.repeats)
                    samples.setdefault((set_name, f"ORT {variant}", threads), []).append((wall, cpu))
                    vectors.setdefault(f"ORT {variant}", v)
                wall, cpu, v = timed(
                    lambda: sentence_model.encode(
                        texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True
                    ),
                    args.repeats,
                )
                samples.setdefault((set_name, "torch (sentence-transformers)", threads), []).append((wall, cpu))
                vectors.setdefault("torch (sentence-transformers)", v)
            for variant in ["fp32", "int8"]:
                session = sessions[(variant, 1)] if (variant, 1) in sessions else sessions[(variant, args.threads[0])]
                session.embed([QUERY])
                for _ in range(30):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    session.embed([QUERY])
                    latency[f"ORT {variant}"].append(1e3 * (time.perf_counter() - start))
                    latency_cpu[f"ORT {variant}"].append(1e3 * (time.process_time() - cpu_start))
        reference = vectors["torch (sentence-transformers)"]
        set_result: dict = {
            "texts": len(texts),
            "tokens_hf": token_count,
            "tokens_ours": ours_tokens,
            "ours_last_report": ours,
            "rows": [],
        }
        for threads in args.threads:
            ort = {}
            for variant in ["fp32", "int8"]:
                wall = statistics.median(s[0] for s in samples[(set_name, f"ORT {variant}", threads)])
                cpu = statistics.median(s[1] for s in samples[(set_name, f"ORT {variant}", threads)])
                ort[variant] = (wall, cpu)
            for system in systems:
                wall = statistics.median(s[0] for s in samples[(set_name, system, threads)])
                cpu = statistics.median(s[1] for s in samples[(set_name, system, threads)])
                tokens = ours_tokens if system.startswith("ours") else token_count
                peer = ort["int8" if "int8" in system else "fp32"]
                set_result["rows"].append(
                    {
                        "system": system,
                        "threads": threads,
                        "tokens_per_s": tokens / wall,
                        "texts_per_s": len(texts) / wall,
                        "tokens_per_cpu_s": tokens / cpu,
                        "ratio_to_ort_wall": peer[0] / wall,
                        "ratio_to_ort_cpu": peer[1] / cpu,
                        "cosine_to_torch": cosines(vectors[system], reference),
                    }
                )
        set_result["query_12_words_ms_1_thread"] = {k: statistics.median(v) for k, v in latency.items() if v}
        set_result["query_12_words_cpu_ms_1_thread"] = {k: statistics.median(v) for k, v in latency_cpu.items() if v}
        results["sets"][set_name] = set_result

        print(
            f"\n{args.model.name}, {set_name}: {len(texts)} texts, {token_count} tokens (HF), {ours_tokens} (ours); "
            f"OpenBLAS core {ours['openblas_core']}, int8 kernel {ours['int8_kernel']}"
        )
        for precision in ["fp32", "int8"]:
            for threads in args.threads:
                figures = ours[precision][f"threads_{threads}"]
                print(
                    f"ours {precision}, {threads} thread(s), last round: {figures['gflops']:.1f} GFLOP/s wall, "
                    f"{figures['share_of_sgemm_peak_cpu']:.2f} of sgemm peak per CPU s "
                    f"({figures['sgemm_peak_gflops']:.0f} GFLOP/s wall)"
                )
        print("| system | threads | tokens/s | texts/s | tokens per CPU s | × ORT (wall) | × ORT (CPU) | cosine to torch mean / min |")
        print("|---|---|---|---|---|---|---|---|")
        for row in set_result["rows"]:
            cos = row["cosine_to_torch"]
            print(
                f"| {row['system']} | {row['threads']} | {row['tokens_per_s']:,.0f} | {row['texts_per_s']:.1f} | "
                f"{row['tokens_per_cpu_s']:,.0f} | {row['ratio_to_ort_wall']:.2f} | {row['ratio_to_ort_cpu']:.2f} | "
                f"{cos['mean']:.5f} / {cos['min']:.5f} |"
            )
        print(
            "12-word query, 1 thread, median ms wall (CPU): "
            + ", ".join(
                f"{k} {v:.2f} ({set_result['query_12_words_cpu_ms_1_thread'][k]:.2f})"
                for k, v in set_result["query_12_words_ms_1_thread"].items()
            )
        )
        sys.stdout.flush()
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    for path in work.iterdir():
        path.unlink()
    os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
