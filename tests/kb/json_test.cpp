// Library-side JSON (ragline/json.hpp): readers round-trip their writers, name the field of a bad
// value, keep defaults for missing fields; every writer carries "ragline_json"; invalid UTF-8
// still gives valid JSON; the stored settings rows keep their format; the one search-mode parser.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config_json.hpp"
#include "index/sqlite.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline {
namespace {

using nlohmann::json;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// The Error(format) message a reader throws for `text`, or "" when it does not throw.
template <class Reader>
std::string format_error(Reader reader, std::string_view text) {
  try {
    reader(text);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::format) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no error for " << text;
  return "";
}

std::string query_error(std::string_view text) { return format_error(query_from_json, text); }

void expect_versioned(const std::string& text) {
  const json parsed = json::parse(text);
  ASSERT_TRUE(parsed.is_object()) << text;
  EXPECT_EQ(parsed.at("ragline_json"), kJsonVersion) << text;
}

Query full_query() {
  Query query("winch launch", 7);
  query.bm25.k1 = 1.5;
  query.bm25.weight_title = 3;
  query.mode = SearchMode::dense;
  query.fusion.method = "weighted";
  query.fusion.alpha = 0.25;
  query.fusion.normalization = "zscore";
  query.fusion.candidates = 321;
  query.filter =
      R"({"andAll":[{"equals":{"key":"club","value":"north"}},{"greaterThan":{"key":"year","value":2020}}]})";
  query.ef_search = 64;
  query.nprobe = 9;
  query.exact_search_threshold = 5000;
  RerankerConfig mmr;
  mmr.name = "mmr";
  mmr.lambda = 0.4;
  mmr.min_score = 0.1;
  RerankerConfig http;
  http.name = "http";
  http.format = "tei";
  http.base_url = "http://127.0.0.1:9";
  http.top_n = 3;
  http.max_retries = 1;
  query.rerank = {mmr, http};
  return query;
}

TEST(Json, QueryRoundTrips) {
  // Every field of a query survives to_json then query_from_json; the filter is a JSON object.
  const Query query = full_query();
  const std::string text = to_json(query);
  expect_versioned(text);
  EXPECT_TRUE(json::parse(text).at("filter").is_object());
  EXPECT_EQ(json::parse(text).at("mode"), "dense");

  const Query back = query_from_json(text);
  EXPECT_EQ(back.text, "winch launch");
  EXPECT_EQ(back.k, 7u);
  EXPECT_EQ(back.bm25.k1, 1.5);
  EXPECT_EQ(back.bm25.weight_title, 3);
  EXPECT_EQ(back.mode, SearchMode::dense);
  EXPECT_EQ(back.fusion.method, "weighted");
  EXPECT_EQ(back.fusion.alpha, 0.25);
  EXPECT_EQ(back.fusion.normalization, "zscore");
  EXPECT_EQ(back.fusion.candidates, 321u);
  EXPECT_EQ(json::parse(back.filter), json::parse(query.filter));
  EXPECT_EQ(back.ef_search, 64);
  EXPECT_EQ(back.nprobe, 9);
  EXPECT_EQ(back.exact_search_threshold, 5000u);
  EXPECT_EQ(back.rerank, query.rerank);
  EXPECT_EQ(to_json(back), text);
}

TEST(Json, QueryMissingFieldsKeepDefaults) {
  // A minimal query document is a default Query with its text; a null filter is no filter.
  const Query query = query_from_json(R"({"text": "gliders", "filter": null})");
  const Query defaults;
  EXPECT_EQ(query.text, "gliders");
  EXPECT_EQ(query.k, defaults.k);
  EXPECT_EQ(query.mode, SearchMode::hybrid);
  EXPECT_EQ(query.fusion.method, "auto");
  EXPECT_EQ(query.bm25.b, defaults.bm25.b);
  EXPECT_TRUE(query.filter.empty());
  EXPECT_TRUE(query.rerank.empty());
  EXPECT_EQ(query_from_json(R"({"ragline_json": 1, "fusion": {"alpha": 0.9}})").fusion.method, "auto");
}

TEST(Json, QueryErrorsNameTheField) {
  // Wrong types, unknown fields, bad values and bad documents are Error(format) naming the path.
  EXPECT_NE(query_error(R"({"fusion": {"alpha": "high"}})").find("query.fusion.alpha: expected a number, got string"),
            std::string::npos);
  EXPECT_NE(query_error(R"({"fusion": {"alpah": 0.3}})").find("query.fusion.alpah: unknown field"), std::string::npos);
  EXPECT_NE(query_error(R"({"txet": "x"})").find("query.txet: unknown field"), std::string::npos);
  EXPECT_NE(query_error(R"({"k": -1})").find("query.k: -1 is negative"), std::string::npos);
  EXPECT_NE(query_error(R"({"k": 2.5})").find("query.k: expected a non-negative integer, got number"),
            std::string::npos);
  EXPECT_NE(query_error(R"({"ef_search": 99999999999})").find("query.ef_search"), std::string::npos);
  EXPECT_NE(query_error(R"({"mode": "semantic"})").find("query.mode: unknown search mode \"semantic\""),
            std::string::npos);
  EXPECT_NE(query_error(R"({"filter": "{}"})").find("query.filter: expected an object or null, got string"),
            std::string::npos);
  EXPECT_NE(
      query_error(R"({"rerank": [{"name": "mmr"}, {"name": "http", "top_n": "3"}]})").find("query.rerank[1].top_n"),
      std::string::npos);
  EXPECT_NE(query_error(R"({"rerank": [{"min_score": true}]})").find("query.rerank[0].min_score"), std::string::npos);
  EXPECT_NE(query_error(R"({"bm25": []})").find("query.bm25: expected an object, got array"), std::string::npos);
  EXPECT_NE(query_error(R"({"ragline_json": 2})").find("query.ragline_json: version 2 is not supported"),
            std::string::npos);
  EXPECT_NE(query_error("[1, 2]").find("query: expected an object, got array"), std::string::npos);
  EXPECT_NE(query_error("{\"text\": ").find("query: not JSON"), std::string::npos);
}

TEST(Json, OpenOptionsRoundTrip) {
  // Set configs come back equal, unset ones stay unset (null in the JSON).
  OpenOptions options;
  options.create_if_missing = false;
  options.chunker = ChunkerConfig{"hierarchical", 300, 10, 900, 100};
  options.embedder = EmbedderConfig{};
  options.embedder->name = "openai";
  options.embedder->model = "text-embedding-3-small";
  options.embedder->batch_bytes = 1u << 20;
  options.embedder->timeout_seconds = 2.5;
  options.vector_index = VectorIndexConfig{"hnsw", 16, 40, 64, 0, 16, 0, 8};
  const std::string text = to_json(options);
  expect_versioned(text);
  EXPECT_TRUE(json::parse(text).at("analyzer").is_null());

  const OpenOptions back = open_options_from_json(text);
  EXPECT_FALSE(back.create_if_missing);
  EXPECT_EQ(back.chunker, options.chunker);
  EXPECT_FALSE(back.analyzer.has_value());
  EXPECT_EQ(back.embedder, options.embedder);
  EXPECT_EQ(back.vector_index, options.vector_index);
  EXPECT_EQ(to_json(back), text);

  // A partial config keeps the defaults of the fields it does not give.
  const auto partial = open_options_from_json(R"({"analyzer": {"language": "german"}})");
  ASSERT_TRUE(partial.analyzer.has_value());
  EXPECT_EQ(partial.analyzer->language, "german");
  EXPECT_TRUE(partial.analyzer->stemming);
  EXPECT_TRUE(partial.create_if_missing);

  const auto error = [](std::string_view document) { return format_error(open_options_from_json, document); };
  EXPECT_NE(error(R"({"embedder": {"dimension": "768"}})").find("open_options.embedder.dimension: expected an integer"),
            std::string::npos);
  EXPECT_NE(error(R"({"vector_index": {"kind": "hnsw"}})").find("open_options.vector_index.kind: unknown field"),
            std::string::npos);
  EXPECT_NE(error(R"({"create_if_missing": 1})").find("open_options.create_if_missing: expected true or false"),
            std::string::npos);
  EXPECT_NE(error(R"({"log": "stderr"})").find("open_options.log: unknown field"), std::string::npos);
}

TEST(Json, IngestOptionsRoundTrip) {
  // Globs, fields, bounds and the redaction config come back as they were written.
  IngestOptions options;
  options.include_globs = {"*.md", "*.txt"};
  options.exclude_globs = {"drafts/*"};
  options.prune = true;
  options.id_field = "_id";
  options.batch_documents = 16;
  options.max_file_bytes = 5000000000ull;
  options.max_chunks_per_document = 0;
  options.redaction = RedactionConfig{{"email"}, {{"EMPID", "EMP-\\d{5}"}}};
  const std::string text = to_json(options);
  expect_versioned(text);

  const IngestOptions back = ingest_options_from_json(text);
  EXPECT_EQ(back.include_globs, options.include_globs);
  EXPECT_EQ(back.exclude_globs, options.exclude_globs);
  EXPECT_TRUE(back.prune);
  EXPECT_EQ(back.id_field, "_id");
  EXPECT_EQ(back.title_field, "title");
  EXPECT_EQ(back.batch_documents, 16u);
  EXPECT_EQ(back.max_file_bytes, 5000000000ull);
  EXPECT_EQ(back.max_chunks_per_document, 0u);
  EXPECT_EQ(back.redaction, options.redaction);
  EXPECT_EQ(to_json(back), text);
  EXPECT_FALSE(ingest_options_from_json("{}").redaction.has_value());

  const auto error = [](std::string_view document) { return format_error(ingest_options_from_json, document); };
  EXPECT_NE(error(R"({"redaction": {"patterns": [{"name": "X", "regex": 5}]}})")
                .find("ingest_options.redaction.patterns[0].regex: expected a string, got integer"),
            std::string::npos);
  EXPECT_NE(error(R"({"include_globs": ["*.md", 3]})").find("ingest_options.include_globs[1]: expected a string"),
            std::string::npos);
}

TEST(Json, PromptOptionsRoundTrip) {
  // Budget, template and expansion settings come back; a bad one names its field.
  PromptOptions options;
  options.context_window = 4096;
  options.answer_reserve = 256;
  options.history_max_tokens = 300;
  options.template_text = "{{context}}\n\n{{question}}";
  options.system_text = "Answer briefly.";
  options.expand = "sentences";
  options.sentence_window = 2;
  const std::string text = to_json(options);
  expect_versioned(text);

  const PromptOptions back = prompt_options_from_json(text);
  EXPECT_EQ(back.context_window, 4096u);
  EXPECT_EQ(back.answer_reserve, 256u);
  EXPECT_EQ(back.history_max_tokens, 300u);
  EXPECT_EQ(back.template_text, options.template_text);
  EXPECT_EQ(back.system_text, options.system_text);
  EXPECT_EQ(back.expand, "sentences");
  EXPECT_EQ(back.sentence_window, 2);
  EXPECT_EQ(to_json(back), text);

  EXPECT_NE(format_error(prompt_options_from_json, R"({"context_window": "big"})")
                .find("prompt_options.context_window: expected a non-negative integer, got string"),
            std::string::npos);
}

TEST(Json, EveryWriterOfARealKbCarriesTheVersion) {
  // Ingest, search, stats, documents, check, repair and a prompt of a real KB, each as JSON.
  TempDir dir;
  write_file(dir / "docs" / "gliders.md", "# Gliders\n\n## Launch\n\nA winch launch pulls the glider up on a cable.\n");
  write_file(dir / "docs" / "gliders.md.metadata.json",
             R"({"metadataAttributes": {"year": 2024, "club": "north", "ratio": 0.5}})");
  auto kb = KnowledgeBase::open(dir / "kb");
  const auto report = kb.ingest({dir / "docs"});
  const json ingest = json::parse(to_json(report));
  EXPECT_EQ(ingest.at("ragline_json"), 1);
  EXPECT_EQ(ingest.at("added"), 1) << ingest.dump();
  EXPECT_EQ(ingest.at("ok"), true);
  IngestReport failed;
  failed.failures.push_back({"docs/bad.jsonl:3", "not JSON", IngestFailureKind::input});
  failed.failures.push_back({"embedder lexical-v1/768", "down", IngestFailureKind::embedder});
  const json failures = json::parse(to_json(failed)).at("failures");
  EXPECT_EQ(failures.at(0).at("kind"), "input");
  EXPECT_EQ(failures.at(1).at("kind"), "embedder");
  EXPECT_EQ(failures.at(1).at("location"), "embedder lexical-v1/768");

  Query query("winch launch", 3);
  query.mode = SearchMode::bm25;
  const auto result = kb.search(query);
  ASSERT_FALSE(result.hits.empty());
  const json search = json::parse(to_json(result, "winch launch"));
  EXPECT_EQ(search.at("ragline_json"), 1);
  EXPECT_EQ(search.at("query"), "winch launch");
  EXPECT_EQ(search.at("explanation").at("mode"), "bm25");
  const json& top = search.at("hits").at(0);
  EXPECT_EQ(top.at("rank"), 1);
  EXPECT_EQ(top.at("heading_path"), "Gliders > Launch");
  EXPECT_TRUE(top.at("bm25").is_object());
  EXPECT_TRUE(top.at("dense").is_null());
  EXPECT_FALSE(top.contains("rerank_score"));
  // Whole metadata numbers print as integers, others as they are.
  EXPECT_EQ(top.at("metadata").at("year").dump(), "2024");
  EXPECT_EQ(top.at("metadata").at("ratio"), 0.5);
  expect_versioned(to_json(result));
  EXPECT_FALSE(json::parse(to_json(result)).contains("query"));

  const json hit = json::parse(to_json(result.hits[0]));
  EXPECT_EQ(hit.at("ragline_json"), 1);
  EXPECT_EQ(hit.at("chunk_id"), result.hits[0].chunk_id);

  const json stats = json::parse(to_json(kb.stats()));
  EXPECT_EQ(stats.at("ragline_json"), 1);
  EXPECT_EQ(stats.at("documents"), 1);
  EXPECT_EQ(stats.at("chunker").at("name"), "markdown");
  EXPECT_EQ(stats.at("embedder").at("name"), "lexical");
  EXPECT_EQ(stats.at("embedder").at("id"), kb.stats().embedder_id);
  EXPECT_EQ(stats.at("vector_index"), "flat");
  EXPECT_EQ(stats.at("vector_index_config").at("type"), "flat");
  EXPECT_TRUE(stats.at("redaction").is_null());

  const json documents = json::parse(to_json(kb.documents()));
  EXPECT_EQ(documents.at("ragline_json"), 1);
  ASSERT_EQ(documents.at("documents").size(), 1u);
  EXPECT_EQ(documents["documents"][0].at("title"), "Gliders");
  EXPECT_GE(documents["documents"][0].at("chunks").get<int>(), 1);

  const json check = json::parse(to_json(kb.check()));
  EXPECT_EQ(check.at("ragline_json"), 1);
  EXPECT_EQ(check.at("ok"), true);
  EXPECT_TRUE(check.at("findings").empty());

  const json repair = json::parse(to_json(kb.repair()));
  EXPECT_EQ(repair.at("ragline_json"), 1);
  EXPECT_FALSE(repair.at("actions").empty());
  EXPECT_EQ(repair.at("after").at("ok"), true);

  const json prompt = json::parse(to_json(kb.build_prompt("How does a winch launch work?", result.hits)));
  EXPECT_EQ(prompt.at("ragline_json"), 1);
  EXPECT_EQ(prompt.at("sources").at(0).at("number"), 1);
  EXPECT_GT(prompt.at("tokens").get<int>(), 0);

  const json vectors = json::parse(embeddings_to_json(embed_texts(EmbedderConfig{}, {"winch", "cable"})));
  EXPECT_EQ(vectors.at("ragline_json"), 1);
  ASSERT_EQ(vectors.at("vectors").size(), 2u);
  EXPECT_EQ(vectors["vectors"][0].size(), 768u);
}

TEST(Json, InvalidUtf8StillGivesValidJson) {
  // Bytes that are not UTF-8 in hit text, title and metadata become U+FFFD; the JSON parses.
  Hit hit;
  hit.text = "bad \xff\xfe bytes";
  hit.title = "cut \xc3";
  hit.metadata["note"] = std::string("x\x80y");
  hit.metadata["tags"] = std::vector<std::string>{"ok", "\xe2\x82"};
  SearchResult result;
  result.hits = {hit};
  for (const std::string& text : {to_json(hit), to_json(result), to_json(result, "query \xff")}) {
    json parsed;
    ASSERT_NO_THROW(parsed = json::parse(text)) << text;
    EXPECT_EQ(parsed.at("ragline_json"), 1);
  }
  const json parsed = json::parse(to_json(hit));
  EXPECT_EQ(parsed.at("text"), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_EQ(parsed.at("metadata").at("note"), "x\xef\xbf\xbdy");
  EXPECT_NE(parsed.at("title").get<std::string>().find("\xef\xbf\xbd"), std::string::npos);
}

TEST(Json, StoredSettingsKeepTheirFormat) {
  // The settings rows of a KB written by an earlier ragline are what the shared writers produce
  // for the configs read back from them, byte for byte; a new KB's rows likewise.
  TempDir dir;
  std::filesystem::copy(ragline::testing::test_data("kb-v1"), dir / "kb");
  const auto stored = [](const std::filesystem::path& kb_dir, const char* key) {
    auto database = index::Database::open(kb_dir / "kb.sqlite", false, true);
    auto statement = database.prepare("SELECT value FROM settings WHERE key = ?1");
    statement.bind(1, key);
    EXPECT_TRUE(statement.step()) << key;
    return statement.column_string(0);
  };
  EXPECT_EQ(stored(dir / "kb", "chunker"),
            R"({"child_tokens":128,"max_tokens":256,"name":"markdown","overlap_tokens":0,"parent_tokens":1024})");
  {
    OpenOptions options;
    options.create_if_missing = false;
    const Stats old_stats = KnowledgeBase::open(dir / "kb", options).stats();
    EXPECT_EQ(json(old_stats.chunker).dump(), stored(dir / "kb", "chunker"));
    EXPECT_EQ(json(old_stats.analyzer).dump(), stored(dir / "kb", "analyzer"));
  }

  OpenOptions options;
  options.vector_index = VectorIndexConfig{"hnsw", 16, 40, 64, 0, 16, 0, 8};
  const Stats stats = KnowledgeBase::open(dir / "new", options).stats();
  EXPECT_EQ(stored(dir / "new", "embedder"), json(stats.embedder).dump());
  EXPECT_EQ(
      stored(dir / "new", "vector_index"),
      R"({"ef_construction":40,"ef_search":64,"hnsw_m":16,"nlist":0,"nprobe":16,"pq_bits":8,"pq_m":0,"type":"hnsw"})");
  EXPECT_EQ(stored(dir / "new", "analyzer"), R"({"language":"english","stemming":true,"stopwords":true})");
}

TEST(Json, StoredSettingsWithAWrongTypeAreCorrupt) {
  // A settings row the reader refuses makes open fail with Error(corrupt) naming the field.
  TempDir dir;
  KnowledgeBase::open(dir / "kb");
  {
    auto database = index::Database::open(dir / "kb" / "kb.sqlite", false);
    database.exec(R"(UPDATE settings SET value = '{"name":"markdown","max_tokens":"256"}' WHERE key = 'chunker')");
  }
  try {
    KnowledgeBase::open(dir / "kb");
    ADD_FAILURE() << "opened";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::corrupt);
    EXPECT_NE(std::string(error.what()).find("chunker.max_tokens"), std::string::npos) << error.what();
  }
}

TEST(Json, TheExamplesOfDocsJsonMdAreAccepted) {
  // The reader examples of docs/json.md parse as documented.
  const Query query = query_from_json(R"({"ragline_json": 1, "text": "winch launch", "k": 5, "mode": "hybrid",
 "fusion": {"method": "weighted", "alpha": 0.3},
 "filter": {"andAll": [{"equals": {"key": "club", "value": "north"}},
                       {"greaterThan": {"key": "year", "value": 2020}}]},
 "rerank": [{"name": "mmr", "lambda": 0.5}, {"name": "reorder"}]})");
  EXPECT_EQ(query.rerank.size(), 2u);
  EXPECT_EQ(query.fusion.alpha, 0.3);
  const OpenOptions open = open_options_from_json(R"({"ragline_json": 1, "create_if_missing": true,
 "chunker": {"name": "sentence", "max_tokens": 200}, "analyzer": null,
 "embedder": {"name": "openai", "model": "text-embedding-3-small", "base_url": "http://localhost:11434"},
 "vector_index": {"type": "hnsw", "hnsw_m": 16}})");
  EXPECT_EQ(open.vector_index->hnsw_m, 16);
  const IngestOptions ingest = ingest_options_from_json(
      R"({"ragline_json": 1, "include_globs": ["*.md"], "exclude_globs": ["drafts/*"], "prune": true,
 "batch_documents": 128, "redaction": {"types": ["email"], "patterns": [{"name": "EMPID", "regex": "EMP-\\d{5}"}]}})");
  EXPECT_EQ(ingest.redaction->patterns.at(0).regex, "EMP-\\d{5}");
  const PromptOptions prompt = prompt_options_from_json(
      R"({"ragline_json": 1, "context_window": 4096, "answer_reserve": 512, "expand": "sentences", "sentence_window": 2})");
  EXPECT_EQ(prompt.sentence_window, 2);
}

TEST(Json, SearchModeParser) {
  // The one parser of mode names: every mode round-trips; others name the known ones.
  for (auto mode : {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid}) {
    EXPECT_EQ(parse_search_mode(to_string(mode)), mode);
  }
  EXPECT_EQ(to_string(SearchMode::hybrid), "hybrid");
  try {
    parse_search_mode("BM25");
    ADD_FAILURE() << "parsed";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("known: bm25, dense, hybrid"), std::string::npos);
  }
}

}  // namespace
}  // namespace ragline
