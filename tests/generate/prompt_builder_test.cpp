#include "generate/prompt_builder.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "index/store.hpp"
#include "ragline/ragline.hpp"
#include "support/test_support.hpp"

namespace ragline::generate {
namespace {

using nlohmann::json;
using ragline::testing::TempDir;
using ragline::testing::write_file;

// Documents held in memory, for tests that do not need a KB.
class MapSource final : public PassageSource {
 public:
  std::map<std::string, std::string> documents;
  std::map<std::int64_t, std::pair<std::size_t, std::size_t>> parents;
  const std::string* document_text(const std::string& uri) override {
    auto found = documents.find(uri);
    return found == documents.end() ? nullptr : &found->second;
  }
  std::optional<std::pair<std::size_t, std::size_t>> parent_span(std::int64_t chunk_id) override {
    auto found = parents.find(chunk_id);
    if (found == parents.end()) return std::nullopt;
    return found->second;
  }
};

Hit make_hit(std::int64_t id, const std::string& uri, const std::string& document, std::size_t start, std::size_t end) {
  Hit hit;
  hit.chunk_id = id;
  hit.document_uri = uri;
  hit.title = "Title of " + uri;
  hit.heading_path = "Part > Section";
  hit.byte_start = start;
  hit.byte_end = end;
  hit.text = document.substr(start, end - start);
  return hit;
}

Hit hit_from(const index::StoredChunk& chunk) {
  Hit hit;
  hit.chunk_id = chunk.id;
  hit.document_uri = chunk.document_uri;
  hit.title = chunk.title;
  hit.heading_path = chunk.heading_path;
  hit.text = chunk.text;
  hit.byte_start = chunk.byte_start;
  hit.byte_end = chunk.byte_end;
  hit.page = chunk.page;
  return hit;
}

// The numbers cited in the context ("[n] title" lines before the sources list) and in the
// sources list ("[n] title (uri)..." lines after it), from a prompt made with the default template.
std::pair<std::vector<int>, std::vector<int>> cited_numbers(const Prompt& prompt) {
  const auto list_at = prompt.user.find("\nSources list:\n");
  EXPECT_NE(list_at, std::string::npos);
  const std::string context = prompt.user.substr(0, list_at), list = prompt.user.substr(list_at);
  std::vector<int> in_context, in_list;
  const std::regex line_number(R"((^|\n)\[(\d+)\] )");
  for (std::sregex_iterator it(context.begin(), context.end(), line_number), end; it != end; ++it) {
    in_context.push_back(std::stoi((*it)[2]));
  }
  for (std::sregex_iterator it(list.begin(), list.end(), line_number), end; it != end; ++it) {
    in_list.push_back(std::stoi((*it)[2]));
  }
  return {in_context, in_list};
}

void expect_citations_complete(const Prompt& prompt) {
  const auto [in_context, in_list] = cited_numbers(prompt);
  std::vector<int> expected;
  for (std::size_t index = 0; index < prompt.sources.size(); ++index) {
    expected.push_back(static_cast<int>(index + 1));
    EXPECT_EQ(prompt.sources[index].number, static_cast<int>(index + 1));
  }
  EXPECT_EQ(in_context, expected);
  EXPECT_EQ(in_list, expected);
}

// Recounts a prompt independently of the builder: the chat form and the text form.
std::size_t recount(const Prompt& prompt, const TokenCounter& count) {
  std::size_t chat = count(prompt.system) + count(prompt.user) + 2 * kMessageOverheadTokens;
  for (const auto& message : prompt.history) chat += count(message.content) + kMessageOverheadTokens;
  return std::max(chat, count(prompt.text()));
}

std::string random_document(std::mt19937& random) {
  static const std::vector<std::string> words = {
      "boundary", "layer", "flow",     "the",  "of",       "supersonic", "wing", "pressure", "1957", "heat",
      "transfer", "a",     "theory",   "mach", "number",   "über",       "流体", "(test)",   "x-1",  "shock",
      "results",  "were",  "compared", "with", "measured", "values",     "in",   "tunnels",  "é",    "42.5"};
  std::string text;
  const int sentences = std::uniform_int_distribution<int>(1, 40)(random);
  for (int sentence = 0; sentence < sentences; ++sentence) {
    const int length = std::uniform_int_distribution<int>(3, 30)(random);
    for (int word = 0; word < length; ++word) {
      if (word > 0) text += ' ';
      text += words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(random)];
    }
    text += std::uniform_int_distribution<int>(0, 4)(random) == 0 ? ".\n\n" : ". ";
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  return text;
}

// A span of `document` starting and ending at spaces (as chunks do) or at its ends.
std::pair<std::size_t, std::size_t> random_span(const std::string& document, std::mt19937& random) {
  auto at_space = [&](std::size_t offset) {
    while (offset < document.size() && document[offset] != ' ') ++offset;
    return offset;
  };
  std::size_t start = at_space(std::uniform_int_distribution<std::size_t>(0, document.size() - 1)(random));
  if (start < document.size()) ++start;
  if (start >= document.size()) start = 0;
  const std::size_t end = at_space(std::uniform_int_distribution<std::size_t>(start + 1, document.size())(random));
  return {start, std::max(end, start + 1)};
}

TEST(EstimateTokens, CountsRunsAsDocumented) {
  // The built-in estimate on hand-counted strings.
  EXPECT_EQ(estimate_tokens(""), 0u);
  EXPECT_EQ(estimate_tokens("the"), 1u);
  EXPECT_EQ(estimate_tokens("aerodynamics"), 4u);              // 8 letters / 4, then 4 / 3 rounded up
  EXPECT_EQ(estimate_tokens("12345"), 2u);                     // 5 digits / 3
  EXPECT_EQ(estimate_tokens("a, b"), 3u);                      // a , b; the single space is free
  EXPECT_EQ(estimate_tokens("a\n\nb"), 3u);                    // a, the line break run, b
  EXPECT_EQ(estimate_tokens("a  b"), 3u);                      // two spaces count one
  EXPECT_EQ(estimate_tokens("\xE6\xB5\x81\xE4\xBD\x93"), 4u);  // two CJK code points, 3 bytes each
  EXPECT_EQ(estimate_tokens("caf\xC3\xA9"), 2u);               // caf + é (2 bytes)
  EXPECT_EQ(estimate_tokens("abcdefgh"), 2u);
  EXPECT_EQ(estimate_tokens("abcdefghi"), 3u);
}

TEST(EstimateTokens, NeverShrinksWhenTextGrows) {
  // Packing relies on a prefix never counting more than the whole text.
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    const std::string text = random_document(random);
    std::size_t previous = 0;
    for (std::size_t cut = 0; cut <= text.size(); cut += 7) {
      const std::size_t count = estimate_tokens(std::string_view(text).substr(0, cut));
      EXPECT_GE(count, previous);
      previous = count;
    }
  }
}

TEST(PromptBuilder, BudgetNeverExceededAcrossRandomInputs) {
  // Random documents, hits (overlapping, duplicated, inconsistent offsets), budgets, histories
  // and counters (including a strict, non-additive one): the prompt always fits, and citations
  // are complete.
  std::mt19937 random(20261122);
  const std::vector<std::pair<std::string, TokenCounter>> counters = {
      {"builtin", TokenCounter()},
      {"bytes", [](std::string_view text) { return text.size(); }},
      {"strict", [](std::string_view text) { return text.size() / 2 + 7 + (text.size() % 3); }},
      {"words",
       [](std::string_view text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), ' ')) + 1; }},
  };
  int built = 0, refused = 0;
  for (int round = 0; round < 400; ++round) {
    MapSource source;
    const int document_count = std::uniform_int_distribution<int>(1, 4)(random);
    for (int document = 0; document < document_count; ++document) {
      source.documents["doc://" + std::to_string(document)] = random_document(random);
    }
    std::vector<Hit> hits;
    const int hit_count = std::uniform_int_distribution<int>(0, 15)(random);
    for (int index = 0; index < hit_count; ++index) {
      const std::string uri =
          "doc://" + std::to_string(std::uniform_int_distribution<int>(0, document_count - 1)(random));
      const auto& document = source.documents[uri];
      const auto [start, end] = random_span(document, random);
      Hit hit = make_hit(100 + index, uri, document, start, end);
      const int twist = std::uniform_int_distribution<int>(0, 9)(random);
      if (twist == 0 && !hits.empty())
        hit = hits[std::uniform_int_distribution<std::size_t>(0, hits.size() - 1)(random)];
      if (twist == 1) hit.byte_end += 3;  // offsets that do not match the text
      hits.push_back(hit);
    }
    std::vector<ChatMessage> history;
    const int history_count = std::uniform_int_distribution<int>(0, 6)(random);
    for (int index = 0; index < history_count; ++index) {
      history.push_back({index % 2 == 0 ? "user" : "assistant", random_document(random).substr(0, 300)});
    }
    PromptOptions options;
    options.context_window = std::uniform_int_distribution<std::size_t>(100, 6000)(random);
    options.answer_reserve = std::uniform_int_distribution<std::size_t>(0, options.context_window - 1)(random);
    options.expand = std::vector<std::string>{"none", "sentences", "parent"}[round % 3];
    options.sentence_window = std::uniform_int_distribution<int>(0, 3)(random);
    const auto& [counter_name, counter] = counters[std::uniform_int_distribution<std::size_t>(0, 3)(random)];
    options.count_tokens = counter;
    const bool with_source = round % 5 != 0;
    SCOPED_TRACE("round " + std::to_string(round) + " counter " + counter_name);
    try {
      const Prompt prompt =
          PromptBuilder(options, with_source ? &source : nullptr).build("What was measured?", hits, history);
      ++built;
      const TokenCounter effective = counter ? counter : TokenCounter(estimate_tokens);
      EXPECT_LE(prompt.tokens, prompt.budget);
      EXPECT_EQ(prompt.budget, options.context_window - options.answer_reserve);
      EXPECT_EQ(recount(prompt, effective), prompt.tokens);
      expect_citations_complete(prompt);
      for (const auto& citation : prompt.sources) {
        EXPECT_LE(citation.byte_start, citation.byte_end);
        EXPECT_FALSE(citation.chunk_ids.empty());
      }
    } catch (const Error& error) {
      ++refused;  // only when the question and instructions alone do not fit
      EXPECT_EQ(error.kind(), ErrorKind::invalid_argument) << error.what();
      EXPECT_NE(std::string(error.what()).find("without any source"), std::string::npos) << error.what();
    }
  }
  EXPECT_GT(built, 300);
  EXPECT_GT(refused, 0);
}

TEST(PromptBuilder, CitationNumbersFollowRankAndListEverySource) {
  // Passages are numbered in rank order; the context and the sources list name the same ones,
  // with title, URI, heading path, page and byte span.
  MapSource source;
  source.documents["doc://a"] = "Alpha one. Alpha two. Alpha three.";
  source.documents["doc://b"] = "Beta one. Beta two.";
  std::vector<Hit> hits = {make_hit(1, "doc://b", source.documents["doc://b"], 0, 9),
                           make_hit(2, "doc://a", source.documents["doc://a"], 22, 34),
                           make_hit(3, "doc://a", source.documents["doc://a"], 0, 10)};
  hits[0].page = 3;
  const Prompt prompt = PromptBuilder({}, &source).build("q?", hits);
  ASSERT_EQ(prompt.sources.size(), 3u);
  EXPECT_EQ(prompt.sources[0].document_uri, "doc://b");
  EXPECT_EQ(prompt.sources[1].chunk_ids, std::vector<std::int64_t>{2});
  EXPECT_EQ(prompt.sources[2].chunk_ids, std::vector<std::int64_t>{3});
  expect_citations_complete(prompt);
  EXPECT_NE(prompt.user.find("[1] Title of doc://b \u2014 Part > Section\nBeta one."), std::string::npos)
      << prompt.user;
  EXPECT_NE(prompt.user.find("[1] Title of doc://b (doc://b), Part > Section, page 3, bytes 0-9"), std::string::npos);
  EXPECT_NE(prompt.user.find("[2] Title of doc://a (doc://a), Part > Section, bytes 22-34"), std::string::npos);
  // The same input gives the same numbers.
  EXPECT_EQ(PromptBuilder({}, &source).build("q?", hits).user, prompt.user);
}

TEST(PromptBuilder, DefaultInstructionsGroundTheAnswer) {
  // The built-in system text and template tell the model to use only the sources, cite [n] and
  // say when the answer is not there; with no hits the context says so.
  const Prompt prompt = PromptBuilder({}).build("Why?", {});
  EXPECT_NE(prompt.system.find("only the numbered sources"), std::string::npos);
  EXPECT_NE(prompt.system.find("[1]"), std::string::npos);
  EXPECT_NE(prompt.system.find("do not contain the answer"), std::string::npos);
  EXPECT_NE(prompt.user.find("(no sources were found for this question)"), std::string::npos);
  EXPECT_NE(prompt.user.find("Question: Why?"), std::string::npos);
  EXPECT_TRUE(prompt.sources.empty());
}

TEST(PromptBuilder, TruncatesAtSentenceEndOrSkipsSmallFragments) {
  // A passage that does not fit whole is cut after its last sentence that fits (ellipsis, span
  // shortened); when less than kMinPassageTokens would fit, it is skipped.
  MapSource source;
  std::string document;
  for (int sentence = 0; sentence < 40; ++sentence)
    document += "Sentence number " + std::to_string(sentence) + " is here. ";
  document.pop_back();
  source.documents["doc://long"] = document;
  const Hit hit = make_hit(1, "doc://long", document, 0, document.size());
  const auto bytes = [](std::string_view text) { return text.size(); };
  PromptOptions options;
  options.count_tokens = bytes;
  options.answer_reserve = 0;
  options.context_window = PromptBuilder(options).build("q", {}).tokens + 600;
  const Prompt prompt = PromptBuilder(options, &source).build("q", {hit});
  ASSERT_EQ(prompt.sources.size(), 1u);
  const auto& citation = prompt.sources[0];
  EXPECT_EQ(citation.byte_start, 0u);
  EXPECT_LT(citation.byte_end, document.size());
  EXPECT_EQ(document[citation.byte_end - 1], '.');
  EXPECT_NE(prompt.user.find(document.substr(0, citation.byte_end) + " \u2026"), std::string::npos);
  EXPECT_LE(prompt.tokens, prompt.budget);

  options.context_window = PromptBuilder(options).build("q", {}).tokens + 40;
  const Prompt skipped = PromptBuilder(options, &source).build("q", {hit});
  EXPECT_TRUE(skipped.sources.empty());
}

TEST(PromptBuilder, LowerRankedHitsFillRoomAfterASkip) {
  // A hit too large to use does not stop smaller lower-ranked hits from being added.
  MapSource source;
  source.documents["doc://big"] = std::string(4000, 'x');
  source.documents["doc://small"] = "Small fact.";
  PromptOptions options;
  options.context_window = 400;
  options.answer_reserve = 0;
  const Prompt prompt = PromptBuilder(options, &source)
                            .build("q", {make_hit(1, "doc://big", source.documents["doc://big"], 0, 4000),
                                         make_hit(2, "doc://small", source.documents["doc://small"], 0, 11)});
  ASSERT_EQ(prompt.sources.size(), 1u);
  EXPECT_EQ(prompt.sources[0].document_uri, "doc://small");
}

TEST(PromptBuilder, CustomTemplateFillsEveryPlaceholder) {
  // A user template: each placeholder is filled once; text that looks like a placeholder inside
  // a document or the question is left as is.
  MapSource source;
  source.documents["doc://t"] = "Doc mentions {{question}} literally.";
  PromptOptions options;
  options.template_text = "Q={{question}}|C={{ context }}|S={{sources}}|H={{history}}|end";
  options.system_text = "Be brief.";
  const Prompt prompt = PromptBuilder(options, &source)
                            .build("why {{context}}?", {make_hit(1, "doc://t", source.documents["doc://t"], 0, 36)},
                                   {{"user", "hello"}, {"assistant", "hi"}});
  EXPECT_EQ(prompt.system, "Be brief.");
  EXPECT_EQ(prompt.user,
            "Q=why {{context}}?|C=[1] Title of doc://t \u2014 Part > Section\nDoc mentions {{question}} literally.|"
            "S=[1] Title of doc://t (doc://t), Part > Section, bytes 0-36|H=|end");
  EXPECT_NE(prompt.user_with_history.find("|H=Conversation so far:\nUser: hello\nAssistant: hi\n\n|end"),
            std::string::npos)
      << prompt.user_with_history;
  EXPECT_EQ(prompt.text(), "Be brief.\n\n" + prompt.user_with_history);
}

TEST(PromptBuilder, TemplateErrorsNameTheProblem) {
  // Unknown placeholders and a missing {{context}} are refused with the name in the message.
  PromptOptions options;
  options.template_text = "{{context}} {{questoin}}";
  try {
    PromptBuilder builder(options);
    FAIL() << "accepted an unknown placeholder";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("{{questoin}}"), std::string::npos) << error.what();
  }
  options.template_text = "Answer {{question}} from {{sources}}";
  try {
    PromptBuilder builder(options);
    FAIL() << "accepted a template without {{context}}";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("{{context}} is missing"), std::string::npos) << error.what();
  }
  EXPECT_NO_THROW(validate_template("{{context}} and an unclosed {{ brace"));
  PromptOptions bad;
  bad.expand = "paragraph";
  EXPECT_THROW(PromptBuilder{bad}, Error);
  bad = {};
  bad.answer_reserve = bad.context_window;
  EXPECT_THROW(PromptBuilder{bad}, Error);
  bad = {};
  bad.context_window = 20;
  bad.answer_reserve = 0;
  EXPECT_THROW(PromptBuilder(bad).build("q", {}), Error);  // instructions alone exceed the budget
}

TEST(PromptBuilder, HistoryKeepsNewestWholeMessagesWithinItsCap) {
  // Sliding window: the newest whole messages within history_max_tokens, oldest first, starting
  // with a user turn; they go as prior chat messages and fill {{history}} in text form only.
  std::vector<ChatMessage> history;
  for (int turn = 0; turn < 10; ++turn) {
    history.push_back({turn % 2 == 0 ? "user" : "assistant", "message " + std::to_string(turn) + std::string(86, 'm')});
  }
  PromptOptions options;
  options.count_tokens = [](std::string_view text) { return text.size(); };
  options.context_window = 100000;
  options.history_max_tokens = 3 * (100 + kMessageOverheadTokens) + 50;  // room for 3 messages
  const Prompt prompt = PromptBuilder(options).build("next?", {}, history);
  ASSERT_EQ(prompt.history.size(), 2u);  // 7, 8, 9 fit; 7 is an assistant turn and is dropped
  EXPECT_EQ(prompt.history[0].content.substr(0, 9), "message 8");
  EXPECT_EQ(prompt.history[0].role, "user");
  EXPECT_EQ(prompt.history[1].content.substr(0, 9), "message 9");
  EXPECT_EQ(prompt.user.find("Conversation so far"), std::string::npos);
  EXPECT_NE(prompt.user_with_history.find("User: message 8"), std::string::npos);
  EXPECT_EQ(prompt.user_with_history.find("message 7"), std::string::npos);

  options.history_max_tokens = 0;  // a quarter of the budget: everything fits
  EXPECT_EQ(PromptBuilder(options).build("next?", {}, history).history.size(), 10u);

  options.context_window = 700;  // history is dropped before the prompt without sources would not fit
  options.answer_reserve = 0;
  options.history_max_tokens = 100000;
  const Prompt tight = PromptBuilder(options).build("next?", {}, history);
  EXPECT_LE(tight.tokens, tight.budget);
  EXPECT_LT(tight.history.size(), 10u);

  EXPECT_THROW(PromptBuilder({}).build("q", {}, {{"tool", "x"}}), Error);
}

TEST(PromptBuilder, ChatJsonFormatsHaveTheirShapes) {
  // OpenAI messages and Bedrock Converse parse and carry system, history and user in order;
  // invalid UTF-8 in the question becomes U+FFFD.
  const Prompt prompt = PromptBuilder({}).build("bad \xFF byte?", {}, {{"user", "earlier"}, {"assistant", "answer"}});
  const auto openai = json::parse(prompt.openai_messages_json());
  ASSERT_EQ(openai.at("messages").size(), 4u);
  EXPECT_EQ(openai["messages"][0]["role"], "system");
  EXPECT_EQ(openai["messages"][0]["content"], prompt.system);
  EXPECT_EQ(openai["messages"][1]["role"], "user");
  EXPECT_EQ(openai["messages"][1]["content"], "earlier");
  EXPECT_EQ(openai["messages"][2]["role"], "assistant");
  EXPECT_EQ(openai["messages"][3]["role"], "user");
  EXPECT_NE(openai["messages"][3]["content"].get<std::string>().find("bad \xEF\xBF\xBD byte?"), std::string::npos);

  const auto bedrock = json::parse(prompt.bedrock_converse_json());
  EXPECT_EQ(bedrock.at("system").at(0).at("text"), prompt.system);
  ASSERT_EQ(bedrock.at("messages").size(), 3u);
  EXPECT_EQ(bedrock["messages"][0]["role"], "user");
  EXPECT_EQ(bedrock["messages"][0]["content"][0]["text"], "earlier");
  EXPECT_EQ(bedrock["messages"][2]["role"], "user");
  EXPECT_TRUE(bedrock["messages"][2]["content"][0].contains("text"));

  const auto whole = json::parse(prompt.to_json());
  EXPECT_EQ(whole.at("budget"), prompt.budget);
  EXPECT_EQ(whole.at("tokens"), prompt.tokens);
  EXPECT_EQ(whole.at("history").size(), 2u);
}

// A KB ingested from `files` with `chunker`, and its chunks read back in document order.
class PromptKbTest : public ::testing::Test {
 protected:
  void open_kb(const ChunkerConfig& chunker, const std::map<std::string, std::string>& files) {
    for (const auto& [name, text] : files) write_file(dir_ / "docs" / name, text);
    OpenOptions options;
    options.chunker = chunker;
    kb_.emplace(KnowledgeBase::open(dir_ / "kb", options));
    ASSERT_TRUE(kb_->ingest({dir_ / "docs"}).ok());
    store_.emplace(index::Store::open(dir_ / "kb", false, std::nullopt, std::nullopt));
  }
  // Chunks of the document whose URI ends with `name`, by ordinal.
  std::vector<index::StoredChunk> chunks_of(const std::string& name, bool searchable_only = true) {
    auto rows = store_->database().prepare(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.uri LIKE '%' || ?1 AND "
        "(c.searchable = 1 OR ?2 = 0) ORDER BY c.ordinal");
    rows.bind(1, name).bind(2, searchable_only ? 1 : 0);
    std::vector<std::int64_t> ids;
    while (rows.step()) ids.push_back(rows.column_int64(0));
    return store_->chunks_by_id(ids);
  }
  std::string document_text(const std::string& name) {
    auto rows = store_->database().prepare("SELECT text FROM documents WHERE uri LIKE '%' || ?1");
    rows.bind(1, name);
    EXPECT_TRUE(rows.step());
    return rows.column_string(0);
  }

  TempDir dir_;
  std::optional<KnowledgeBase> kb_;
  std::optional<index::Store> store_;
};

std::string sentences(const std::string& topic, int count) {
  std::string text;
  for (int sentence = 0; sentence < count; ++sentence) {
    text += "The " + topic + " measurement number " + std::to_string(sentence) + " was taken at station " +
            std::to_string(sentence * 7) + ". ";
  }
  text.pop_back();
  return text;
}

TEST_F(PromptKbTest, OverlappingChunksMergeAndDuplicatesDrop) {
  // Fixed chunks with overlap: neighbours merge into one passage whose text is the document's
  // span; a repeated chunk, a chunk inside a passage and the same text in another document drop.
  const std::string text = sentences("wing", 12);
  open_kb(ChunkerConfig{"fixed", 20, 6, 1024, 128}, {{"a.txt", text}, {"copy.txt", text}});
  const auto chunks = chunks_of("a.txt");
  const auto copies = chunks_of("copy.txt");
  ASSERT_GE(chunks.size(), 4u);
  ASSERT_GT(chunks[0].byte_end, chunks[1].byte_start);  // they overlap
  const std::vector<Hit> hits = {hit_from(chunks[1]), hit_from(chunks[0]), hit_from(chunks[1]), hit_from(copies[3]),
                                 hit_from(chunks[3])};
  const Prompt prompt = kb_->build_prompt("Where was the wing measured?", hits);
  ASSERT_EQ(prompt.sources.size(), 2u) << prompt.user;
  EXPECT_EQ(prompt.sources[0].chunk_ids, (std::vector<std::int64_t>{chunks[1].id, chunks[0].id}));
  EXPECT_EQ(prompt.sources[0].byte_start, chunks[0].byte_start);
  EXPECT_EQ(prompt.sources[0].byte_end, chunks[1].byte_end);
  const std::string merged = text.substr(chunks[0].byte_start, chunks[1].byte_end - chunks[0].byte_start);
  EXPECT_NE(prompt.user.find(merged), std::string::npos);
  // The copy ranked first keeps its place; a.txt's chunk with the same text is dropped.
  EXPECT_NE(prompt.sources[1].document_uri.find("copy.txt"), std::string::npos);
  EXPECT_EQ(prompt.sources[1].chunk_ids, std::vector<std::int64_t>{copies[3].id});
  expect_citations_complete(prompt);
}

TEST_F(PromptKbTest, ChunksSeparatedOnlyByWhiteSpaceMerge) {
  // Sentence chunks without overlap touch across a space: adjacent hits become one passage.
  open_kb(ChunkerConfig{"sentence", 16, 0, 1024, 128}, {{"s.txt", sentences("flap", 8)}});
  const auto chunks = chunks_of("s.txt");
  ASSERT_GE(chunks.size(), 3u);
  const Prompt prompt = kb_->build_prompt("flap?", {hit_from(chunks[2]), hit_from(chunks[1])});
  ASSERT_EQ(prompt.sources.size(), 1u);
  EXPECT_EQ(prompt.sources[0].byte_start, chunks[1].byte_start);
  EXPECT_EQ(prompt.sources[0].byte_end, chunks[2].byte_end);
}

TEST_F(PromptKbTest, ExpandSentencesAddsNeighboursWhileTheBudgetAllows) {
  // expand=sentences adds the window of sentences around a hit from the document text, stops at
  // the budget, and never grows into another passage.
  const std::string text = sentences("nozzle", 10);
  open_kb(ChunkerConfig{"sentence", 16, 0, 1024, 128}, {{"n.txt", text}});
  const auto chunks = chunks_of("n.txt");
  ASSERT_GE(chunks.size(), 6u);
  PromptOptions options;
  options.expand = "sentences";
  options.sentence_window = 1;
  const Prompt prompt = kb_->build_prompt("nozzle?", {hit_from(chunks[3])}, options);
  ASSERT_EQ(prompt.sources.size(), 1u);
  EXPECT_EQ(prompt.sources[0].byte_start, chunks[2].byte_start);  // one chunk is one sentence here
  EXPECT_EQ(prompt.sources[0].byte_end, chunks[4].byte_end);
  EXPECT_NE(prompt.user.find(text.substr(chunks[2].byte_start, chunks[4].byte_end - chunks[2].byte_start)),
            std::string::npos);

  options.sentence_window = 3;  // the passage of chunk 5 stops the forward growth of chunk 3
  const Prompt two = kb_->build_prompt("nozzle?", {hit_from(chunks[3]), hit_from(chunks[6])}, options);
  ASSERT_EQ(two.sources.size(), 2u);
  EXPECT_LE(two.sources[0].byte_end, two.sources[1].byte_start);
  EXPECT_EQ(two.sources[1].byte_start, chunks[6].byte_start);  // chunk 3 took the sentences between them first

  options.sentence_window = 1;
  options.answer_reserve = 0;
  PromptOptions plain = options;
  plain.expand = "none";
  options.context_window = kb_->build_prompt("nozzle?", {hit_from(chunks[3])}, plain).tokens + 2;
  const Prompt tight = kb_->build_prompt("nozzle?", {hit_from(chunks[3])}, options);
  EXPECT_EQ(tight.sources[0].byte_start, chunks[3].byte_start);  // no room: unchanged
  EXPECT_EQ(tight.sources[0].byte_end, chunks[3].byte_end);
}

TEST_F(PromptKbTest, ExpandParentReplacesAChildByItsParent) {
  // Hierarchical KB: a child hit grows to its parent chunk's span when the budget allows.
  open_kb(ChunkerConfig{"hierarchical", 256, 0, 80, 16}, {{"h.txt", sentences("rotor", 20)}});
  const auto all = chunks_of("h.txt", false);
  std::optional<index::StoredChunk> child, parent;
  for (const auto& chunk : all) {
    if (chunk.parent_id && !child) child = chunk;
  }
  ASSERT_TRUE(child);
  for (const auto& chunk : all) {
    if (chunk.id == *child->parent_id) parent = chunk;
  }
  ASSERT_TRUE(parent);
  ASSERT_LT(child->byte_end - child->byte_start, parent->byte_end - parent->byte_start);
  PromptOptions options;
  options.expand = "parent";
  const Prompt prompt = kb_->build_prompt("rotor?", {hit_from(*child)}, options);
  ASSERT_EQ(prompt.sources.size(), 1u);
  EXPECT_EQ(prompt.sources[0].byte_start, parent->byte_start);
  EXPECT_EQ(prompt.sources[0].byte_end, parent->byte_end);
  EXPECT_EQ(prompt.sources[0].chunk_ids, std::vector<std::int64_t>{child->id});
  EXPECT_NE(prompt.user.find(parent->text), std::string::npos);

  // The KB's own search returns parents already: building from its hits works unchanged.
  const auto hits = kb_->retrieve(Query("rotor measurement station", 3));
  ASSERT_FALSE(hits.empty());
  const Prompt from_search = kb_->build_prompt("rotor?", hits, options);
  EXPECT_LE(from_search.tokens, from_search.budget);
  expect_citations_complete(from_search);
}

}  // namespace
}  // namespace ragline::generate
