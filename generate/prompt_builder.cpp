#include "generate/prompt_builder.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "core/check.hpp"
#include "index/sqlite.hpp"
#include "index/store.hpp"
#include "text/tokens.hpp"

namespace ragline::generate {

const char* const kDefaultSystemText =
    "You answer questions using only the numbered sources given with the question. Cite the sources that "
    "support each statement by their numbers in square brackets, like [1] or [2][3]. If the sources do not "
    "contain the answer, say plainly that they do not contain it; do not guess and do not use outside "
    "knowledge.";

const char* const kDefaultTemplate =
    "{{history}}Sources:\n\n{{context}}\n\nQuestion: {{question}}\n\nAnswer using only the sources above and "
    "cite them as [n]. If they do not contain the answer, say so.\n\nSources list:\n{{sources}}\n";

namespace {

constexpr const char* kPlaceholders[] = {"question", "context", "sources", "history"};
constexpr const char* kEllipsis = " \u2026";

// A template cut into literal text and placeholder names, in order.
struct TemplatePart {
  bool placeholder = false;
  std::string text;  // literal text, or the placeholder name
};

std::vector<TemplatePart> parse_template(const std::string& template_text) {
  std::vector<TemplatePart> parts;
  std::size_t position = 0;
  bool has_context = false;
  while (position < template_text.size()) {
    const std::size_t open = template_text.find("{{", position);
    const std::size_t close = open == std::string::npos ? std::string::npos : template_text.find("}}", open + 2);
    if (close == std::string::npos) {
      parts.push_back({false, template_text.substr(position)});
      break;
    }
    if (open > position) parts.push_back({false, template_text.substr(position, open - position)});
    std::string name = template_text.substr(open + 2, close - open - 2);
    const auto first = name.find_first_not_of(" \t");
    const auto last = name.find_last_not_of(" \t");
    name = first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
    const bool known = std::any_of(std::begin(kPlaceholders), std::end(kPlaceholders),
                                   [&](const char* placeholder) { return name == placeholder; });
    RAGLINE_CHECK(known, invalid_argument,
                  "prompt template: unknown placeholder {{" << name << "}} at byte " << open
                                                            << " (known: {{question}} {{context}} {{sources}} "
                                                               "{{history}})");
    has_context = has_context || name == "context";
    parts.push_back({true, std::move(name)});
    position = close + 2;
  }
  RAGLINE_CHECK(has_context, invalid_argument,
                "prompt template: {{context}} is missing; a template must place the sources' text");
  return parts;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f'; }

bool only_space(std::string_view text) { return std::all_of(text.begin(), text.end(), is_space); }

// A byte offset moved forward (or backward) to the start of a UTF-8 character.
std::size_t char_boundary_forward(const std::string& text, std::size_t offset) {
  while (offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) ++offset;
  return offset;
}
std::size_t char_boundary_backward(const std::string& text, std::size_t offset) {
  while (offset > 0 && offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) --offset;
  return offset;
}

struct Passage {
  std::string document_uri, title, heading_path;
  std::optional<int> page;
  std::vector<std::int64_t> chunk_ids;
  std::size_t byte_start = 0, byte_end = 0;
  std::string text;
  // The span matches the text (the document's, or at least the hit's own): merging and
  // expansion may use offsets. Hits whose offsets do not match their text stand alone.
  bool anchored = false;
  bool truncated = false;                 // cut to fit: ends with an ellipsis, not expanded forward
  const std::string* document = nullptr;  // the document's text when the source knows it
};

std::string role_label(const std::string& role) {
  if (role == "user") return "User";
  if (role == "assistant") return "Assistant";
  return role;
}

class Assembly {
 public:
  Assembly(const PromptOptions& options, PassageSource* source, const std::string& question)
      : options_(options),
        source_(source),
        question_(question),
        template_(parse_template(options.template_text.empty() ? kDefaultTemplate : options.template_text)),
        system_(options.system_text.empty() ? kDefaultSystemText : options.system_text),
        count_(options.count_tokens ? options.count_tokens : TokenCounter(estimate_tokens)),
        budget_(options.context_window - options.answer_reserve) {}

  Prompt build(const std::vector<Hit>& hits, const std::vector<ChatMessage>& history) {
    trim_history(history);
    for (const Hit& hit : hits) place(hit);
    if (options_.expand == "sentences") {
      for (std::size_t index = 0; index < passages_.size(); ++index) expand_sentences(index);
    } else if (options_.expand == "parent") {
      for (std::size_t index = 0; index < passages_.size(); ++index) expand_parent(index);
    }
    Prompt prompt = render();
    RAGLINE_CHECK(prompt.tokens <= budget_, internal,
                  "prompt of " << prompt.tokens << " tokens exceeds its budget of " << budget_);
    return prompt;
  }

 private:
  std::string fill(bool with_history, const std::string& context, const std::string& sources) const {
    std::string history_text;
    if (with_history && !history_.empty()) {
      history_text = "Conversation so far:\n";
      for (const auto& message : history_) history_text += role_label(message.role) + ": " + message.content + "\n";
      history_text += "\n";
    }
    std::string filled;
    for (const auto& part : template_) {
      if (!part.placeholder) {
        filled += part.text;
      } else if (part.text == "question") {
        filled += question_;
      } else if (part.text == "context") {
        filled += context;
      } else if (part.text == "sources") {
        filled += sources;
      } else {
        filled += history_text;
      }
    }
    return filled;
  }

  Prompt render() const {
    std::string context, sources;
    for (std::size_t index = 0; index < passages_.size(); ++index) {
      const Passage& passage = passages_[index];
      const std::string number = "[" + std::to_string(index + 1) + "] ";
      if (index > 0) {
        context += "\n\n";
        sources += "\n";
      }
      context += number + passage.title;
      if (!passage.heading_path.empty()) context += " \u2014 " + passage.heading_path;
      context += "\n" + passage.text;
      if (passage.truncated) context += kEllipsis;
      sources += number + passage.title + " (" + passage.document_uri + ")";
      if (!passage.heading_path.empty()) sources += ", " + passage.heading_path;
      if (passage.page) sources += ", page " + std::to_string(*passage.page);
      sources += ", bytes " + std::to_string(passage.byte_start) + "-" + std::to_string(passage.byte_end);
    }
    if (passages_.empty()) {
      context = "(no sources were found for this question)";
      sources = "(none)";
    }
    Prompt prompt;
    prompt.system = system_;
    prompt.user = fill(false, context, sources);
    prompt.user_with_history = fill(true, context, sources);
    prompt.history.assign(history_.begin(), history_.end());
    for (std::size_t index = 0; index < passages_.size(); ++index) {
      const Passage& passage = passages_[index];
      Citation citation;
      citation.number = static_cast<int>(index + 1);
      citation.document_uri = passage.document_uri;
      citation.title = passage.title;
      citation.heading_path = passage.heading_path;
      citation.page = passage.page;
      citation.chunk_ids = passage.chunk_ids;
      citation.byte_start = passage.byte_start;
      citation.byte_end = passage.byte_end;
      prompt.sources.push_back(std::move(citation));
    }
    // Chat formats: each message's content plus its framing. Text form: the one string.
    std::size_t chat = count_(prompt.system) + count_(prompt.user) + 2 * kMessageOverheadTokens;
    for (const auto& message : prompt.history) chat += count_(message.content) + kMessageOverheadTokens;
    prompt.tokens = std::max(chat, count_(prompt.text()));
    prompt.budget = budget_;
    return prompt;
  }

  bool fits() const { return render().tokens <= budget_; }

  void trim_history(const std::vector<ChatMessage>& history) {
    for (std::size_t index = 0; index < history.size(); ++index) {
      const auto& role = history[index].role;
      RAGLINE_CHECK(role == "user" || role == "assistant", invalid_argument,
                    "history message " << index << " has role '" << role << "'; expected user or assistant");
    }
    const std::size_t cap = options_.history_max_tokens ? options_.history_max_tokens : budget_ / 4;
    std::size_t used = 0;
    for (auto message = history.rbegin(); message != history.rend(); ++message) {
      const std::size_t cost = count_(message->content) + kMessageOverheadTokens;
      if (used + cost > cap) break;
      used += cost;
      history_.push_front(*message);
    }
    // Conversations resume with the user's turn (Bedrock Converse requires it).
    while (!history_.empty() && history_.front().role != "user") history_.pop_front();
    while (!history_.empty() && !fits()) {
      history_.pop_front();
      while (!history_.empty() && history_.front().role != "user") history_.pop_front();
    }
    if (!fits()) {
      RAGLINE_THROW(invalid_argument, "the prompt without any source needs "
                                          << render().tokens << " tokens, more than its budget of " << budget_
                                          << " (context window minus answer "
                                             "reserve): shorten the question or "
                                             "the template, or raise the window");
    }
  }

  // Extends passage `index` to [start, end) of its document; false (and unchanged) when the
  // prompt would no longer fit.
  bool try_span(std::size_t index, std::size_t start, std::size_t end, const std::string& text) {
    Passage& passage = passages_[index];
    Passage before = passage;
    passage.byte_start = start;
    passage.byte_end = end;
    passage.text = text;
    if (fits()) return true;
    passage = std::move(before);
    return false;
  }

  void place(const Hit& hit) {
    if (hit.text.empty() || !chunks_seen_.insert(hit.chunk_id).second) return;
    const std::string* document = source_ ? source_->document_text(hit.document_uri) : nullptr;
    const std::size_t length = hit.byte_end >= hit.byte_start ? hit.byte_end - hit.byte_start : 0;
    bool anchored = hit.byte_end >= hit.byte_start && hit.text.size() == length;
    if (document) {
      anchored = anchored && hit.byte_end <= document->size() &&
                 std::string_view(*document).substr(hit.byte_start, length) == hit.text;
      if (!anchored) document = nullptr;
    }
    if (anchored) {
      for (Passage& passage : passages_) {
        if (passage.anchored && passage.document_uri == hit.document_uri && hit.byte_start >= passage.byte_start &&
            hit.byte_end <= passage.byte_end) {
          passage.chunk_ids.push_back(hit.chunk_id);  // already cited: a duplicate
          return;
        }
      }
      for (std::size_t index = 0; index < passages_.size(); ++index) {
        Passage& passage = passages_[index];
        if (!passage.anchored || passage.document_uri != hit.document_uri) continue;
        const std::size_t gap_start = std::min(passage.byte_end, hit.byte_end);
        const std::size_t gap_end = std::max(passage.byte_start, hit.byte_start);
        bool joins = gap_start >= gap_end;  // overlapping or meeting exactly
        if (!joins && document) {
          joins = only_space(std::string_view(*document).substr(gap_start, gap_end - gap_start));
        }
        if (!joins) continue;
        if (passage.truncated) return;  // a cut passage is not grown again
        // Grown up to, not into, other passages of the document: their text is cited already.
        const auto [low, high] = free_range(index);
        const std::size_t start = std::max(low, std::min(passage.byte_start, hit.byte_start));
        const std::size_t end = std::min(high, std::max(passage.byte_end, hit.byte_end));
        std::string text;
        if (document) {
          text = document->substr(start, end - start);
        } else {  // stitched from the two texts, which overlap or meet exactly
          if (start < passage.byte_start) text = hit.text.substr(start - hit.byte_start, passage.byte_start - start);
          text += passage.text;
          if (end > passage.byte_end)
            text += hit.text.substr(passage.byte_end - hit.byte_start, end - passage.byte_end);
        }
        if (start == passage.byte_start && end == passage.byte_end) return;  // its text is cited already
        if (try_span(index, start, end, text)) {
          passage.chunk_ids.push_back(hit.chunk_id);
          texts_seen_.insert(hit.text);
        }
        return;
      }
    }
    if (!texts_seen_.insert(hit.text).second) return;  // the same text under another document
    Passage passage;
    passage.document_uri = hit.document_uri;
    passage.title = hit.title;
    passage.heading_path = hit.heading_path;
    passage.page = hit.page;
    passage.chunk_ids = {hit.chunk_id};
    passage.byte_start = hit.byte_start;
    passage.byte_end = anchored ? hit.byte_end : hit.byte_start + hit.text.size();
    passage.text = hit.text;
    passage.anchored = anchored;
    passage.document = document;
    passages_.push_back(passage);
    if (fits()) return;
    if (!truncate_last()) {
      passages_.pop_back();
      texts_seen_.erase(hit.text);
    }
  }

  // Cuts the newest passage to the longest prefix that fits, ending at a sentence end, else a
  // word end; false when fewer than kMinPassageTokens would remain.
  bool truncate_last() {
    Passage& passage = passages_.back();
    const std::string full = passage.text;
    const std::size_t full_end = passage.byte_end;
    auto try_cut = [&](std::size_t cut) {
      passage.text = full.substr(0, cut);
      passage.byte_end = passage.byte_start + cut;
      passage.truncated = true;
      return fits();
    };
    for (const bool by_sentence : {true, false}) {
      std::vector<std::size_t> cuts;
      for (const auto& span : by_sentence ? text::sentence_spans(full) : text::token_spans(full)) {
        if (span.byte_end < full.size()) cuts.push_back(span.byte_end);
      }
      // The counter grows with the text, so the cuts that fit are a prefix of `cuts`.
      std::size_t low = 0, high = cuts.size();  // cuts[0, low) known to fit
      while (low < high) {
        const std::size_t middle = (low + high) / 2;
        if (try_cut(cuts[middle])) {
          low = middle + 1;
        } else {
          high = middle;
        }
      }
      if (low > 0 && count_(full.substr(0, cuts[low - 1])) >= kMinPassageTokens && try_cut(cuts[low - 1])) {
        return true;
      }
    }
    passage.text = full;
    passage.byte_end = full_end;
    passage.truncated = false;
    return false;
  }

  // The nearest other passage boundaries of the same document around passage `index`: text
  // beyond them is already cited elsewhere.
  std::pair<std::size_t, std::size_t> free_range(std::size_t index) const {
    const Passage& passage = passages_[index];
    std::size_t low = 0, high = passage.document ? passage.document->size() : SIZE_MAX;
    for (std::size_t other = 0; other < passages_.size(); ++other) {
      const Passage& neighbour = passages_[other];
      if (other == index || !neighbour.anchored || neighbour.document_uri != passage.document_uri) continue;
      if (neighbour.byte_end <= passage.byte_start) low = std::max(low, neighbour.byte_end);
      if (neighbour.byte_start >= passage.byte_end) high = std::min(high, neighbour.byte_start);
    }
    return {low, high};
  }

  void expand_sentences(std::size_t index) {
    if (!passages_[index].anchored || !passages_[index].document) return;
    const std::string& document = *passages_[index].document;
    const auto [low, high] = free_range(index);
    // Sentences are found in a window around the passage, not the whole document.
    constexpr std::size_t kWindowBytes = 4096;
    const std::size_t window_start = char_boundary_forward(
        document, std::max(low, passages_[index].byte_start > kWindowBytes ? passages_[index].byte_start - kWindowBytes
                                                                           : std::size_t{0}));
    const std::size_t window_end =
        char_boundary_backward(document, std::min(high, passages_[index].byte_end + kWindowBytes));
    if (window_end <= window_start) return;
    std::vector<std::size_t> starts_before, ends_after;
    for (const auto& span :
         text::sentence_spans(std::string_view(document).substr(window_start, window_end - window_start))) {
      const std::size_t start = window_start + span.byte_start, end = window_start + span.byte_end;
      if (start < passages_[index].byte_start && start >= low) starts_before.push_back(start);
      if (end > passages_[index].byte_end && end <= high) ends_after.push_back(end);
    }
    std::reverse(starts_before.begin(), starts_before.end());
    bool grow_back = true, grow_forward = !passages_[index].truncated;
    for (std::size_t step = 0; step < static_cast<std::size_t>(std::max(0, options_.sentence_window)); ++step) {
      Passage& passage = passages_[index];
      if (grow_back && step < starts_before.size()) {
        const std::size_t start = starts_before[step];
        grow_back = try_span(index, start, passage.byte_end, document.substr(start, passage.byte_end - start));
      }
      if (grow_forward && step < ends_after.size()) {
        const std::size_t end = ends_after[step];
        grow_forward =
            try_span(index, passage.byte_start, end, document.substr(passage.byte_start, end - passage.byte_start));
      }
    }
  }

  void expand_parent(std::size_t index) {
    Passage& passage = passages_[index];
    if (!passage.anchored || !passage.document || passage.truncated || !source_) return;
    const auto parent = source_->parent_span(passage.chunk_ids.front());
    if (!parent) return;
    const auto [low, high] = free_range(index);
    const std::size_t start = std::max(low, std::min(passage.byte_start, parent->first));
    const std::size_t end = std::min(high, std::max(passage.byte_end, parent->second));
    if (start == passage.byte_start && end == passage.byte_end) return;
    try_span(index, start, end, passage.document->substr(start, end - start));
  }

  const PromptOptions& options_;
  PassageSource* source_;
  const std::string& question_;
  std::vector<TemplatePart> template_;
  std::string system_;
  TokenCounter count_;
  std::size_t budget_;
  std::deque<ChatMessage> history_;
  std::vector<Passage> passages_;
  std::unordered_set<std::int64_t> chunks_seen_;
  std::unordered_set<std::string> texts_seen_;
};

}  // namespace

void validate_template(const std::string& template_text) { parse_template(template_text); }

const std::string* StorePassageSource::document_text(const std::string& document_uri) {
  auto found = documents_.find(document_uri);
  if (found != documents_.end()) return found->second.get();
  auto statement = store_.database().prepare("SELECT text FROM documents WHERE uri = ?1");
  statement.bind(1, document_uri);
  std::unique_ptr<std::string> text;
  if (statement.step()) text = std::make_unique<std::string>(statement.column_string(0));
  return documents_.emplace(document_uri, std::move(text)).first->second.get();
}

std::optional<std::pair<std::size_t, std::size_t>> StorePassageSource::parent_span(std::int64_t chunk_id) {
  auto statement = store_.database().prepare(
      "SELECT p.byte_start, p.byte_end FROM chunks c JOIN chunks p ON p.id = c.parent_id WHERE c.id = ?1");
  statement.bind(1, chunk_id);
  if (!statement.step()) return std::nullopt;
  return std::make_pair(static_cast<std::size_t>(statement.column_int64(0)),
                        static_cast<std::size_t>(statement.column_int64(1)));
}

PromptBuilder::PromptBuilder(PromptOptions options, PassageSource* source)
    : options_(std::move(options)), source_(source) {
  RAGLINE_CHECK(options_.answer_reserve < options_.context_window, invalid_argument,
                "prompt: answer_reserve (" << options_.answer_reserve << ") must be smaller than context_window ("
                                           << options_.context_window << ")");
  RAGLINE_CHECK(options_.expand == "none" || options_.expand == "sentences" || options_.expand == "parent",
                invalid_argument, "prompt: unknown expand '" << options_.expand << "' (none | sentences | parent)");
  RAGLINE_CHECK(options_.sentence_window >= 0, invalid_argument,
                "prompt: sentence_window must be >= 0, not " << options_.sentence_window);
  parse_template(options_.template_text.empty() ? kDefaultTemplate : options_.template_text);
}

Prompt PromptBuilder::build(const std::string& question, const std::vector<Hit>& hits,
                            const std::vector<ChatMessage>& history) const {
  return Assembly(options_, source_, question).build(hits, history);
}

}  // namespace ragline::generate
