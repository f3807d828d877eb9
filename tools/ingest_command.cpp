// rag-query ingest, embed, reindex: what goes into a KB and how it is embedded and indexed.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "terminal_progress.hpp"

namespace rag_query {
namespace {

namespace fs = std::filesystem;

// Embedder and vector index options of `ingest` (and the index options of `reindex`).
struct VectorArguments {
  std::string embedder, model, base_url, api_key_env, region, models_dir;
  std::string query_prefix, passage_prefix, precision;
  int dimension = 0;
  std::size_t batch = 0;
  int in_flight = 0, retries = -1;
  double timeout = 0;
  std::string index_type;
  int hnsw_m = 0, ef_construction = 0, ef_search = 0, nlist = -1, nprobe = 0, pq_m = -1, pq_bits = 0;

  void add_embedder_options(CLI::App* command) {
    command->add_option("--embedder", embedder,
                        alternatives(ragline::registered_embedders()) +
                            " | none (new KB; default lexical). An existing KB keeps its stored settings: "
                            "options given here change only themselves");
    command->add_option("--models-dir", models_dir,
                        "use-lite, bert: folder of fetched models (default $RAGLINE_MODELS_DIR, then ./models)");
    command->add_option("--dimension", dimension, "Vector dimension (0: the embedder's default)");
    command->add_option("--embed-model", model,
                        "openai: model name; bedrock: model id; bert: a fetched model's name (all-MiniLM-L6-v2) or a "
                        "model folder's path");
    command->add_option("--query-prefix", query_prefix, "bert: text before each query (none: no prefix)");
    command->add_option("--passage-prefix", passage_prefix, "bert: text before each document chunk (none: no prefix)");
    command->add_option("--precision", precision, "bert: fp32 | int8 (default fp32; part of the KB's embedder)")
        ->check(CLI::IsMember({"fp32", "int8"}));
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

  // The embedder settings to open with: `stored` (an existing KB's, when its embedder is the one
  // named) with the options given applied, the others kept as stored. Starting from defaults
  // instead would reset them, and an endpoint left out would silently become the default one
  // (for openai the public OpenAI API).
  std::optional<ragline::EmbedderConfig> embedder_config(const std::optional<ragline::EmbedderConfig>& stored) const {
    const bool operational = !base_url.empty() || !api_key_env.empty() || !region.empty() || batch > 0 ||
                             in_flight > 0 || retries >= 0 || timeout > 0 || !models_dir.empty();
    if (embedder.empty()) {
      if (operational || dimension > 0 || !model.empty() || !query_prefix.empty() || !passage_prefix.empty() ||
          !precision.empty()) {
        throw ragline::Error(ragline::ErrorKind::invalid_argument,
                             "embedder options need --embedder NAME (the KB's embedder)");
      }
      return std::nullopt;
    }
    const bool keep_stored = stored && stored->name == embedder;
    ragline::EmbedderConfig config = keep_stored ? *stored : ragline::EmbedderConfig{};
    config.name = embedder;
    if (dimension > 0) config.dimension = dimension;
    if (!model.empty()) config.model = model;
    if (embedder == "bedrock" && config.model.empty()) config.model = "amazon.titan-embed-text-v2:0";
    // A model folder's path is stored absolute with the KB, which may be opened from another
    // directory; a bare model name (no /) is stored as given, found in the models folder of
    // whichever machine opens the KB.
    const bool model_is_path = model.find('/') != std::string::npos || model == "." || model == "..";
    if (embedder == "bert" && model_is_path) config.model = fs::absolute(model).lexically_normal().string();
    if (!base_url.empty()) config.base_url = base_url;
    if (!api_key_env.empty()) config.api_key_env = api_key_env;
    if (!region.empty()) config.region = region;
    // Stored with a new KB: absolute, so later commands find the models from any directory.
    if (!models_dir.empty()) config.models_dir = fs::absolute(models_dir).string();
    if (!query_prefix.empty()) config.query_prefix = query_prefix;
    if (!passage_prefix.empty()) config.passage_prefix = passage_prefix;
    if (!precision.empty()) config.precision = precision;
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

// The stored settings of an existing KB (nullopt for a new one), for options that change only
// some of them.
std::optional<ragline::Stats> stored_settings(const std::string& kb) {
  std::error_code error;
  if (kb.empty() || !fs::exists(fs::path(kb) / "kb.sqlite", error)) return std::nullopt;
  return open_existing(kb).stats();
}

ragline::VectorIndexConfig stored_index_config(const std::optional<ragline::Stats>& stored) {
  return stored ? stored->vector_index : ragline::VectorIndexConfig{};
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

int run_ingest(IngestArguments& arguments) {
  if (arguments.kb.empty())
    throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
  // Checked before the KB is opened (or created): a path that does not exist is a typo, not an
  // input that failed.
  for (const auto& path : arguments.paths) {
    std::error_code error;
    if (!fs::exists(path, error)) throw UsageError("ingest: " + path + " does not exist");
  }
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
  const auto stored = stored_settings(arguments.kb);
  open_options.embedder = arguments.vectors.embedder_config(
      stored ? std::optional<ragline::EmbedderConfig>(stored->embedder) : std::nullopt);
  open_options.vector_index = arguments.vectors.index_config(stored_index_config(stored));
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
    print_json_line(ragline::to_json(report));
  } else {
    std::printf(
        "ingested %zu files: %zu added, %zu updated, %zu unchanged, %zu pruned, %zu failed, %zu skipped; "
        "%zu chunks; %.2f MB in %.2f s (%.2f MB/s)\n",
        report.files_seen, report.documents_added, report.documents_updated, report.documents_unchanged,
        report.documents_pruned, report.failures.size(), report.skipped.size(), report.chunks_written, megabytes,
        report.seconds, report.seconds > 0 ? megabytes / report.seconds : 0.0);
    if (!report.skipped.empty()) {
      // Each reason once with its count and one example, so a folder of images stays one line.
      std::map<std::string, std::pair<std::size_t, std::string>> by_reason;
      for (const auto& skipped : report.skipped) {
        std::string reason = skipped.reason.substr(0, skipped.reason.find(" ("));
        auto& [count, example] = by_reason[reason];
        if (count++ == 0) example = skipped.location;
      }
      for (const auto& [reason, entry] : by_reason) {
        std::printf("skipped %zu: %s (e.g. %s)\n", entry.first, reason.c_str(), entry.second.c_str());
      }
    }
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

}  // namespace

Command add_ingest_command(CLI::App& app) {
  auto arguments = std::make_shared<IngestArguments>();
  IngestArguments& ingest_arguments = *arguments;
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
  ingest->add_flag("--prune", ingest_arguments.options.prune,
                   "Remove documents under PATHS that this run did not find: sources that are gone, and files that "
                   "--include/--exclude no longer select");
  ingest->add_option("--id-field", ingest_arguments.options.id_field, "JSON record id field (default id, then _id)");
  ingest->add_option("--title-field", ingest_arguments.options.title_field, "JSON record title field");
  ingest->add_option("--text-field", ingest_arguments.options.text_field, "JSON record text field");
  ingest->add_option("--metadata-field", ingest_arguments.options.metadata_field, "JSON record metadata field");
  ingest->add_option("--batch", ingest_arguments.options.batch_documents, "Documents per transaction")
      ->check(CLI::Range(1, 100000000));
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

  return {ingest, [arguments] { return run_ingest(*arguments); }};
}

Command add_embed_command(CLI::App& app) {
  struct EmbedArguments {
    std::vector<std::string> texts;
    VectorArguments vectors;
    bool as_json = false, as_query = false;
  };
  auto arguments = std::make_shared<EmbedArguments>();
  auto* embed = app.add_subcommand("embed", "Print the vectors an embedder computes for texts (checks, debugging)");
  embed->add_option("texts", arguments->texts, "Texts to embed")->required();
  arguments->vectors.add_embedder_options(embed);
  embed->add_flag("--query", arguments->as_query, "Embed as queries (models that embed queries differently)");
  embed->add_flag("--json", arguments->as_json, "Print {\"vectors\": [...]}, one list of floats per text, in order");
  return {embed, [arguments] {
            if (arguments->vectors.embedder.empty()) arguments->vectors.embedder = "lexical";
            const auto vectors = ragline::embed_texts(*arguments->vectors.embedder_config(std::nullopt),
                                                      arguments->texts, arguments->as_query);
            if (arguments->as_json) {
              print_json_line(ragline::embeddings_to_json(vectors));
              return 0;
            }
            for (std::size_t i = 0; i < vectors.size(); ++i) {
              std::printf("%zu\t%zu", i, vectors[i].size());
              for (float value : vectors[i]) std::printf(" %.7g", value);
              std::printf("\n");
            }
            return 0;
          }};
}

Command add_reindex_command(CLI::App& app) {
  struct ReindexArguments {
    std::string kb = default_kb();
    VectorArguments vectors;
  };
  auto arguments = std::make_shared<ReindexArguments>();
  auto* reindex = app.add_subcommand("reindex", "Rebuild vectors.faiss from kb.sqlite (optionally as another type)");
  add_kb_option(reindex, arguments->kb);
  arguments->vectors.add_index_options(reindex);
  return {reindex, [arguments] {
            if (arguments->kb.empty())
              throw ragline::Error(ragline::ErrorKind::invalid_argument, "--kb DIR is required (or set RAGLINE_KB)");
            ragline::OpenOptions options;
            options.create_if_missing = false;
            options.vector_index = arguments->vectors.index_config(stored_index_config(stored_settings(arguments->kb)));
            auto kb = ragline::KnowledgeBase::open(arguments->kb, options);
            const auto started = std::chrono::steady_clock::now();
            kb.reindex();
            const auto s = kb.stats();
            std::printf("reindexed %lld vectors as %s in %.2f s\n", static_cast<long long>(s.vectors),
                        s.vector_index.type.c_str(),
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            return 0;
          }};
}

}  // namespace rag_query
