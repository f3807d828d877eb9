#pragma once
// Embedder: the extension point that turns texts into fixed-size float vectors, and the registry
// that finds one by name (EmbedderConfig::name).
//
// Built-in names: lexical (the default: hashed words and character n-grams, offline; lexical,
// not semantic), openai (any OpenAI-compatible /v1/embeddings endpoint), bedrock (Amazon Bedrock
// Titan / Cohere Embed), use-lite (a local sentence encoder, fetched by scripts/fetch-models.sh),
// bert (a local BERT-family model from your folder). "none" is not an embedder: a KB created with
// it answers keyword queries only. registered_embedders() lists what a build and an application
// offer.
//
// An application brings its own model in one of two ways (models/README.md):
//  - register_embedder("my-model", factory) before opening, and open the KB with
//    EmbedderConfig{.name = "my-model"}: the KB records the name and finds the embedder by it
//    whenever it is opened again (in this process; register it in every process that opens the KB);
//  - or pass an object as OpenOptions::embedder_instance: it is used instead of the registry.
//    The KB records the object's id() with its first vectors and refuses an object with another
//    id later. The KB's recorded name is OpenOptions::embedder->name when given (register the same
//    embedder under that name and the KB opens without the object too), else "application"; a KB
//    reopened without the object and without a registered name opens, answers keyword queries,
//    and fails dense search, hybrid search and ingest with Error(invalid_argument) saying to pass
//    OpenOptions::embedder_instance.
//
// Thread safety: the KB calls an embedder from the thread that called into it and, during
// ingest(), from its preparing thread (never both at once for one KnowledgeBase). An object
// shared between KnowledgeBase objects used on several threads must be thread-safe.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ragline/export.hpp"
#include "ragline/types.hpp"

namespace ragline {

// Row-major vectors: row i holds `dimension` floats for text i.
struct EmbeddingMatrix {
  std::size_t rows = 0;
  std::size_t dimension = 0;
  std::vector<float> values;

  std::span<const float> row(std::size_t i) const { return {values.data() + i * dimension, dimension}; }
  std::span<float> row(std::size_t i) { return {values.data() + i * dimension, dimension}; }
};

// Documents and queries may be embedded differently (Cohere's input_type, e5 prefixes).
enum class EmbedPurpose { document, query };

class RAGLINE_API Embedder {
 public:
  virtual ~Embedder();
  // Identifies the model and everything that changes its vectors, e.g. "lexical-v1/768/english",
  // "openai/text-embedding-3-small/1536". Vectors of different ids are never mixed in one KB.
  virtual std::string id() const = 0;
  // Floats per vector; 0 while unknown (a model service learns it from its first answer, and its
  // id() names it from then on).
  virtual std::size_t dimension() const = 0;
  // One row per text, in order; rows need not be normalised (the KB scores by inner product, so
  // return unit vectors for cosine similarity). Throws Error: kind network for a service that
  // failed (naming the endpoint and status, never a credential); during ingest such a failure is
  // reported (IngestFailureKind::embedder) and the documents wait for their vectors.
  virtual EmbeddingMatrix embed(std::span<const std::string> texts, EmbedPurpose purpose) = 0;
  // Whether vectors are worth keeping in the KB's embedding cache (kb.sqlite): true for model
  // services, false where computing a vector is cheaper than looking it up.
  virtual bool cacheable() const { return true; }
  // Texts this embedder has cut to its input window since it was made (models with a fixed
  // window, e.g. use-lite's 128 pieces); 0 for embedders that never cut. Thread-safe.
  virtual std::size_t texts_truncated() const { return 0; }
  // What FusionConfig::method "auto" stands for with this embedder's vectors (types.hpp,
  // FusionConfig): a method other than "auto" with its weights, and the candidates per side used
  // when the query leaves FusionConfig::candidates at its default. The default, weighted minmax
  // fusion with alpha 0.3 over 100 candidates, suits a real sentence encoder; re-run
  // scripts/fusion-sweep.sh with yours.
  virtual FusionConfig fusion_defaults() const;
};

// Makes an embedder from the KB's recorded (or requested) config and the KB's analyser (the
// lexical embedder uses its language). May throw Error naming the bad field.
using EmbedderFactory =
    std::function<std::unique_ptr<Embedder>(const EmbedderConfig& config, const AnalyzerConfig& analyzer)>;

// Adds an embedder name, or replaces the factory of a name an application registered before.
// Throws Error(invalid_argument) for an empty name, "none", "application" or a built-in name (KBs
// record those names, and their vectors depend on what the names mean). Thread-safe.
RAGLINE_API void register_embedder(const std::string& name, EmbedderFactory factory);
// Every name an EmbedderConfig may carry (built-in and registered), sorted; "none" is not listed.
RAGLINE_API std::vector<std::string> registered_embedders();

}  // namespace ragline
