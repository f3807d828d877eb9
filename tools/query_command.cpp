// rag-query search, query, prompt, ask: retrieval, the grounded prompt, and a cited answer.

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ask_command.hpp"
#include "commands.hpp"
#include "rerank_options.hpp"

namespace rag_query {
namespace {

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

// "key=value, ...", each value as the library's JSON of the hit writes it (2024, "north", [...]).
std::string metadata_text(const ragline::Hit& hit) {
  std::string text;
  // Held in a local: a range-for over items() of a temporary would iterate freed memory.
  const nlohmann::json document = nlohmann::json::parse(ragline::to_json(hit));
  for (const auto& [key, value] : document.at("metadata").items()) {
    text += (text.empty() ? "" : ", ") + key + "=" + value.dump();
  }
  return text;
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

// The hits for a terminal; with `explanation`, the --explain view.
void print_hits_text(const std::vector<ragline::Hit>& hits, const ragline::SearchExplanation* explanation) {
  if (explanation) {
    const auto& e = *explanation;
    std::printf("mode %s%s%s", std::string(ragline::to_string(e.mode)).c_str(), e.fusion.empty() ? "" : ", fusion ",
                e.fusion.c_str());
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
    for (const auto& warning : e.warnings) std::printf("warning: %s\n", warning.c_str());
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
    if (!hit.metadata.empty()) std::printf("   metadata: %s\n", metadata_text(hit).c_str());
    if (explanation) {
      std::printf("   explain: %s | %s | fused %.6f", side_text("bm25", hit.bm25).c_str(),
                  side_text("dense", hit.dense).c_str(), hit.score);
      if (hit.rerank_score) std::printf(" | rerank %.6f", *hit.rerank_score);
      std::printf("\n");
    }
  }
}

void print_result(const std::string& query_text, const ragline::SearchResult& result, bool as_json, bool explain) {
  if (as_json) {
    print_json_indented(ragline::to_json(result, query_text));
  } else {
    print_hits_text(result.hits, explain ? &result.explanation : nullptr);
    // --explain lists them with the rest of the explanation.
    if (!explain) {
      for (const auto& warning : result.explanation.warnings) std::cerr << "warning: " << warning << "\n";
    }
  }
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
    const auto resolved = resolved_query();
    auto opened = open_existing(kb);
    const auto result = opened.search(resolved);
    print_result(text, result, as_json, explain);
    return 0;
  }

  // The query as the options describe it (mode and filter resolved), not yet run.
  ragline::Query resolved_query() {
    if (!filter.empty() && !filter_file.empty()) {
      throw ragline::Error(ragline::ErrorKind::invalid_argument, "give --filter or --filter-file, not both");
    }
    query.text = text;
    query.filter = filter_file.empty() ? filter : read_text_file(filter_file);
    // Options no KB could answer are bad usage (exit 2), checked before the KB is opened.
    as_usage_error([&] {
      query.mode = ragline::parse_search_mode(mode);
      query.rerank = ragline::cli::rerankers_from(rerank);
      ragline::KnowledgeBase::validate(query);
    });
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
    const auto query = retrieval.resolved_query();
    auto opened = open_existing(retrieval.kb);
    if (!template_file.empty()) options.template_text = read_text_file(template_file);
    const auto hits = opened.search(query).hits;
    const auto prompt = opened.build_prompt(retrieval.text, hits, options);
    if (as_json) {
      print_json_indented(ragline::to_json(prompt));
    } else if (format == "openai") {
      print_json_indented(prompt.openai_messages_json());
    } else if (format == "bedrock") {
      print_json_indented(prompt.bedrock_converse_json());
    } else {
      std::cout << prompt.text() << "\n";
    }
    return 0;
  }
};

// rag-query ask: retrieval as in query, then a grounded answer from a chat model.
struct AskArguments {
  QueryArguments retrieval;
  AskCommand command;

  void add(CLI::App* subcommand) {
    retrieval.add_retrieval_options(subcommand);
    command.add_options(subcommand);
  }

  int run() {
    command.ask.query = retrieval.resolved_query();
    auto opened = open_existing(retrieval.kb);
    command.question = retrieval.text;
    return command.run(opened);
  }
};

}  // namespace

Command add_search_command(CLI::App& app) {
  struct SearchArguments {
    std::string text, kb = default_kb();
    std::size_t k = 10;
    bool as_json = false;
  };
  auto arguments = std::make_shared<SearchArguments>();
  auto* search = app.add_subcommand("search", "BM25 search (query --mode bm25): ranked chunks for a query");
  search->add_option("text", arguments->text, "Query text")->required();
  add_kb_option(search, arguments->kb);
  search->add_option("-k", arguments->k, "Number of results")->check(CLI::Range(1, 100000));
  search->add_flag("--json", arguments->as_json, "Print results as JSON");
  return {search, [arguments] {
            auto kb = open_existing(arguments->kb);
            ragline::Query bm25_query(arguments->text, arguments->k);
            bm25_query.mode = ragline::SearchMode::bm25;
            print_result(arguments->text, kb.search(bm25_query), arguments->as_json, false);
            return 0;
          }};
}

Command add_query_command(CLI::App& app) {
  auto arguments = std::make_shared<QueryArguments>();
  auto* query = app.add_subcommand("query", "Hybrid, dense or BM25 search with filters and fusion");
  arguments->add(query);
  return {query, [arguments] { return arguments->run(); }};
}

Command add_prompt_command(CLI::App& app) {
  auto arguments = std::make_shared<PromptArguments>();
  auto* prompt =
      app.add_subcommand("prompt", "Retrieve, then print the grounded prompt with citations (no model needed)");
  arguments->add(prompt);
  return {prompt, [arguments] { return arguments->run(); }};
}

Command add_ask_command(CLI::App& app) {
  auto arguments = std::make_shared<AskArguments>();
  auto* ask = app.add_subcommand("ask", "Retrieve, then answer with a chat model, citing the sources used");
  arguments->add(ask);
  return {ask, [arguments] { return arguments->run(); }};
}

}  // namespace rag_query
