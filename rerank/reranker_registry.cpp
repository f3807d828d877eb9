#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>

#include "core/check.hpp"
#include "rerank/reranker.hpp"

namespace ragline::rerank {
namespace {

// At most this many hits go into a chain (the retriever's own limit on k).
constexpr std::size_t kMaxRerankCandidates = 10000;

struct Registry {
  std::mutex mutex;
  std::map<std::string, RerankerFactory> factories = {
      {"mmr", make_mmr_reranker},
      {"reorder", make_reorder_reranker},
      {"http", make_http_reranker},
      {"bedrock", make_bedrock_reranker},
      {"cross-encoder", make_cross_encoder_reranker},
  };
};

Registry& registry() {
  static Registry instance;
  return instance;
}

std::string known_names() {
  std::string names;
  for (const auto& name : registered_rerankers()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

std::unique_ptr<Reranker> make_reranker(const RerankerConfig& config) {
  RerankerFactory factory;
  {
    std::lock_guard lock(registry().mutex);
    if (const auto found = registry().factories.find(config.name); found != registry().factories.end()) {
      factory = found->second;
    }
  }
  RAGLINE_CHECK(factory != nullptr, invalid_argument,
                "unknown reranker \"" << config.name << "\" (known: " << known_names()
                                      << "; an application adds names with register_reranker)");
  RAGLINE_CHECK(
      config.candidates <= kMaxRerankCandidates, invalid_argument,
      "reranker " << config.name << ": candidates is " << config.candidates << "; at most " << kMaxRerankCandidates);
  RAGLINE_CHECK(!config.min_score || std::isfinite(*config.min_score), invalid_argument,
                "reranker " << config.name << ": min_score is not a finite number");
  auto reranker = factory(config);
  RAGLINE_CHECK(reranker != nullptr, invalid_argument, "the factory of reranker \"" << config.name << "\" made none");
  return reranker;
}

std::size_t rerank_input_size(const std::vector<RerankerConfig>& stages, std::size_t k) {
  if (stages.empty()) return k;
  const std::size_t first = stages.front().candidates == 0 ? kDefaultRerankCandidates : stages.front().candidates;
  return std::max(k, first);
}

std::vector<Hit> run_rerank_chain(const std::vector<RerankerConfig>& stages, const RerankRequest& request,
                                  std::vector<Hit> hits, SearchExplanation& explanation) {
  std::vector<std::unique_ptr<Reranker>> rerankers;
  rerankers.reserve(stages.size());
  for (const auto& stage : stages) rerankers.push_back(make_reranker(stage));
  for (std::size_t stage = 0; stage < stages.size(); ++stage) {
    const auto started = std::chrono::steady_clock::now();
    if (stages[stage].candidates > 0 && hits.size() > stages[stage].candidates) hits.resize(stages[stage].candidates);
    const std::size_t given = hits.size();
    hits = rerankers[stage]->rerank(request, std::move(hits));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::ostringstream text;
    text << rerankers[stage]->describe() << " in=" << given << " out=" << hits.size() << " ms=" << ms;
    explanation.rerankers.push_back(text.str());
    explanation.rerank_ms += ms;
  }
  return hits;
}

std::size_t output_size(const RerankerConfig& config, const RerankRequest& request) {
  return config.top_n == 0 ? request.k : config.top_n;
}

}  // namespace ragline::rerank

namespace ragline {

Reranker::~Reranker() = default;

void register_reranker(const std::string& name, RerankerFactory factory) {
  RAGLINE_CHECK(!name.empty(), invalid_argument, "register_reranker: the name is empty");
  RAGLINE_CHECK(factory != nullptr, invalid_argument, "register_reranker(\"" << name << "\"): the factory is empty");
  auto& registry = rerank::registry();
  std::lock_guard lock(registry.mutex);
  registry.factories[name] = std::move(factory);
}

std::vector<std::string> registered_rerankers() {
  auto& registry = rerank::registry();
  std::lock_guard lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry.factories) names.push_back(name);
  return names;
}

}  // namespace ragline
