#pragma once
// Value types of the public API: options in, reports and hits out. Plain structs, copyable,
// no behaviour; every field has a default that a new KB or a plain query can use as is.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ragline {

class Embedder;  // ragline/embedder.hpp

// A metadata value attached to a document and inherited by its chunks. Numbers are doubles
// (as in JSON); lists hold strings only, as in Amazon Bedrock Knowledge Bases metadata.
using MetadataValue = std::variant<std::string, double, bool, std::vector<std::string>>;
using Metadata = std::map<std::string, MetadataValue>;

// How documents are cut into chunks. Token counts are ICU word-boundary segments that are not
// white space (words, numbers and punctuation marks each count one); see ingest/README.md for
// how they relate to a model's sub-word tokens.
struct ChunkerConfig {
  // markdown is the default: it follows headings, paragraphs, code fences and tables where the
  // text has them, and packs sentences where it has none.
  std::string name = "markdown";  // fixed | sentence | markdown | hierarchical | none
  int max_tokens = 256;           // fixed, sentence, markdown: upper bound of a chunk
  int overlap_tokens = 0;         // fixed, sentence: tokens repeated from the previous chunk
  int parent_tokens = 1024;       // hierarchical: size of the returned parent chunks
  int child_tokens = 128;         // hierarchical: size of the searched child chunks

  bool operator==(const ChunkerConfig&) const = default;
};

// How text is turned into search terms, for documents and queries alike. Fixed when a KB is
// created: the FTS5 index is built with it.
struct AnalyzerConfig {
  std::string language = "english";  // a Snowball stemmer name (english, german, french, ...)
  bool stemming = true;              // false: terms are folded but not stemmed
  bool stopwords = true;             // drop the language's stopwords (when it has a list)

  bool operator==(const AnalyzerConfig&) const = default;
};

// Which model turns text into vectors. Fixed when a KB is created: every chunk vector in a KB
// comes from one embedder with one dimension (a different one is refused, naming both).
struct EmbedderConfig {
  // A name registered with the embedder registry (ragline/embedder.hpp; registered_embedders()
  // lists them): built in are lexical (offline: hashed words and character n-grams; lexical, not
  // semantic), openai (any OpenAI-compatible /v1/embeddings endpoint), bedrock (Amazon Bedrock
  // InvokeModel: Titan Text Embeddings v2, Cohere Embed), use-lite (local sentence encoder) and
  // bert (a local BERT-family model folder); "none": no vectors, keyword search only.
  std::string name = "lexical";
  int dimension = 0;     // 0: the embedder's default (lexical 768; openai: the model's own; titan 1024)
  std::string model;     // openai: model name; bedrock: model id (default amazon.titan-embed-text-v2:0)
  std::string base_url;  // openai: default https://api.openai.com; bedrock: default from the region
  // openai: read at each embed() call; the default unset sends no key, any other variable named
  // and unset fails the call (invalid_argument, naming it), empty sends no key (net/api_key.hpp).
  std::string api_key_env = "OPENAI_API_KEY";  // openai: the environment variable holding the key
  std::string region;                          // bedrock: default $AWS_REGION, then us-east-1
  std::size_t batch_size = 64;                 // texts per request at most
  std::size_t batch_bytes = 256u << 10;        // request text bytes at most (one text may exceed it)
  int max_in_flight = 4;                       // concurrent requests
  double timeout_seconds = 60;                 // per request
  int max_retries = 5;                         // on 429, 5xx, timeouts and connection failures
  // use-lite: the folder holding the fetched models (scripts/fetch-models.sh). Empty:
  // $RAGLINE_MODELS_DIR, then models/ in the working directory. Where the files are, not which
  // model: not part of the KB's embedder identity.
  std::string models_dir;
  // Local models (bert): text prepended to queries / documents before embedding. Empty: the model
  // family's default (e5: "query: " / "passage: "; bge: its query instruction); "none": no prefix.
  std::string query_prefix;
  std::string passage_prefix;
  // Local models (bert): arithmetic of the linear layers, fp32 or int8 (faster, vectors slightly
  // different: mean cosine to fp32 >= 0.995). Empty: the embedder's default (fp32). Part of the
  // KB's embedder identity, so a KB never mixes the two.
  std::string precision;

  bool operator==(const EmbedderConfig&) const = default;
};

// The approximate-nearest-neighbour index over chunk vectors (vectors.faiss). It is derived
// data: changing it only rebuilds vectors.faiss from the vectors kept in kb.sqlite.
struct VectorIndexConfig {
  std::string type = "flat";  // flat (exact) | hnsw | ivf
  int hnsw_m = 32;            // hnsw: graph degree
  int ef_construction = 80;   // hnsw: build-time beam
  int ef_search = 128;        // hnsw: query-time beam (a query may ask for more)
  int nlist = 0;              // ivf: inverted lists; 0 = about 4 * sqrt(vectors) when trained
  int nprobe = 16;            // ivf: lists searched per query (a query may ask for more)
  int pq_m = 0;               // ivf: 0 = IVF-Flat; otherwise product-quantiser sub-vectors
  int pq_bits = 8;            // ivf-pq: bits per sub-vector code

  bool operator==(const VectorIndexConfig&) const = default;
};

enum class LogLevel { debug, info, warning, error };
// The library never writes to stdout or stderr itself; it reports through this callback, on the
// thread that called into the library.
using LogCallback = std::function<void(LogLevel, const std::string&)>;

struct OpenOptions {
  bool create_if_missing = true;
  // Settings for a KB that is created by this call. For an existing KB they must either be
  // left unset or match what the KB was created with (an Error names both otherwise).
  std::optional<ChunkerConfig> chunker;
  std::optional<AnalyzerConfig> analyzer;
  std::optional<EmbedderConfig> embedder;
  // An embedder object of the application's, used instead of looking `embedder->name` up in the
  // registry (ragline/embedder.hpp says what the KB records and what a reopen without it does).
  // The KB records its id() with the first vectors and refuses an object with another id.
  std::shared_ptr<Embedder> embedder_instance;
  // The vector index type is derived data: a different one than the KB has rebuilds vectors.faiss.
  std::optional<VectorIndexConfig> vector_index;
  LogCallback log;
};

struct IngestProgress {
  std::size_t files_done = 0;
  std::size_t files_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  double seconds = 0;
  std::string current_path;
};
// Called on the thread that called ingest(), after each written batch and at the end.
using ProgressCallback = std::function<void(const IngestProgress&)>;

// One user-supplied redaction pattern: matches of `regex` (ICU regular expression syntax) become
// "[NAME]" (the name upper-cased).
struct RedactionPattern {
  std::string name;  // letters, digits and '_', starting with a letter
  std::string regex;

  bool operator==(const RedactionPattern&) const = default;
};

// PII redaction at ingest (ingest/README.md lists what each detector matches). Recorded in the
// KB when first used: later ingests keep redacting with it, and queries are redacted the same way.
struct RedactionConfig {
  // Built-in detectors: email | phone | card | ssn | iban | ip. Empty with no patterns: none.
  std::vector<std::string> types = {"email", "phone", "card", "ssn", "iban", "ip"};
  std::vector<RedactionPattern> patterns;  // tried before the built-ins when matches tie

  bool operator==(const RedactionConfig&) const = default;
};

struct IngestOptions {
  std::vector<std::string> include_globs;  // file names matched against these (empty: all supported)
  std::vector<std::string> exclude_globs;  // applied after include; matched against relative paths and names
  // Remove documents under the given roots that this run did not find: sources that are gone,
  // and files the include/exclude globs no longer select. Documents of files that failed are kept.
  bool prune = false;
  // JSON/JSONL record field names.
  std::string id_field = "id";  // BEIR's "_id" is accepted as well when this field is missing
  std::string title_field = "title";
  std::string text_field = "text";
  std::string metadata_field = "metadata";
  std::size_t batch_documents = 512;  // documents per transaction
  // Memory bounds for hostile input; 0 means no limit. A file larger than max_file_bytes is
  // reported in IngestReport::failures without being read: a document costs several times its
  // size while it is normalised and chunked (a 100 MB text file peaks near 0.75-0.95 GB RSS).
  // JSON Lines files stream their records, so for them the bound applies to each record's text
  // (the file itself up to 8 GiB). A document that would produce more chunks than
  // max_chunks_per_document is reported instead of written (100000 chunks: about 50 MB of text
  // at the default chunk size).
  std::uint64_t max_file_bytes = 256ull << 20;
  std::size_t max_chunks_per_document = 100000;
  ProgressCallback progress;
  // Unset: the KB's recorded redaction, if any. Set and different from the recorded one: it
  // replaces it (a warning in the report); documents are re-redacted only when re-ingested.
  std::optional<RedactionConfig> redaction;
};

// What an IngestFailure is about.
enum class IngestFailureKind {
  input,            // one input: a whole file, or one record of a JSONL file (location: path or path:line)
  embedder,         // the embedder failed (location: "embedder <id>"); documents were stored without vectors
  pending_vectors,  // after an embedder failure: the chunks still waiting for vectors (the next ingest embeds them)
};

// One thing an ingest could not do; the others went ahead.
struct IngestFailure {
  std::string location;  // path, or path:line for a record; see IngestFailureKind
  std::string reason;
  IngestFailureKind kind = IngestFailureKind::input;
};

// A file the walker found but did not read as a document: one that is neither a known format nor
// text (binary content, a legacy encoding), or an empty one. Not a failure: ok() stays true.
struct IngestSkip {
  std::string location;  // the file's path
  std::string reason;    // "empty file", "binary content (a NUL byte in the first 8 KiB)", ...
};

struct IngestReport {
  std::size_t files_seen = 0;  // files read (skipped files are not counted)
  std::size_t documents_added = 0;
  std::size_t documents_updated = 0;
  std::size_t documents_unchanged = 0;
  std::size_t documents_pruned = 0;
  std::size_t chunks_written = 0;
  std::size_t chunks_embedded = 0;        // vectors computed by the embedder in this run
  std::size_t embeddings_from_cache = 0;  // vectors found in the KB's embedding cache
  double embed_seconds = 0;               // time spent computing embeddings
  std::size_t chunks_truncated = 0;       // embedded chunks longer than the model's input window (cut)
  std::size_t invalid_utf8_replaced = 0;  // bytes replaced by U+FFFD across all inputs
  std::uint64_t bytes_read = 0;
  double seconds = 0;
  std::vector<IngestFailure> failures;
  std::vector<IngestSkip> skipped;                // files skipped with the reason, in path order
  std::map<std::string, std::size_t> redactions;  // matches replaced, by type (email, ..., or pattern name)
  std::vector<std::string> warnings;              // notices that are not failures (a replaced redaction config)
  bool ok() const { return failures.empty(); }
};

// BM25F ranking (Robertson & Zaragoza) over a chunk's text, its document's title and its heading
// path. The defaults were chosen on the Cranfield, MED and CISI collections together
// (bench/README.md), not on any one of them.
struct Bm25Config {
  double k1 = 2.0;  // term-frequency saturation
  double b = 0.75;  // length normalisation, 0 (none) to 1 (full)
  double weight_text = 1.0;
  double weight_title = 2.0;
  double weight_heading = 1.0;
};

enum class SearchMode { bm25, dense, hybrid };

// How the BM25 and dense candidate lists become one ranking (retrieve/README.md).
//
// The default, "auto", is what the KB's embedder says (Embedder::fusion_defaults,
// ragline/embedder.hpp). The built-in ones come from scripts/fusion-sweep.sh (`rag-bench --sweep`
// over Cranfield, MED and CISI together, bench/README.md) and depend on how strong the dense side is:
//  - the built-in lexical embedder: rrf with rrf_k 5 and dense_weight 0.01. Its dense side is
//    weaker than BM25 and says much the same, so BM25 keeps the top ranks (nDCG@10 equals BM25's
//    on all three sets) while the dense list reorders the tail and adds chunks BM25 cannot match
//    (Recall@100 +1.0 point on MED, +0.1 on CISI). It is the only family of the 320 settings
//    swept that loses to BM25 on no set; every stronger dense weight lost nDCG@10 somewhere.
//  - use-lite (the local sentence encoder): weighted minmax fusion with alpha 0.2 over 1,000
//    candidates per side (when candidates is left at its default): nDCG@10 +0.6 / +0.9 / +1.4
//    points and Recall@100 +0.3 / +5.0 / +2.1 over BM25 on Cranfield / MED / CISI, the best mean
//    of the 12 settings that lose to BM25 on no set (bench/README.md).
//  - other model embedders (openai, bedrock, bert): weighted minmax fusion with alpha 0.3, the
//    setting that gained over BM25 on these sets with a real sentence encoder while RRF lost
//    (issue 3's measurement). Re-run the sweep with your embedder.
// An explicit method uses the fields below as given.
struct FusionConfig {
  std::string method = "auto";           // auto | rrf | weighted | dbsf
  double rrf_k = 60;                     // rrf: rank offset
  double bm25_weight = 1.0;              // rrf: weight of the BM25 list
  double dense_weight = 1.0;             // rrf: weight of the dense list
  double alpha = 0.5;                    // weighted and dbsf: weight of the dense side (1 - alpha for BM25)
  std::string normalization = "minmax";  // weighted: minmax | zscore
  std::size_t candidates = 100;          // hybrid: candidates taken from each side
};

// One stage of a rerank chain (rerank/README.md). Stages run in order on the fused hits; each
// takes the first `candidates` hits it is given, and passes on at most `top_n`.
struct RerankerConfig {
  // mmr (maximal marginal relevance over the chunk vectors, for diversity) | http (a
  // cross-encoder rerank service) | bedrock (Amazon Bedrock Rerank, SigV4) | reorder (long-context
  // reordering: strongest hits at both ends, weakest in the middle).
  std::string name;
  double lambda = 0.7;  // mmr: weight of relevance against redundancy, 0 to 1
  // mmr: what "relevance" is. score: the hit's retrieval score, min-max normalised over the
  // candidates (keeps the fused ranking's judgement; bench/README.md); cosine: query-chunk cosine
  // of the KB's vectors (the textbook form, as good as the dense side alone).
  std::string mmr_relevance = "score";
  std::string format = "cohere";  // http: cohere | jina | tei | llamacpp (request shape and path)
  std::string base_url;           // http: the service (default per format); bedrock: default from the region
  std::string model;              // http: model name; bedrock: model id (default amazon.rerank-v1:0)
  // http: the environment variable holding the API key, sent as "Authorization: Bearer"; empty:
  // COHERE_API_KEY for cohere, JINA_API_KEY for jina, none otherwise (the format's default
  // variable unset sends no key, whether named or left empty; any other variable named and
  // unset is an error naming it).
  std::string api_key_env;
  std::string region;               // bedrock: default $AWS_REGION, then us-east-1
  std::size_t candidates = 0;       // hits taken in (0: all it is given; the first stage defaults to 50)
  std::size_t top_n = 0;            // hits passed on (0: the query's k)
  std::optional<double> min_score;  // hits scoring below are dropped (mmr: the relevance, 0..1 for score)
  std::size_t batch_size = 64;      // http, bedrock: documents per request at most
  int max_in_flight = 4;            // http, bedrock: concurrent requests
  double timeout_seconds = 60;      // http, bedrock: per request
  int max_retries = 5;              // http, bedrock: on 429, 5xx, timeouts and connection failures

  bool operator==(const RerankerConfig&) const = default;
};

struct Query {
  Query() = default;
  Query(std::string query_text, std::size_t top_k = 10, Bm25Config bm25_config = {})
      : text(std::move(query_text)), k(top_k), bm25(bm25_config) {}

  std::string text;
  std::size_t k = 10;  // results wanted
  Bm25Config bm25;
  // hybrid needs vectors: a KB created with the embedder "none" answers bm25 queries only.
  SearchMode mode = SearchMode::hybrid;
  FusionConfig fusion;
  // A metadata filter in the JSON language of Amazon Bedrock Knowledge Bases
  // (retrieve/README.md); empty for none. Applied before ranking, on both sides.
  std::string filter;
  int ef_search = 0;  // hnsw: 0 = the index's setting
  int nprobe = 0;     // ivf: 0 = the index's setting
  // Filters passing at most this many chunks are scored exactly on the dense side instead of
  // through the ANN index (0 = the engine's default: 2^26 floats' worth, i.e. 87,381 chunks at
  // 768 dimensions, at least 4,096; 4,096 for IVF-PQ; retrieve/retriever.hpp).
  std::size_t exact_search_threshold = 0;
  // Applied in order after fusion; when not empty, the retriever fetches max(k, the first
  // stage's candidates) hits for the chain, and the last stage's output is the result.
  std::vector<RerankerConfig> rerank;
};

// One ranked list's view of a hit: its 1-based rank and raw score there.
struct SourceScore {
  std::size_t rank = 0;
  double score = 0;
};

struct Hit {
  std::int64_t chunk_id = 0;
  std::string document_uri;
  std::string title;
  std::string heading_path;
  std::string text;
  std::size_t byte_start = 0;  // offsets into the document's normalised text
  std::size_t byte_end = 0;
  std::optional<int> page;  // 1-based page for paginated sources (PDF)
  Metadata metadata;
  double score = 0;                  // higher is better: BM25, cosine similarity or the fused score by mode
  std::optional<SourceScore> bm25;   // when the BM25 side found it
  std::optional<SourceScore> dense;  // when the dense side found it
  // The score of the last rerank stage that scored this hit (http, bedrock: the service's
  // relevance; mmr: its marginal relevance when selected); `score` stays the retrieval score.
  std::optional<double> rerank_score;
};

// How a query was answered, for --explain and for tests.
struct SearchExplanation {
  SearchMode mode = SearchMode::hybrid;
  std::string fusion;  // empty outside hybrid
  bool filtered = false;
  std::size_t filter_matches = 0;  // chunks that passed the filter
  std::string dense_path;          // "index:<type>" or "exact" (filtered subset scored exactly)
  std::size_t bm25_candidates = 0;
  std::size_t dense_candidates = 0;
  double embed_ms = 0, filter_ms = 0, bm25_ms = 0, dense_ms = 0, fusion_ms = 0, hydrate_ms = 0;
  std::vector<std::string> rerankers;  // each rerank stage as run, e.g. "mmr lambda=0.5 in=50 out=10"
  double rerank_ms = 0;                // all rerank stages
  // Why the answer is not what the query asked for, in plain words, e.g. a hybrid query answered
  // from BM25 alone because the embedding service failed, or no results for a query without
  // searchable terms. Empty when the query ran as asked.
  std::vector<std::string> warnings;
};

struct SearchResult {
  std::vector<Hit> hits;
  SearchExplanation explanation;
};

struct DocumentInfo {
  std::int64_t id = 0;
  std::string uri;
  std::string title;
  std::string mime_type;
  std::string content_hash;  // hex SHA-256 of the normalised text, title and metadata
  std::int64_t size_bytes = 0;
  std::int64_t mtime = 0;        // seconds since the epoch, of the source file
  std::int64_t ingested_at = 0;  // seconds since the epoch
  std::int64_t chunk_count = 0;
  Metadata metadata;  // the document's own and its sidecar's (system keys such as _source_uri not included)
};

// A document given in memory (KnowledgeBase::upsert) rather than read from a file.
struct DocumentInput {
  // Its URI in the KB, as given ("tickets/4711", "crm:account/42"): non-empty, valid UTF-8, at
  // most kMaxDocumentIdBytes. Upserting the same id again replaces the document.
  std::string id;
  std::string title;
  std::string text;  // normalised (and redacted) like a file's text before it is chunked
  Metadata metadata;
};

// The longest DocumentInput::id accepted, in bytes.
inline constexpr std::size_t kMaxDocumentIdBytes = 2048;

// A document as the KB stores it (KnowledgeBase::get): for an upserted one, what was given
// after normalisation and redaction.
struct StoredDocument {
  std::string id;  // the document's URI: an upsert's id, or file:///... for a file
  std::string title;
  std::string text;  // the stored normalised (and redacted) text that chunk offsets refer to
  Metadata metadata;
  std::string content_hash;  // as DocumentInfo::content_hash
  std::int64_t chunk_count = 0;
};

struct Stats {
  std::int64_t documents = 0;
  std::int64_t chunks = 0;
  std::int64_t searchable_chunks = 0;  // excludes hierarchical parents
  std::int64_t tokens = 0;
  std::uint64_t bytes_on_disk = 0;
  int schema_version = 0;
  ChunkerConfig chunker;
  AnalyzerConfig analyzer;
  EmbedderConfig embedder;
  VectorIndexConfig vector_index;
  std::string embedder_id;                    // e.g. lexical-v1/768; empty for the embedder "none"
  std::int64_t vectors = 0;                   // chunk vectors stored in kb.sqlite
  std::size_t vector_dimension = 0;           // of those vectors (0 before the first)
  std::int64_t generation = 0;                // bumped by every committed change
  std::int64_t vector_index_generation = -1;  // of vectors.faiss on disk; -1 when there is none
  std::optional<RedactionConfig> redaction;   // the KB's recorded redaction; unset when it does not redact
};

}  // namespace ragline
