// The bert embedder (models/local/bert.hpp) against the tiny random BERT of
// tests/data/bert-tiny, whose token ids and vectors were computed by an independent Python
// tokenizer and float64 PyTorch forward pass (tools/bert-fixture/make_fixture.py); plus the
// safetensors reader on corrupt files and the model folder's error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "models/local/bert.hpp"
#include "models/local/safetensors.hpp"
#include "models/local/wordpiece.hpp"
#include "ragline/error.hpp"
#include "support/test_support.hpp"

namespace ragline::models::local {
namespace {

namespace fs = std::filesystem;
using ragline::testing::read_file;
using ragline::testing::TempDir;
using ragline::testing::test_data;
using ragline::testing::write_file;

const nlohmann::json& expected() {
  static const nlohmann::json json = nlohmann::json::parse(read_file(test_data("bert-tiny/expected.json")));
  return json;
}

std::vector<std::string> texts() { return expected().at("texts").get<std::vector<std::string>>(); }

// A copy of the fixture folder under `name`, optionally with the F16 weights and CLS pooling.
fs::path fixture_copy(const TempDir& dir, const std::string& name, bool f16 = false, bool cls = false) {
  const fs::path source = test_data("bert-tiny");
  const fs::path target = dir / name;
  fs::create_directories(target / "1_Pooling");
  for (const char* file : {"config.json", "vocab.txt", "tokenizer_config.json", "modules.json"}) {
    fs::copy_file(source / file, target / file);
  }
  fs::copy_file(source / (f16 ? "model.f16.safetensors" : "model.safetensors"), target / "model.safetensors");
  auto pooling = nlohmann::json::parse(read_file(source / "1_Pooling" / "config.json"));
  pooling["pooling_mode_cls_token"] = cls;
  pooling["pooling_mode_mean_tokens"] = !cls;
  write_file(target / "1_Pooling" / "config.json", pooling.dump());
  return target;
}

// Largest |actual - expected| over every text and dimension.
double max_abs_diff(const EmbeddingMatrix& actual, const nlohmann::json& reference) {
  EXPECT_EQ(actual.rows, reference.size());
  double worst = 0;
  for (std::size_t i = 0; i < actual.rows && i < reference.size(); ++i) {
    const auto row = reference[i].get<std::vector<double>>();
    EXPECT_EQ(row.size(), actual.dimension);
    for (std::size_t d = 0; d < row.size() && d < actual.dimension; ++d) {
      worst = std::max(worst, std::abs(actual.row(i)[d] - row[d]));
    }
  }
  return worst;
}

TEST(BertTokenizer, WordsAndIdsMatchTheIndependentReference) {
  const auto tokenizer = WordPieceTokenizer::load(test_data("bert-tiny/vocab.txt"), WordPieceOptions{});
  auto embedder = BertEmbedder::load(test_data("bert-tiny"));
  EXPECT_EQ(embedder->max_tokens(), expected().at("max_tokens").get<std::size_t>());
  const auto all = texts();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(tokenizer.split_words(all[i]), expected()["words"][i].get<std::vector<std::string>>()) << "text " << i;
    EXPECT_EQ(embedder->token_ids(all[i], EmbedPurpose::document), expected()["token_ids"][i].get<std::vector<int>>())
        << "text " << i;
  }
}

TEST(BertTokenizer, SplitsCjkAndPunctuationStripsAccentsAndLimitsWordLength) {
  const auto tokenizer = WordPieceTokenizer::load(test_data("bert-tiny/vocab.txt"), WordPieceOptions{});
  EXPECT_EQ(tokenizer.split_words("ÉCOLE,机器!"), (std::vector<std::string>{"ecole", ",", "机", "器", "!"}));
  const auto ids = tokenizer.encode("unbelievable");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(tokenizer.piece(ids[0]), "un");
  EXPECT_EQ(tokenizer.piece(ids[1]), "##believ");
  EXPECT_EQ(tokenizer.piece(ids[2]), "##able");
  // 100 characters still go through WordPiece; 101 are one [UNK]; one unmatchable character
  // makes the whole word [UNK].
  EXPECT_EQ(tokenizer.encode(std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(tokenizer.encode(std::string(101, 'a')), std::vector<int>{tokenizer.unk_id()});
  EXPECT_EQ(tokenizer.encode("fox\xE2\x9A\xBD"), std::vector<int>{tokenizer.unk_id()});
  // Invalid UTF-8 is dropped like U+FFFD, not turned into a word.
  EXPECT_EQ(tokenizer.split_words("fox\xFF dog"), (std::vector<std::string>{"fox", "dog"}));
  WordPieceOptions cased;
  cased.lower_case = false;
  const auto cased_tokenizer = WordPieceTokenizer::load(test_data("bert-tiny/vocab.txt"), cased);
  EXPECT_EQ(cased_tokenizer.split_words("Café"), std::vector<std::string>{"Café"});
  EXPECT_THROW(WordPieceTokenizer({"[CLS]", "[SEP]"}, WordPieceOptions{}), Error);
}

TEST(BertEmbedder, F32MeanPoolingMatchesReferenceBatchedAndAlone) {
  auto embedder = BertEmbedder::load(test_data("bert-tiny"));
  EXPECT_EQ(embedder->dimension(), 32u);
  EXPECT_EQ(embedder->pooling(), BertPooling::mean);
  EXPECT_EQ(embedder->query_prefix(), "");
  const auto all = texts();
  EXPECT_LT(max_abs_diff(embedder->embed(all, EmbedPurpose::document), expected()["f32_mean"]), 1e-4);
  EXPECT_EQ(embedder->texts_truncated(), 1u);  // the repeated phrase; 101 a's are one [UNK], not cut
  BertOptions one_at_a_time;
  one_at_a_time.batch_size = 1;
  auto single = BertEmbedder::load(test_data("bert-tiny"), one_at_a_time);
  EXPECT_LT(max_abs_diff(single->embed(all, EmbedPurpose::document), expected()["f32_mean"]), 1e-4);
  EXPECT_EQ(single->id(), embedder->id());
  // 150 texts of 64 tokens exceed one batch's 8192-token budget even with a large batch size.
  BertOptions large_batches;
  large_batches.batch_size = 1000;
  auto large = BertEmbedder::load(test_data("bert-tiny"), large_batches);
  const std::vector<std::string> many(150, all[8]);
  const nlohmann::json reference_rows(150, expected()["f32_mean"][8]);
  EXPECT_LT(max_abs_diff(large->embed(many, EmbedPurpose::document), reference_rows), 1e-4);
}

TEST(BertEmbedder, F16WeightsWithBertPrefixMatchReference) {
  TempDir dir;
  auto embedder = BertEmbedder::load(fixture_copy(dir, "bert-tiny-f16", /*f16=*/true));
  EXPECT_LT(max_abs_diff(embedder->embed(texts(), EmbedPurpose::document), expected()["f16_mean"]), 1e-4);
  auto cls = BertEmbedder::load(fixture_copy(dir, "bert-tiny-f16-cls", /*f16=*/true, /*cls=*/true));
  EXPECT_LT(max_abs_diff(cls->embed(texts(), EmbedPurpose::document), expected()["f16_cls"]), 1e-4);
}

TEST(BertEmbedder, ClsPoolingMatchesReference) {
  TempDir dir;
  auto embedder = BertEmbedder::load(fixture_copy(dir, "tiny-cls", false, /*cls=*/true));
  EXPECT_EQ(embedder->pooling(), BertPooling::cls);
  EXPECT_LT(max_abs_diff(embedder->embed(texts(), EmbedPurpose::query), expected()["f32_cls"]), 1e-4);
  EXPECT_NE(embedder->id(), BertEmbedder::load(test_data("bert-tiny"))->id());
}

TEST(BertEmbedder, PrefixesFollowTheModelFamilyOrTheOptions) {
  TempDir dir;
  // A folder named like e5 gets "query: " and "passage: ".
  auto e5 = BertEmbedder::load(fixture_copy(dir, "e5-tiny-v2"));
  EXPECT_EQ(e5->query_prefix(), expected()["query_prefix"]);
  EXPECT_EQ(e5->passage_prefix(), expected()["passage_prefix"]);
  const auto all = texts();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(e5->token_ids(all[i], EmbedPurpose::query), expected()["query_token_ids"][i].get<std::vector<int>>());
  }
  EXPECT_LT(max_abs_diff(e5->embed(all, EmbedPurpose::query), expected()["f32_mean_query"]), 1e-4);
  EXPECT_LT(max_abs_diff(e5->embed(all, EmbedPurpose::document), expected()["f32_mean_passage"]), 1e-4);
  // bge: the query instruction, no passage prefix.
  auto bge = BertEmbedder::load(fixture_copy(dir, "bge-small-en-v1.5"));
  EXPECT_EQ(bge->query_prefix(), "Represent this sentence for searching relevant passages: ");
  EXPECT_EQ(bge->passage_prefix(), "");
  // Explicit options win, "" included; the id changes with the prefixes.
  BertOptions options;
  options.query_prefix = "";
  options.passage_prefix = "";
  auto plain = BertEmbedder::load(dir / "e5-tiny-v2", options);
  EXPECT_LT(max_abs_diff(plain->embed(all, EmbedPurpose::query), expected()["f32_mean"]), 1e-4);
  EXPECT_NE(plain->id(), e5->id());
  // Through make_embedder: "none" means no prefix.
  EmbedderConfig config;
  config.name = "bert";
  config.model = (dir / "e5-tiny-v2").string();
  config.query_prefix = "none";
  config.passage_prefix = "none";
  EXPECT_EQ(make_embedder(config)->id(), plain->id());
}

TEST(BertEmbedder, MakeEmbedderByNameGivesAStableIdAndChecksTheFolder) {
  EmbedderConfig config;
  config.name = "bert";
  config.model = test_data("bert-tiny").string();
  auto embedder = make_embedder(config);
  EXPECT_EQ(embedder->dimension(), 32u);
  const std::string id = embedder->id();
  EXPECT_EQ(id.rfind("bert/bert-tiny/32/", 0), 0u) << id;
  EXPECT_EQ(id.size(), std::string("bert/bert-tiny/32/").size() + 12);
  EXPECT_EQ(make_embedder(config)->id(), id);
  EXPECT_EQ(embedder->fusion_defaults().method, model_fusion_defaults().method);  // not a measured model
  EXPECT_DOUBLE_EQ(embedder->fusion_defaults().alpha, model_fusion_defaults().alpha);
  config.dimension = 64;
  EXPECT_THROW(make_embedder(config), Error);

  TempDir dir;
  const auto expect_error = [](const fs::path& folder, ErrorKind kind, const std::string& needle) {
    try {
      BertEmbedder::load(folder);
      ADD_FAILURE() << "loaded " << folder;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(dir / "absent", ErrorKind::not_found, "absent");
  const fs::path folder = fixture_copy(dir, "broken");
  fs::remove(folder / "vocab.txt");
  expect_error(folder, ErrorKind::not_found, "vocab.txt");
  fs::copy_file(test_data("bert-tiny/vocab.txt"), folder / "vocab.txt");
  auto config_json = nlohmann::json::parse(read_file(folder / "config.json"));
  config_json["hidden_act"] = "gelu_new";
  write_file(folder / "config.json", config_json.dump());
  expect_error(folder, ErrorKind::unsupported, "hidden_act");
  config_json["hidden_act"] = "gelu";
  config_json["hidden_size"] = 48;
  write_file(folder / "config.json", config_json.dump());
  expect_error(folder, ErrorKind::format, "embeddings.word_embeddings.weight");
  config_json.erase("hidden_size");
  write_file(folder / "config.json", config_json.dump());
  expect_error(folder, ErrorKind::format, "hidden_size");
}

TEST(BertEmbedder, ConcurrentEmbedCallsShareTheWeights) {
  auto embedder = BertEmbedder::load(test_data("bert-tiny"));
  const auto all = texts();
  const auto reference = embedder->embed(all, EmbedPurpose::document);
  std::vector<EmbeddingMatrix> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] {
      for (int round = 0; round < 10; ++round) result = embedder->embed(all, EmbedPurpose::document);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result.values, reference.values);
}

// --- safetensors ---

std::string le64(std::uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

std::string safetensors_bytes(const std::string& header, std::size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

void expect_format_error(const TempDir& dir, const std::string& bytes, const std::string& needle) {
  const fs::path path = dir / "model.safetensors";
  write_file(path, bytes);
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "opened a file expected to fail with " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::format) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(Safetensors, CorruptHeadersAreFormatErrorsNamingFileAndTensor) {
  TempDir dir;
  expect_format_error(dir, "abc", "too short");
  expect_format_error(dir, le64(1000) + "{}", "header length 1000");
  expect_format_error(dir, le64(std::uint64_t{1} << 62) + "{}", "header length");
  expect_format_error(dir, safetensors_bytes("{not json", 0), "not valid JSON");
  expect_format_error(dir, safetensors_bytes("[1,2]", 0), "not a JSON object");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8),
                      "\"w\": data_offsets [0, 16] out of range");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", 8),
                      "out of range");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8),
                      "\"w\": unknown dtype Q4");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                      "8 bytes for 3 elements");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                      "shape holds -2");
  expect_format_error(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "lacks");
  expect_format_error(dir,
                      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                        12),
                      "overlap");
}

TEST(Safetensors, ReadsF32F16Bf16AndRefusesOtherDtypes) {
  TempDir dir;
  const fs::path path = dir / "model.safetensors";
  std::string data;
  const float f32[2] = {1.5f, -2.25f};
  data.append(reinterpret_cast<const char*>(f32), sizeof f32);
  data += std::string("\x00\x3c\x00\xc0\x01\x00", 6);  // F16: 1.0, -2.0, smallest subnormal
  data += std::string("\xc0\x3f\x80\xbf", 4);          // BF16: 1.5, -1.0
  data += le64(7);                                     // I64
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]},)"
      R"("i":{"dtype":"I64","shape":[1],"data_offsets":[18,26]}})";
  write_file(path, le64(header.size()) + header + data);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.tensors().size(), 4u);
  EXPECT_EQ(file.read_matrix("a").values, (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(file.read_matrix("h").values, (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(file.read_matrix("b").values, (std::vector<float>{1.5f, -1.0f}));
  EXPECT_THROW(file.read_matrix("i"), Error);
  EXPECT_THROW(file.read_matrix("missing"), Error);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0xfc00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

}  // namespace
}  // namespace ragline::models::local
