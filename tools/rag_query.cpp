// rag-query: the command line of ragline. Only argument parsing and printing live here; all
// work goes through the public API in <ragline/ragline.hpp>.
//
// Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage;
// 3 ingest finished but some inputs failed (listed on stderr and in the summary).

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ragline/ragline.hpp>
#include <sstream>

#include "ask_command.hpp"
#include "rerank_options.hpp"
#include "terminal_progress.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kExitFailed = 1;
constexpr int kExitIngestFailures = 3;

json metadata_to_json(const ragline::Metadata& metadata) {
  json object = json::object();
  for (const auto& [key, value] : metadata) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          // Metadata numbers are doubles; whole ones print as integers (year 2024, not 2024.0).
          if constexpr (std::is_same_v<T, double>) {
            if (std::trunc(v) == v && std::fabs(v) < 9e15) {
              object[key] = static_cast<std::int64_t>(v);
              return;
            }
          }
          object[key] = v;
        },
        value);
  }
  return object;
}

std::string metadata_to_text(const ragline::Metadata& metadata) {
  std::ostringstream text;
  bool first = true;
  for (const auto& [key, value] : metadata) {
    text << (first ? "" : ", ") << key << "=" << metadata_to_json({{key, value}})[key].dump();
    first = false;
  }
  return text.str();
}

// One line of text for a terminal: white space collapsed, cut at `limit` bytes on a UTF-8 boundary.
std::string snippet(const std::string& text, std::size_t limit) {
  std::string line;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == ' ') {
      space = !line.empty();
      continue;
    }
    if (space) line += ' ';
    space = false;
    line += c;
  }
  if (line.size() <= limit) return line;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "…";
}

std::string default_kb() {
  const char* from_environment = std::getenv("RAGLINE_KB");
  return from_environment ? from_environment : "";
}

void add_kb_option(CLI::App* command, std::string& kb) {
  command->add_option("--kb", kb, "Knowledge base directory (default: $RAGLINE_KB)");
}

ragline::KnowledgeBase open_existing(const std::string& kb) {
  if (kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  ragline::OpenOptions options;
  options.create_if_missing = false;
  return ragline::KnowledgeBase::open(kb, options);
}

void print_check(const ragline::CheckReport& report, bool as_json) {
  auto list = [](const std::vector<ragline::CheckFinding>& findings) {
    json array = json::array();
    for (const auto& finding : findings) array.push_back({{"area", finding.area}, {"message", finding.message}});
    return array;
  };
  if (as_json) {
    std::cout << json{{"ok", report.ok()}, {"findings", list(report.findings)}, {"pending", list(report.pending)}}.dump(
                     2)
              << "\n";
    return;
  }
  for (const auto& finding : report.findings) std::cout << finding.area << ": " << finding.message << "\n";
  for (const auto& item : report.pending) std::cout << "pending: " << item.area << ": " << item.message << "\n";
  std::cout << (report.ok() ? "ok" : std::to_string(report.findings.size()) + " findings") << "\n";
}

// Exit 0 when the KB is clean (pending work is not damage), 1 with findings, 2 when the KB
// cannot be opened or checked.
int run_check(const std::string& kb_dir, bool as_json) {
  try {
    const auto report = open_existing(kb_dir).check();
    print_check(report, as_json);
    return report.ok() ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "rag-query: " << error.what() << "\n";
    return 2;
  }
}

json hit_to_json(const ragline::Hit& hit, std::size_t rank) {
  json object = {{"rank", rank},
                 {"score", hit.score},
                 {"chunk_id", hit.chunk_id},
                 {"document_uri", hit.document_uri},
                 {"title", hit.title},
                 {"heading_path", hit.heading_path},
                 {"byte_start", hit.byte_start},
                 {"byte_end", hit.byte_end},
                 {"text", hit.text},
                 {"metadata", metadata_to_json(hit.metadata)}};
  object["page"] = hit.page ? json(*hit.page) : json(nullptr);
  const auto source = [](const std::optional<ragline::SourceScore>& side) {
    return side ? json{{"rank", side->rank}, {"score", side->score}} : json(nullptr);
  };
  object["bm25"] = source(hit.bm25);
  object["dense"] = source(hit.dense);
  if (hit.rerank_score) object["rerank_score"] = *hit.rerank_score;
  return object;
}

std::string mode_name(ragline::SearchMode mode) {
  switch (mode) {
    case ragline::SearchMode::bm25:
      return "bm25";
    case ragline::SearchMode::dense:
      return "dense";
    case ragline::SearchMode::hybrid:
      return "hybrid";
  }
  return "hybrid";
}

json explanation_to_json(const ragline::SearchExplanation& e) {
  return {{"mode", mode_name(e.mode)},
          {"fusion", e.fusion},
          {"filtered", e.filtered},
          {"filter_matches", e.filter_matches},
          {"dense_path", e.dense_path},
          {"bm25_candidates", e.bm25_candidates},
          {"dense_candidates", e.dense_candidates},
          {"ms",
           {{"embed", e.embed_ms},
            {"filter", e.filter_ms},
            {"bm25", e.bm25_ms},
            {"dense", e.dense_ms},
            {"fusion", e.fusion_ms},
            {"hydrate", e.hydrate_ms},
            {"rerank", e.rerank_ms}}},
          {"rerankers", e.rerankers}};
}

std::string side_text(const char* name, const std::optional<ragline::SourceScore>& side) {
  char line[96];
  if (!side) {
    std::snprintf(line, sizeof line, "%s -", name);
  } else {
    std::snprintf(line, sizeof line, "%s #%zu (%.4f)", name, side->rank, side->score);
  }
  return line;
}

void print_hits(const std::string& query, const std::vector<ragline::Hit>& hits, bool as_json,
                const ragline::SearchExplanation* explanation = nullptr) {
  if (as_json) {
    json list = json::array();
    for (std::size_t i = 0; i < hits.size(); ++i) list.push_back(hit_to_json(hits[i], i + 1));
    json output = {{"query", query}, {"hits", list}};
    if (explanation) output["explanation"] = explanation_to_json(*explanation);
    std::cout << output.dump(2) << "\n";
    return;
  }
  if (explanation) {
    const auto& e = *explanation;
    std::printf("mode %s%s%s", mode_name(e.mode).c_str(), e.fusion.empty() ? "" : ", fusion ", e.fusion.c_str());
    if (e.filtered) std::printf("; filter passed %zu chunks", e.filter_matches);
    if (!e.dense_path.empty()) std::printf("; dense path %s", e.dense_path.c_str());
    std::printf("; candidates bm25 %zu, dense %zu\n", e.bm25_candidates, e.dense_candidates);
    std::printf("ms: embed %.2f, filter %.2f, bm25 %.2f, dense %.2f, fusion %.2f, hydrate %.2f", e.embed_ms,
                e.filter_ms, e.bm25_ms, e.dense_ms, e.fusion_ms, e.hydrate_ms);
    if (!e.rerankers.empty()) std::printf(", rerank %.2f", e.rerank_ms);
    std::printf("\n");
    for (std::size_t stage = 0; stage < e.rerankers.size(); ++stage) {
      std::printf("rerank %zu: %s\n", stage + 1, e.rerankers[stage].c_str());
    }
    std::printf("\n");
  }
  if (hits.empty()) {
    std::cout << "no results\n";
    return;
  }
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const auto& hit = hits[i];
    std::printf("%zu. %s  (score %.4f)\n", i + 1, hit.title.empty() ? "(untitled)" : hit.title.c_str(), hit.score);
    if (!hit.heading_path.empty()) std::printf("   section: %s\n", hit.heading_path.c_str());
    std::printf("   %s  bytes %zu-%zu", hit.document_uri.c_str(), hit.byte_start, hit.byte_end);
    if (hit.page) std::printf("  page %d", *hit.page);
    std::printf("\n   %s\n", snippet(hit.text, 300).c_str());
    if (!hit.metadata.empty()) std::printf("   metadata: %s\n", metadata_to_text(hit.metadata).c_str());
    if (explanation) {
      std::printf("   explain: %s | %s | fused %.6f", side_text("bm25", hit.bm25).c_str(),
                  side_text("dense", hit.dense).c_str(), hit.score);
      if (hit.rerank_score) std::printf(" | rerank %.6f", *hit.rerank_score);
      std::printf("\n");
    }
  }
}

// Embedder and vector index options of `ingest` (and the index options of `reindex`).
struct VectorArguments {
  std::string embedder, model, base_url, api_key_env, region, models_dir;
  std::string query_prefix, passage_prefix;
  int dimension = 0;
  std::size_t batch = 0;
  int in_flight = 0, retries = -1;
  double timeout = 0;
  std::string index_type;
  int hnsw_m = 0, ef_construction = 0, ef_search = 0, nlist = -1, nprobe = 0, pq_m = -1, pq_bits = 0;

  void add_embedder_options(CLI::App* command) {
    command->add_option("--embedder", embedder,
                        "lexical (default) | use-lite | bert | openai | bedrock | none (new KB)");
    command->add_option("--models-dir", models_dir,
                        "use-lite: folder of fetched models (default $RAGLINE_MODELS_DIR, then ./models)");
    command->add_option("--dimension", dimension, "Vector dimension (0: the embedder's default)");
    command->add_option("--embed-model", model, "openai: model name; bedrock: model id; bert: model folder");
    command->add_option("--query-prefix", query_prefix, "bert: text before each query (none: no prefix)");
    command->add_option("--passage-prefix", passage_prefix, "bert: text before each document chunk (none: no prefix)");
    command->add_option("--embed-url", base_url, "openai: base URL (e.g. http://localhost:11434); bedrock: endpoint");
    command->add_option("--api-key-env", api_key_env, "openai: environment variable holding the API key");
    command->add_option("--region", region, "bedrock: AWS region (default $AWS_REGION)");
    command->add_option("--embed-batch", batch, "Texts per embedding request");
    command->add_option("--embed-in-flight", in_flight, "Embedding requests in flight");
    command->add_option("--embed-timeout", timeout, "Seconds per embedding request");
    command->add_option("--embed-retries", retries, "Retries per embedding request");
  }

  void add_index_options(CLI::App* command) {
    command->add_option("--index", index_type, "Vector index: flat | hnsw | ivf");
    command->add_option("--hnsw-m", hnsw_m, "hnsw: graph degree M");
    command->add_option("--ef-construction", ef_construction, "hnsw: build beam");
    command->add_option("--ef-search", ef_search, "hnsw: default query beam");
    command->add_option("--nlist", nlist, "ivf: inverted lists (0: from the vector count)");
    command->add_option("--nprobe", nprobe, "ivf: default lists searched per query");
    command->add_option("--pq-m", pq_m, "ivf: product-quantiser sub-vectors (0: IVF-Flat)");
    command->add_option("--pq-bits", pq_bits, "ivf-pq: bits per code");
  }

  std::optional<ragline::EmbedderConfig> embedder_config() const {
    const bool operational = !base_url.empty() || !api_key_env.empty() || !region.empty() || batch > 0 ||
                             in_flight > 0 || retries >= 0 || timeout > 0 || !models_dir.empty();
    if (embedder.empty()) {
      if (operational || dimension > 0 || !model.empty() || !query_prefix.empty() || !passage_prefix.empty()) {
        throw ragline::Error(ragline::ErrorKind::invalid_argument,
                             "embedder options need --embedder NAME (the KB's embedder)");
      }
      return std::nullopt;
    }
    ragline::EmbedderConfig config;
    config.name = embedder;
    config.dimension = dimension;
    config.model = model;
    if (embedder == "bedrock" && model.empty()) config.model = "amazon.titan-embed-text-v2:0";
    // A model folder is stored with the KB, which may be opened from another directory.
    if (embedder == "bert" && !model.empty()) config.model = fs::absolute(model).lexically_normal().string();
    config.base_url = base_url;
    if (!api_key_env.empty()) config.api_key_env = api_key_env;
    config.region = region;
    // Stored with a new KB: absolute, so later commands find the models from any directory.
    if (!models_dir.empty()) config.models_dir = fs::absolute(models_dir).string();
    config.query_prefix = query_prefix;
    config.passage_prefix = passage_prefix;
    if (batch > 0) config.batch_size = batch;
    if (in_flight > 0) config.max_in_flight = in_flight;
    if (retries >= 0) config.max_retries = retries;
    if (timeout > 0) config.timeout_seconds = timeout;
    return config;
  }

  // The KB's current settings with the options given applied.
  std::optional<ragline::VectorIndexConfig> index_config(const ragline::VectorIndexConfig& base) const {
    const bool given = !index_type.empty() || hnsw_m > 0 || ef_construction > 0 || ef_search > 0 || nlist >= 0 ||
                       nprobe > 0 || pq_m >= 0 || pq_bits > 0;
    if (!given) return std::nullopt;
    ragline::VectorIndexConfig config = base;
    if (!index_type.empty()) config.type = index_type;
    if (hnsw_m > 0) config.hnsw_m = hnsw_m;
    if (ef_construction > 0) config.ef_construction = ef_construction;
    if (ef_search > 0) config.ef_search = ef_search;
    if (nlist >= 0) config.nlist = nlist;
    if (nprobe > 0) config.nprobe = nprobe;
    if (pq_m >= 0) config.pq_m = pq_m;
    if (pq_bits > 0) config.pq_bits = pq_bits;
    return config;
  }
};

// The KB's stored index settings, for options that change only some of them.
ragline::VectorIndexConfig stored_index_config(const std::string& kb) {
  std::error_code error;
  if (kb.empty() || !fs::exists(fs::path(kb) / "kb.sqlite", error)) return {};
  return open_existing(kb).stats().vector_index;
}

struct IngestArguments {
  std::vector<std::string> paths;
  std::string kb = default_kb();
  std::string chunker;
  int max_tokens = 0, overlap = -1, parent_tokens = 0, child_tokens = 0;
  std::string language;
  bool no_stemming = false, no_stopwords = false;
  VectorArguments vectors;
  ragline::IngestOptions options;
  bool as_json = false, quiet = false;
  bool redact = false;
  std::string redact_types;                  // comma-separated; "none": user patterns only
  std::vector<std::string> redact_patterns;  // NAME=REGEX
};

// --redact, --redact-types, --redact-pattern; each of them turns redaction on.
std::optional<ragline::RedactionConfig> redaction_config(const IngestArguments& arguments) {
  if (!arguments.redact && arguments.redact_types.empty() && arguments.redact_patterns.empty()) return std::nullopt;
  ragline::RedactionConfig config;
  if (!arguments.redact_types.empty()) {
    config.types.clear();
    std::stringstream list(arguments.redact_types);
    for (std::string type; std::getline(list, type, ',');) {
      if (!type.empty() && type != "none") config.types.push_back(type);
    }
  }
  for (const auto& pattern : arguments.redact_patterns) {
    const auto equals = pattern.find('=');
    if (equals == std::string::npos || equals == 0)
      throw ragline::Error(ragline::ErrorKind::invalid_argument,
                           "--redact-pattern \"" + pattern + "\": expected NAME=REGEX");
    config.patterns.push_back({pattern.substr(0, equals), pattern.substr(equals + 1)});
  }
  return config;
}

json redaction_to_json(const ragline::RedactionConfig& config) {
  json patterns = json::array();
  for (const auto& pattern : config.patterns) patterns.push_back({{"name", pattern.name}, {"regex", pattern.regex}});
  return {{"types", config.types}, {"patterns", patterns}};
}

int run_ingest(IngestArguments& arguments) {
  if (arguments.kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  ragline::OpenOptions open_options;
  const bool chunker_given = !arguments.chunker.empty() || arguments.max_tokens > 0 || arguments.overlap >= 0 ||
                             arguments.parent_tokens > 0 || arguments.child_tokens > 0;
  if (chunker_given) {
    ragline::ChunkerConfig chunker;
    if (!arguments.chunker.empty()) chunker.name = arguments.chunker;
    if (arguments.max_tokens > 0) chunker.max_tokens = arguments.max_tokens;
    if (arguments.overlap >= 0) chunker.overlap_tokens = arguments.overlap;
    if (arguments.parent_tokens > 0) chunker.parent_tokens = arguments.parent_tokens;
    if (arguments.child_tokens > 0) chunker.child_tokens = arguments.child_tokens;
    open_options.chunker = chunker;
  }
  if (!arguments.language.empty() || arguments.no_stemming || arguments.no_stopwords) {
    ragline::AnalyzerConfig analyzer;
    if (!arguments.language.empty()) analyzer.language = arguments.language;
    analyzer.stemming = !arguments.no_stemming;
    analyzer.stopwords = !arguments.no_stopwords;
    open_options.analyzer = analyzer;
  }
  open_options.embedder = arguments.vectors.embedder_config();
  open_options.vector_index = arguments.vectors.index_config(stored_index_config(arguments.kb));
  open_options.log = [&](ragline::LogLevel level, const std::string& message) {
    if (level == ragline::LogLevel::warning || level == ragline::LogLevel::error) {
      if (!arguments.quiet) std::cerr << "\r" << message << "\n";
    }
  };
  auto kb = ragline::KnowledgeBase::open(arguments.kb, open_options);
  ragline::tools::ProgressBar progress_bar;
  if (!arguments.quiet) arguments.options.progress = [&](const ragline::IngestProgress& p) { progress_bar.update(p); };
  std::vector<fs::path> paths(arguments.paths.begin(), arguments.paths.end());
  arguments.options.redaction = redaction_config(arguments);
  const auto report = kb.ingest(paths, arguments.options);
  progress_bar.finish();

  const double megabytes = static_cast<double>(report.bytes_read) / 1e6;
  if (arguments.as_json) {
    json failures = json::array();
    for (const auto& failure : report.failures)
      failures.push_back({{"location", failure.location}, {"reason", failure.reason}});
    std::cout << json{{"files", report.files_seen},
                      {"added", report.documents_added},
                      {"updated", report.documents_updated},
                      {"unchanged", report.documents_unchanged},
                      {"pruned", report.documents_pruned},
                      {"failed", report.failures.size()},
                      {"chunks", report.chunks_written},
                      {"invalid_utf8_replaced", report.invalid_utf8_replaced},
                      {"bytes", report.bytes_read},
                      {"chunks_embedded", report.chunks_embedded},
                      {"embeddings_from_cache", report.embeddings_from_cache},
                      {"embed_seconds", report.embed_seconds},
                      {"chunks_truncated", report.chunks_truncated},
                      {"seconds", report.seconds},
                      {"redactions", report.redactions},
                      {"warnings", report.warnings},
                      {"failures", failures}}
                     .dump()
              << "\n";
  } else {
    std::printf(
        "ingested %zu files: %zu added, %zu updated, %zu unchanged, %zu pruned, %zu failed; %zu chunks; "
        "%.2f MB in %.2f s (%.2f MB/s)\n",
        report.files_seen, report.documents_added, report.documents_updated, report.documents_unchanged,
        report.documents_pruned, report.failures.size(), report.chunks_written, megabytes, report.seconds,
        report.seconds > 0 ? megabytes / report.seconds : 0.0);
    if (report.chunks_embedded + report.embeddings_from_cache > 0) {
      std::printf("embedded %zu chunks (%zu more from the cache) in %.2f s\n", report.chunks_embedded,
                  report.embeddings_from_cache, report.embed_seconds);
    }
    if (report.chunks_truncated > 0) {
      std::printf("%zu chunks were longer than the embedder's input window and embedded only in part\n",
                  report.chunks_truncated);
    }
    if (report.invalid_utf8_replaced > 0) {
      std::printf("replaced %zu invalid UTF-8 sequences with U+FFFD\n", report.invalid_utf8_replaced);
    }
    if (!report.redactions.empty()) {
      std::string counts;
      for (const auto& [type, count] : report.redactions)
        counts += (counts.empty() ? "" : ", ") + type + " " + std::to_string(count);
      std::printf("redacted: %s\n", counts.c_str());
    }
    // Without --quiet the log callback has shown them already.
    if (arguments.quiet) {
      for (const auto& warning : report.warnings) std::printf("warning: %s\n", warning.c_str());
    }
  }
  return report.ok() ? 0 : kExitIngestFailures;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ragline::Error(ragline::ErrorKind::not_found, "cannot read file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct QueryArguments {
  std::string text, kb = default_kb(), mode = "hybrid", filter, filter_file;
  ragline::Query query;
  ragline::cli::RerankArguments rerank;
  bool as_json = false, explain = false;

  void add(CLI::App* command) {
    add_retrieval_options(command);
    command->add_flag("--json", as_json, "Print results as JSON");
    command->add_flag("--explain", explain, "Show per-side ranks and scores, the dense path and timings");
  }

  // The options choosing what is retrieved, shared by query and prompt.
  void add_retrieval_options(CLI::App* command) {
    command->add_option("text", text, "Query text")->required();
    add_kb_option(command, kb);
    command->add_option("--mode", mode, "hybrid (default) | dense | bm25");
    command->add_option("--fusion", query.fusion.method, "auto (default) | rrf | weighted | dbsf (hybrid)");
    command->add_option("--rrf-k", query.fusion.rrf_k, "rrf: rank offset");
    command->add_option("--bm25-weight", query.fusion.bm25_weight, "rrf: weight of the BM25 list");
    command->add_option("--dense-weight", query.fusion.dense_weight, "rrf: weight of the dense list");
    command->add_option("--alpha", query.fusion.alpha, "weighted, dbsf: weight of the dense side, 0..1");
    command->add_option("--normalization", query.fusion.normalization, "weighted: minmax | zscore");
    command->add_option("--candidates", query.fusion.candidates, "hybrid: candidates per side");
    command->add_option("--filter", filter, "Metadata filter, JSON (Amazon Bedrock Knowledge Bases operators)");
    command->add_option("--filter-file", filter_file, "Metadata filter from a JSON file");
    command->add_option("-k", query.k, "Number of results")->check(CLI::Range(1, 10000));
    command->add_option("--ef-search", query.ef_search, "hnsw: query beam");
    command->add_option("--nprobe", query.nprobe, "ivf: lists searched");
    command->add_option("--exact-threshold", query.exact_search_threshold,
                        "Filters passing at most this many chunks are scored exactly");
    ragline::cli::add_rerank_options(*command, rerank);
  }

  int run() {
    auto opened = open_existing(kb);
    const auto result = search(opened);
    print_hits(text, result.hits, as_json, explain ? &result.explanation : nullptr);
    return 0;
  }

  ragline::SearchResult search(const ragline::KnowledgeBase& opened) { return opened.search(resolved_query()); }

  // The query as the options describe it (mode and filter resolved), not yet run.
  ragline::Query resolved_query() {
    if (!filter.empty() && !filter_file.empty()) {
      throw ragline::Error(ragline::ErrorKind::invalid_argument, "give --filter or --filter-file, not both");
    }
    query.text = text;
    query.filter = filter_file.empty() ? filter : read_text_file(filter_file);
    if (mode == "bm25") {
      query.mode = ragline::SearchMode::bm25;
    } else if (mode == "dense") {
      query.mode = ragline::SearchMode::dense;
    } else if (mode == "hybrid") {
      query.mode = ragline::SearchMode::hybrid;
    } else {
      throw ragline::Error(ragline::ErrorKind::invalid_argument,
                           "unknown mode \"" + mode + "\" (known: hybrid, dense, bm25)");
    }
    query.rerank = ragline::cli::rerankers_from(rerank);
    return query;
  }
};

// rag-query prompt: retrieval as in query, then the assembled prompt instead of the hits.
struct PromptArguments {
  QueryArguments retrieval;
  ragline::PromptOptions options;
  std::string format = "text", template_file;
  bool as_json = false;

  void add(CLI::App* command) {
    retrieval.add_retrieval_options(command);
    command->add_option("--format", format, "text (default) | openai | bedrock")
        ->check(CLI::IsMember({"text", "openai", "bedrock"}));
    command->add_option("--context-window", options.context_window, "The model's context window, in tokens")
        ->check(CLI::Range(1, 100000000));
    command->add_option("--answer-reserve", options.answer_reserve, "Tokens kept free for the answer");
    command->add_option("--template", template_file,
                        "Template file with {{question}} {{context}} {{sources}} {{history}} placeholders");
    command->add_option("--expand", options.expand, "none (default) | sentences | parent")
        ->check(CLI::IsMember({"none", "sentences", "parent"}));
    command->add_option("--sentence-window", options.sentence_window, "expand=sentences: sentences on each side")
        ->check(CLI::Range(0, 1000));
    command->add_flag("--json", as_json, "Print the prompt as JSON, with its sources, tokens and budget");
  }

  int run() {
    auto opened = open_existing(retrieval.kb);
    if (!template_file.empty()) options.template_text = read_text_file(template_file);
    const auto hits = retrieval.search(opened).hits;
    const auto prompt = opened.build_prompt(retrieval.text, hits, options);
    if (as_json) {
      std::cout << json::parse(prompt.to_json()).dump(2) << "\n";
    } else if (format == "openai") {
      std::cout << json::parse(prompt.openai_messages_json()).dump(2) << "\n";
    } else if (format == "bedrock") {
      std::cout << json::parse(prompt.bedrock_converse_json()).dump(2) << "\n";
    } else {
      std::cout << prompt.text() << "\n";
    }
    return 0;
  }
};

// rag-query ask: retrieval as in query, then a grounded answer from a chat model.
struct AskArguments {
  QueryArguments retrieval;
  rag_query::AskCommand command;

  void add(CLI::App* subcommand) {
    retrieval.add_retrieval_options(subcommand);
    command.add_options(subcommand);
  }

  int run() {
    auto opened = open_existing(retrieval.kb);
    command.question = retrieval.text;
    command.ask.query = retrieval.resolved_query();
    return command.run(opened);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rag-query: ingest files into a ragline knowledge base and search it"};
  app.require_subcommand(1);

  IngestArguments ingest_arguments;
  auto* ingest = app.add_subcommand("ingest", "Ingest files and directories into a KB (created if missing)");
  ingest->add_option("paths", ingest_arguments.paths, "Files or directories")->required();
  add_kb_option(ingest, ingest_arguments.kb);
  ingest->add_option("--chunker", ingest_arguments.chunker,
                     "fixed | sentence | markdown | hierarchical | none (new KB)");
  ingest->add_option("--max-tokens", ingest_arguments.max_tokens, "Largest chunk, in tokens (new KB)");
  ingest->add_option("--overlap", ingest_arguments.overlap, "Tokens repeated between chunks (new KB)");
  ingest->add_option("--parent-tokens", ingest_arguments.parent_tokens, "hierarchical: parent chunk size (new KB)");
  ingest->add_option("--child-tokens", ingest_arguments.child_tokens, "hierarchical: child chunk size (new KB)");
  ingest->add_option("--language", ingest_arguments.language, "Stemming language, e.g. english, german (new KB)");
  ingest->add_flag("--no-stemming", ingest_arguments.no_stemming, "Index unstemmed terms (new KB)");
  ingest->add_flag("--no-stopwords", ingest_arguments.no_stopwords, "Keep stopwords (new KB)");
  ingest->add_option("--include", ingest_arguments.options.include_globs, "Only files matching this glob (repeatable)");
  ingest->add_option("--exclude", ingest_arguments.options.exclude_globs, "Skip files matching this glob (repeatable)");
  ingest->add_flag("--prune", ingest_arguments.options.prune, "Remove documents whose source under PATHS is gone");
  ingest->add_option("--id-field", ingest_arguments.options.id_field, "JSON record id field (default id, then _id)");
  ingest->add_option("--title-field", ingest_arguments.options.title_field, "JSON record title field");
  ingest->add_option("--text-field", ingest_arguments.options.text_field, "JSON record text field");
  ingest->add_option("--metadata-field", ingest_arguments.options.metadata_field, "JSON record metadata field");
  ingest->add_option("--batch", ingest_arguments.options.batch_documents, "Documents per transaction");
  ingest
      ->add_option("--max-file-bytes", ingest_arguments.options.max_file_bytes,
                   "Larger files are reported, not read (default 268435456 = 256 MiB; 0: no limit)")
      ->check(CLI::NonNegativeNumber);
  ingest
      ->add_option("--max-chunks-per-document", ingest_arguments.options.max_chunks_per_document,
                   "Documents cut into more chunks are reported, not stored (default 100000; 0: no limit)")
      ->check(CLI::NonNegativeNumber);
  ingest_arguments.vectors.add_embedder_options(ingest);
  ingest_arguments.vectors.add_index_options(ingest);
  ingest->add_flag("--redact", ingest_arguments.redact,
                   "Replace PII (e-mail, phone, card, SSN, IBAN, IP) by placeholders such as [EMAIL]; recorded in "
                   "the KB, which keeps redacting documents and queries");
  ingest->add_option(
      "--redact-types", ingest_arguments.redact_types,
      "Built-in detectors to use, comma-separated (email,phone,card,ssn,iban,ip; none); implies --redact");
  ingest->add_option("--redact-pattern", ingest_arguments.redact_patterns,
                     "NAME=REGEX (ICU syntax): matches become [NAME] (repeatable); implies --redact");
  ingest->add_flag("--json", ingest_arguments.as_json, "Print the report as JSON");
  ingest->add_flag("-q,--quiet", ingest_arguments.quiet, "No progress bar or per-file warnings");

  std::string search_text, search_kb = default_kb();
  std::size_t k = 10;
  bool search_json = false;
  auto* search = app.add_subcommand("search", "BM25 search (query --mode bm25): ranked chunks for a query");
  search->add_option("text", search_text, "Query text")->required();
  add_kb_option(search, search_kb);
  search->add_option("-k", k, "Number of results")->check(CLI::Range(1, 100000));
  search->add_flag("--json", search_json, "Print results as JSON");

  QueryArguments query_arguments;
  auto* query = app.add_subcommand("query", "Hybrid, dense or BM25 search with filters and fusion");
  query_arguments.add(query);

  PromptArguments prompt_arguments;
  auto* prompt =
      app.add_subcommand("prompt", "Retrieve, then print the grounded prompt with citations (no model needed)");
  prompt_arguments.add(prompt);

  AskArguments ask_arguments;
  auto* ask = app.add_subcommand("ask", "Retrieve, then answer with a chat model, citing the sources used");
  ask_arguments.add(ask);

  std::vector<std::string> embed_texts;
  VectorArguments embed_arguments;
  bool embed_json = false, embed_as_query = false;
  auto* embed = app.add_subcommand("embed", "Print the vectors an embedder computes for texts (checks, debugging)");
  embed->add_option("texts", embed_texts, "Texts to embed")->required();
  embed_arguments.add_embedder_options(embed);
  embed->add_flag("--query", embed_as_query, "Embed as queries (models that embed queries differently)");
  embed->add_flag("--json", embed_json, "Print a JSON list of vectors, one per text, in order");

  std::string reindex_kb = default_kb();
  VectorArguments reindex_arguments;
  auto* reindex = app.add_subcommand("reindex", "Rebuild vectors.faiss from kb.sqlite (optionally as another type)");
  add_kb_option(reindex, reindex_kb);
  reindex_arguments.add_index_options(reindex);

  std::string stats_kb = default_kb();
  bool stats_json = false;
  auto* stats = app.add_subcommand("stats", "Counts, size and settings of a KB");
  add_kb_option(stats, stats_kb);
  stats->add_flag("--json", stats_json, "Print as JSON");

  std::string docs_kb = default_kb();
  bool docs_json = false;
  auto* docs = app.add_subcommand("docs", "List the documents of a KB");
  add_kb_option(docs, docs_kb);
  docs->add_flag("--json", docs_json, "Print as JSON");

  std::string delete_target, delete_kb = default_kb();
  auto* remove = app.add_subcommand("delete", "Remove one document (by URI, or by file path)");
  remove->add_option("uri", delete_target, "Document URI (file:///...#id) or a file path")->required();
  add_kb_option(remove, delete_kb);

  std::string check_kb = default_kb();
  bool check_json = false;
  auto* check = app.add_subcommand("check", "Verify a KB (exit 0 clean, 1 with findings, 2 when it cannot be checked)");
  add_kb_option(check, check_kb);
  check->add_flag("--json", check_json, "Print the findings as JSON");

  std::string repair_kb = default_kb();
  auto* repair = app.add_subcommand("repair", "Rebuild the keyword index and vectors.faiss from kb.sqlite");
  add_kb_option(repair, repair_kb);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every real usage error exits 2, whatever CLI11's own code.
    return app.exit(error) == 0 ? 0 : 2;
  }

  if (*check) return run_check(check_kb, check_json);
  try {
    if (*ingest) return run_ingest(ingest_arguments);
    if (*embed) {
      if (embed_arguments.embedder.empty()) embed_arguments.embedder = "lexical";
      const auto vectors = ragline::embed_texts(*embed_arguments.embedder_config(), embed_texts, embed_as_query);
      if (embed_json) {
        std::cout << json(vectors).dump() << "\n";
      } else {
        for (std::size_t i = 0; i < vectors.size(); ++i) {
          std::printf("%zu\t%zu", i, vectors[i].size());
          for (float value : vectors[i]) std::printf(" %.7g", value);
          std::printf("\n");
        }
      }
      return 0;
    }
    if (*search) {
      auto kb = open_existing(search_kb);
      ragline::Query bm25_query(search_text, k);
      bm25_query.mode = ragline::SearchMode::bm25;
      print_hits(search_text, kb.retrieve(bm25_query), search_json);
      return 0;
    }
    if (*query) return query_arguments.run();
    if (*prompt) return prompt_arguments.run();
    if (*ask) return ask_arguments.run();
    if (*reindex) {
      if (reindex_kb.empty())
        throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
      ragline::OpenOptions options;
      options.create_if_missing = false;
      options.vector_index = reindex_arguments.index_config(stored_index_config(reindex_kb));
      auto kb = ragline::KnowledgeBase::open(reindex_kb, options);
      const auto started = std::chrono::steady_clock::now();
      kb.reindex();
      const auto s = kb.stats();
      std::printf("reindexed %lld vectors as %s in %.2f s\n", static_cast<long long>(s.vectors),
                  s.vector_index.type.c_str(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return 0;
    }
    if (*stats) {
      auto kb = open_existing(stats_kb);
      const auto s = kb.stats();
      json chunker = {{"name", s.chunker.name},
                      {"max_tokens", s.chunker.max_tokens},
                      {"overlap_tokens", s.chunker.overlap_tokens},
                      {"parent_tokens", s.chunker.parent_tokens},
                      {"child_tokens", s.chunker.child_tokens}};
      json analyzer = {
          {"language", s.analyzer.language}, {"stemming", s.analyzer.stemming}, {"stopwords", s.analyzer.stopwords}};
      if (stats_json) {
        std::cout << json{{"documents", s.documents},
                          {"chunks", s.chunks},
                          {"searchable_chunks", s.searchable_chunks},
                          {"tokens", s.tokens},
                          {"bytes_on_disk", s.bytes_on_disk},
                          {"schema_version", s.schema_version},
                          {"chunker", chunker},
                          {"analyzer", analyzer},
                          {"embedder", {{"name", s.embedder.name}, {"model", s.embedder.model}, {"id", s.embedder_id}}},
                          {"vectors", s.vectors},
                          {"vector_index", s.vector_index.type},
                          {"generation", s.generation},
                          {"redaction", s.redaction ? redaction_to_json(*s.redaction) : json(nullptr)}}
                         .dump(2)
                  << "\n";
      } else {
        std::printf(
            "documents:   %lld\nchunks:      %lld (%lld searchable)\ntokens:      %lld\n"
            "size:        %.2f MB\nschema:      v%d\nchunker:     %s\nanalyzer:    %s\n"
            "embedder:    %s\nvectors:     %lld (index %s)\n",
            static_cast<long long>(s.documents), static_cast<long long>(s.chunks),
            static_cast<long long>(s.searchable_chunks), static_cast<long long>(s.tokens),
            static_cast<double>(s.bytes_on_disk) / 1e6, s.schema_version, chunker.dump().c_str(),
            analyzer.dump().c_str(), s.embedder_id.empty() ? s.embedder.name.c_str() : s.embedder_id.c_str(),
            static_cast<long long>(s.vectors), s.vector_index.type.c_str());
        std::printf("redaction:   %s\n", s.redaction ? redaction_to_json(*s.redaction).dump().c_str() : "none");
      }
      return 0;
    }
    if (*docs) {
      auto kb = open_existing(docs_kb);
      const auto documents = kb.documents();
      if (docs_json) {
        json list = json::array();
        for (const auto& d : documents) {
          list.push_back({{"id", d.id},
                          {"uri", d.uri},
                          {"title", d.title},
                          {"mime_type", d.mime_type},
                          {"content_hash", d.content_hash},
                          {"size_bytes", d.size_bytes},
                          {"mtime", d.mtime},
                          {"ingested_at", d.ingested_at},
                          {"chunks", d.chunk_count}});
        }
        std::cout << list.dump(2) << "\n";
      } else {
        for (const auto& d : documents) {
          std::printf("%s\t%s\t%lld chunks\t%s\n", d.uri.c_str(), d.mime_type.c_str(),
                      static_cast<long long>(d.chunk_count), d.title.c_str());
        }
      }
      return 0;
    }
    if (*repair) {
      auto kb = open_existing(repair_kb);
      const auto report = kb.repair();
      for (const auto& action : report.actions) std::cout << action << "\n";
      print_check(report.after, false);
      return report.after.ok() ? 0 : kExitFailed;
    }
    if (*remove) {
      auto kb = open_existing(delete_kb);
      const std::string uri =
          delete_target.find("://") != std::string::npos ? delete_target : ragline::file_uri(delete_target);
      if (!kb.remove_document(uri)) {
        std::cerr << "rag-query: no document " << uri << " in " << delete_kb << "\n";
        return kExitFailed;
      }
      std::cout << "deleted " << uri << "\n";
      return 0;
    }
  } catch (const ragline::Error& error) {
    std::cerr << "rag-query: " << error.what() << "\n";
    return kExitFailed;
  } catch (const std::exception& error) {
    std::cerr << "rag-query: unexpected error: " << error.what() << "\n";
    return kExitFailed;
  }
  return 0;
}
