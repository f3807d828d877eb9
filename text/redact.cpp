#include "text/redact.hpp"

#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/check.hpp"
#include "text/utf8_text.hpp"

namespace ragline::text {
namespace {

constexpr std::size_t kNoMatch = 0;

// Built-in detectors, in tie-break order.
enum Detector : unsigned { kEmail, kPhone, kCard, kSsn, kIban, kIp, kDetectorCount };

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// A character that glues a match to its neighbour: ASCII letters, digits and '_'.
bool is_word(char c) { return is_alnum(c) || c == '_'; }
int digit_value(char c) { return c - '0'; }

// A digit-led match must not continue a longer token: "12-123-45-6789" holds no SSN, and
// "v1.2.3.4" no IP address.
bool number_boundary_before(std::string_view t, std::size_t i) {
  if (i == 0) return true;
  const char previous = t[i - 1];
  if (is_word(previous)) return false;
  const bool joiner = previous == '-' || previous == '.' || previous == '/' || previous == ':' || previous == ',';
  return !(joiner && i >= 2 && is_alnum(t[i - 2]));
}

// ... nor be followed by more of it. A space never joins (prose puts numbers side by side);
// `allow_colon` lets an IP address end before ":port".
bool number_boundary_after(std::string_view t, std::size_t end, bool allow_colon = false) {
  if (end >= t.size()) return true;
  const char next = t[end];
  if (is_word(next)) return false;
  const bool joiner =
      next == '-' || next == '.' || next == '/' || next == ',' || next == '@' || (next == ':' && !allow_colon);
  return !(joiner && end + 1 < t.size() && is_alnum(t[end + 1]));
}

// --- payment cards -------------------------------------------------------------------------

// Luhn (ISO/IEC 7812-1 annex B): doubling every second digit from the right, the sum is a
// multiple of 10.
bool luhn_valid(std::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = digit_value(*it);
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return sum % 10 == 0;
}

// 13 to 19 digits in groups of at least 3 separated by one space or one dash (the same one
// throughout), first digit 2-6 (the major industry identifiers of card networks), Luhn-valid.
// Space-separated runs may be followed by unrelated numbers, so shorter prefixes ending at a
// group boundary are tried too.
std::size_t match_card(std::string_view t, std::size_t i) {
  if (t[i] < '2' || t[i] > '6') return kNoMatch;
  std::string digits;
  std::vector<std::pair<std::size_t, std::size_t>> group_ends;  // (end offset, digits so far)
  char separator = 0;
  std::size_t pos = i;
  for (;;) {
    const std::size_t group_start = pos;
    while (pos < t.size() && is_digit(t[pos]) && digits.size() <= 19) digits += t[pos++];
    if (digits.size() > 19) {
      if (separator == ' ') break;  // a number after the card, not part of it
      return kNoMatch;
    }
    if (pos - group_start < 3) break;
    group_ends.emplace_back(pos, digits.size());
    if (pos + 1 < t.size() && (t[pos] == ' ' || t[pos] == '-') && is_digit(t[pos + 1])) {
      if (separator == 0) separator = t[pos];
      if (t[pos] != separator) break;
      ++pos;
      continue;
    }
    break;
  }
  for (auto it = group_ends.rbegin(); it != group_ends.rend(); ++it) {
    const auto [end, count] = *it;
    if (count < 13 || count > 19) continue;
    if (!number_boundary_after(t, end)) continue;
    if (luhn_valid(std::string_view(digits).substr(0, count))) return end - i;
  }
  return kNoMatch;
}

// --- US social security numbers -------------------------------------------------------------

// AAA-GG-SSSS; never issued: area 000, 666 or 900-999, group 00, serial 0000.
std::size_t match_ssn(std::string_view t, std::size_t i) {
  if (i + 11 > t.size()) return kNoMatch;
  for (std::size_t k = 0; k < 11; ++k) {
    const bool dash = k == 3 || k == 6;
    if (dash ? t[i + k] != '-' : !is_digit(t[i + k])) return kNoMatch;
  }
  const std::string_view area = t.substr(i, 3), group = t.substr(i + 4, 2), serial = t.substr(i + 7, 4);
  if (area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000") return kNoMatch;
  return number_boundary_after(t, i + 11) ? 11 : kNoMatch;
}

// --- phone numbers ---------------------------------------------------------------------------

struct DigitGroup {
  std::size_t digits = 0;
  std::size_t end = 0;  // offset after the group (after ')' for a parenthesised one)
  char first = 0;
  char separator = 0;  // before the group: ' ', '-', '.' or 0
  bool parenthesised = false;
};

bool looks_like_date(const std::vector<DigitGroup>& groups, std::size_t count) {
  if (count != 3) return false;
  const auto a = groups[0].digits, b = groups[1].digits, c = groups[2].digits;
  return (a == 4 && b <= 2 && c <= 2) || (a <= 2 && b <= 2 && (c == 4 || c == 2));
}

// Groups of digits separated by one space, '-' or '.', the first or second group optionally in
// parentheses; see ingest/README.md for the three accepted shapes (international "+CC ...",
// North American "NXX NXX XXXX", trunk-prefixed national "0..."). A bare run of digits is a
// phone number only after '+'.
std::size_t match_phone(std::string_view t, std::size_t i) {
  std::size_t pos = i;
  const bool international = t[pos] == '+';
  if (international) ++pos;
  std::vector<DigitGroup> groups;
  bool any_parenthesis = false;
  bool any_dot = false;
  std::size_t total = 0;
  char separator = 0;
  while (pos < t.size() && groups.size() < 8) {
    const bool parenthesised = t[pos] == '(' && !any_parenthesis && groups.size() <= 1;
    std::size_t start = parenthesised ? pos + 1 : pos;
    std::size_t end = start;
    while (end < t.size() && is_digit(t[end]) && end - start < 15) ++end;
    if (end == start) break;
    DigitGroup group{end - start, end, t[start], separator, parenthesised};
    if (parenthesised) {
      if (end >= t.size() || t[end] != ')' || group.digits > 5) break;
      group.end = end + 1;
      any_parenthesis = true;
    } else if (end < t.size() && is_digit(t[end])) {
      return kNoMatch;  // a group of more than 15 digits: an id, not a phone number
    }
    total += group.digits;
    if (total > 15) break;
    groups.push_back(group);
    pos = group.end;
    if (pos + 1 < t.size() && (t[pos] == ' ' || t[pos] == '-' || t[pos] == '.') &&
        (is_digit(t[pos + 1]) || (t[pos + 1] == '(' && !any_parenthesis))) {
      if (t[pos] == '.') any_dot = true;
      separator = t[pos++];
    } else if (!parenthesised || pos >= t.size() || !is_digit(t[pos])) {
      break;
    } else {
      separator = 0;
    }
  }
  if (groups.empty()) return kNoMatch;
  for (std::size_t count = groups.size(); count >= 1; --count) {
    std::size_t digits = 0;
    bool short_group = false;
    for (std::size_t g = 0; g < count; ++g) {
      digits += groups[g].digits;
      if (groups[g].digits < 2) short_group = true;
    }
    const std::size_t end = groups[count - 1].end;
    if (looks_like_date(groups, count) || (any_dot && short_group)) continue;
    bool shape = false;
    if (international) {
      // E.164: at most 15 digits with the country code, which has 1-3 and does not start with 0.
      shape = digits >= 8 && digits <= 15 && groups[0].first != '0' && (count == 1 || groups[0].digits <= 3);
    } else if (groups[0].first == '0') {
      shape = count >= 2 && digits >= 9 && !short_group && groups[0].digits <= 5;
    } else {
      // NANP: [1-](NXX) NXX-XXXX, NXX-NXX-XXXX or NXX.NXX.XXXX, N = 2-9. Three plain numbers
      // separated by spaces ("256 512 1024") are not taken for one.
      const std::size_t first = (count == 4 && groups[0].digits == 1 && groups[0].first == '1') ? 1 : 0;
      const auto& area = groups[first];
      const auto& exchange = groups[first + (count > first + 1 ? 1 : 0)];
      const auto& line = groups[count - 1];
      shape = count - first == 3 && area.digits == 3 && exchange.digits == 3 && line.digits == 4 && area.first >= '2' &&
              exchange.first >= '2' && line.separator != ' ' && (area.parenthesised || exchange.separator != ' ');
    }
    if (shape && number_boundary_after(t, end)) return end - i;
  }
  return kNoMatch;
}

// --- IBANs -----------------------------------------------------------------------------------

// IBAN lengths by country (ISO 13616 registry).
int iban_length(char a, char b) {
  static const std::map<std::string, int, std::less<>> kLengths = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
      {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28},
      {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
      {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
      {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
      {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18},
      {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
      {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
      {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}};
  const char code[2] = {a, b};
  const auto found = kLengths.find(std::string_view(code, 2));
  return found == kLengths.end() ? 0 : found->second;
}

// ISO 7064 MOD 97-10 as IBANs use it: the first four characters moved to the end, letters as
// 10..35, the number modulo 97 is 1.
bool iban_checksum_valid(std::string_view compact) {
  int remainder = 0;
  auto feed = [&](char c) {
    if (is_digit(c)) {
      remainder = (remainder * 10 + digit_value(c)) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  };
  for (char c : compact.substr(4)) feed(c);
  for (char c : compact.substr(0, 4)) feed(c);
  return remainder == 1;
}

// Country code, two check digits, then upper-case letters and digits, optionally in groups
// separated by single spaces; exactly the registered length for known countries (15-34 for
// others), checksum-valid.
std::size_t match_iban(std::string_view t, std::size_t i) {
  if (i + 4 > t.size() || !is_upper(t[i]) || !is_upper(t[i + 1]) || !is_digit(t[i + 2]) || !is_digit(t[i + 3]))
    return kNoMatch;
  const std::size_t wanted = static_cast<std::size_t>(iban_length(t[i], t[i + 1]));
  const std::size_t limit = wanted > 0 ? wanted : 34;
  std::string compact(t.substr(i, 4));
  std::size_t pos = i + 4;
  while (compact.size() < limit && pos < t.size()) {
    if (is_upper(t[pos]) || is_digit(t[pos])) {
      compact += t[pos++];
    } else if (t[pos] == ' ' && pos + 1 < t.size() && (is_upper(t[pos + 1]) || is_digit(t[pos + 1]))) {
      ++pos;
    } else {
      break;
    }
  }
  if (wanted > 0 ? compact.size() != wanted : compact.size() < 15) return kNoMatch;
  if (pos < t.size() && is_word(t[pos])) return kNoMatch;
  return iban_checksum_valid(compact) ? pos - i : kNoMatch;
}

// --- IP addresses ----------------------------------------------------------------------------

// Dotted quad, each octet 0-255 without leading zeros, optionally "/0".."/32".
std::size_t match_ipv4_at(std::string_view t, std::size_t i, bool check_boundary) {
  std::size_t pos = i;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos >= t.size() || t[pos] != '.') return kNoMatch;
      ++pos;
    }
    const std::size_t start = pos;
    int value = 0;
    while (pos < t.size() && is_digit(t[pos]) && pos - start < 4) value = value * 10 + digit_value(t[pos++]);
    const std::size_t length = pos - start;
    if (length == 0 || length > 3 || value > 255 || (length > 1 && t[start] == '0')) return kNoMatch;
  }
  if (pos + 1 < t.size() && t[pos] == '/' && is_digit(t[pos + 1])) {
    std::size_t end = pos + 1;
    int prefix = 0;
    while (end < t.size() && is_digit(t[end]) && end - pos <= 2) prefix = prefix * 10 + digit_value(t[end++]);
    if (prefix <= 32 && (end >= t.size() || !is_digit(t[end]))) pos = end;
  }
  if (check_boundary && !number_boundary_after(t, pos, /*allow_colon=*/true)) return kNoMatch;
  return pos - i;
}

// Cheap test before match_ipv6: a hex word of at most four digits followed by ':'.
bool ipv6_possible(std::string_view t, std::size_t i) {
  std::size_t end = i;
  while (end < t.size() && is_hex(t[end]) && end - i < 5) ++end;
  return end < t.size() && t[end] == ':';
}

bool ipv6_valid(std::string_view run) {
  bool digit_seen = false;
  for (char c : run) digit_seen = digit_seen || is_digit(c);
  if (!digit_seen) return false;  // "bad::face" is code, not an address
  const auto compressed = run.find("::");
  if (compressed != std::string_view::npos && run.find("::", compressed + 1) != std::string_view::npos) return false;
  int pieces = 0;
  int colons = 0;
  std::size_t pos = 0;
  while (pos < run.size()) {
    if (run[pos] == ':') {
      ++colons;
      ++pos;
      continue;
    }
    std::size_t end = pos;
    while (end < run.size() && run[end] != ':') ++end;
    const std::string_view piece = run.substr(pos, end - pos);
    if (piece.find('.') != std::string_view::npos) {
      // An embedded IPv4 address ends the address and counts as two pieces.
      if (end != run.size() || match_ipv4_at(piece, 0, false) != piece.size()) return false;
      pieces += 2;
    } else {
      if (piece.size() > 4) return false;
      ++pieces;
    }
    // A single ':' may not start or end the address.
    if (pos == 1 || (end + 1 == run.size() && run[end] == ':')) return false;
    pos = end;
  }
  if (colons < 2) return false;
  if (run.front() == ':' && compressed != 0) return false;
  if (run.back() == ':' && compressed + 2 != run.size()) return false;
  return compressed == std::string_view::npos ? pieces == 8 : pieces <= 7;
}

// Eight groups of 1-4 hex digits separated by ':', "::" once for a run of zero groups, an
// embedded IPv4 address last, optionally "/0".."/128"; at least one decimal digit.
std::size_t match_ipv6(std::string_view t, std::size_t i) {
  std::size_t end = i;
  while (end < t.size() && (is_hex(t[end]) || t[end] == ':' || t[end] == '.') && end - i < 46) ++end;
  // Sentence punctuation after an address is not part of it.
  while (end > i && (t[end - 1] == '.' || (t[end - 1] == ':' && !(end - i >= 2 && t[end - 2] == ':')))) --end;
  if (end - i < 2 || !ipv6_valid(t.substr(i, end - i))) return kNoMatch;
  if (end + 1 < t.size() && t[end] == '/' && is_digit(t[end + 1])) {
    std::size_t prefix_end = end + 1;
    int prefix = 0;
    while (prefix_end < t.size() && is_digit(t[prefix_end]) && prefix_end - end <= 3)
      prefix = prefix * 10 + digit_value(t[prefix_end++]);
    if (prefix <= 128 && (prefix_end >= t.size() || !is_digit(t[prefix_end]))) end = prefix_end;
  }
  if (end < t.size() && (is_word(t[end]) || t[end] == ':')) return kNoMatch;
  return end - i;
}

// --- e-mail addresses ------------------------------------------------------------------------

bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

// local@domain around the '@' at `at`: local part of [A-Za-z0-9._%+'-] (no leading, trailing
// or doubled dot, at most 64), domain of at least two dot-separated labels of [A-Za-z0-9-]
// (no leading or trailing '-'), the last one a top-level domain of two or more letters.
// Returns (start, end) or (0, 0).
std::pair<std::size_t, std::size_t> match_email(std::string_view t, std::size_t at) {
  std::size_t start = at;
  while (start > 0 && is_local_char(t[start - 1]) && at - start <= 64) --start;
  if (at - start > 64 || (start > 0 && t[start - 1] == '@')) return {0, 0};
  while (start < at && (t[start] == '.' || t[start] == '\'' || t[start] == '-')) ++start;  // prose, not address
  if (start == at || t[at - 1] == '.') return {0, 0};
  if (t.substr(start, at - start).find("..") != std::string_view::npos) return {0, 0};
  std::size_t pos = at + 1;
  std::size_t last_good_end = 0;
  int labels = 0;
  for (;;) {
    const std::size_t label_start = pos;
    while (pos < t.size() && (is_alnum(t[pos]) || t[pos] == '-') && pos - label_start < 63) ++pos;
    if (pos == label_start || t[label_start] == '-' || t[pos - 1] == '-') break;
    ++labels;
    bool top_level = pos - label_start >= 2;
    for (std::size_t k = label_start; k < pos && top_level; ++k) top_level = is_alpha(t[k]);
    if (labels >= 2 && top_level) last_good_end = pos;
    if (pos + 1 < t.size() && t[pos] == '.' && is_alnum(t[pos + 1])) {
      ++pos;
      continue;
    }
    break;
  }
  if (last_good_end == 0) return {0, 0};
  if (last_good_end < t.size() && (is_word(t[last_good_end]) || t[last_good_end] == '@')) return {0, 0};
  return {start, last_good_end};
}

// --- user patterns ---------------------------------------------------------------------------

struct CompiledPattern {
  std::string name;
  std::unique_ptr<icu::RegexPattern> regex;
};

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    if (is_lower(c)) c = static_cast<char>(c - 'a' + 'A');
  }
  return result;
}

struct Candidate {
  std::size_t start = 0;
  std::size_t end = 0;
  std::size_t priority = 0;  // lower wins ties
};

}  // namespace

const std::vector<std::string>& redaction_types() {
  static const std::vector<std::string> kTypes = {"email", "phone", "card", "ssn", "iban", "ip"};
  return kTypes;
}

std::string redaction_placeholder(std::string_view type) { return "[" + upper(type) + "]"; }

bool redaction_active(const RedactionConfig& config) { return !config.types.empty() || !config.patterns.empty(); }

struct Redactor::Impl {
  RedactionConfig config;
  std::array<bool, kDetectorCount> enabled{};
  bool any_builtin = false;
  std::vector<CompiledPattern> patterns;
  std::vector<std::string> type_of_priority;  // candidate priority -> type name
  std::vector<std::string> placeholder_of_priority;

  void find_builtins(std::string_view t, std::vector<Candidate>& out) const {
    const std::size_t base = patterns.size();
    auto add = [&](std::size_t start, std::size_t length, Detector detector) {
      if (length != kNoMatch) out.push_back({start, start + length, base + detector});
    };
    const std::size_t n = t.size();
    for (std::size_t i = 0; i < n; ++i) {
      const char c = t[i];
      if (c == '@') {
        if (enabled[kEmail]) {
          const auto [start, end] = match_email(t, i);
          if (end > start) out.push_back({start, end, base + kEmail});
        }
        continue;
      }
      // Everything else starts at the beginning of a token.
      if (i > 0 && is_word(t[i - 1])) continue;
      if (is_digit(c)) {
        if (!number_boundary_before(t, i)) continue;
        if (enabled[kSsn]) add(i, match_ssn(t, i), kSsn);
        if (enabled[kCard]) add(i, match_card(t, i), kCard);
        if (enabled[kPhone]) add(i, match_phone(t, i), kPhone);
        if (enabled[kIp]) {
          add(i, match_ipv4_at(t, i, true), kIp);
          if ((i == 0 || (t[i - 1] != ':' && t[i - 1] != '.')) && ipv6_possible(t, i)) add(i, match_ipv6(t, i), kIp);
        }
      } else if (c == '+' || c == '(') {
        if (enabled[kPhone] && i + 1 < n && (is_digit(t[i + 1]) || (c == '+' && t[i + 1] == '('))) {
          if (i == 0 || !is_alnum(t[i - 1])) add(i, match_phone(t, i), kPhone);
        }
      } else if (is_alpha(c)) {
        if (enabled[kIban] && is_upper(c)) add(i, match_iban(t, i), kIban);
        if (enabled[kIp] && is_hex(c) && (i == 0 || (t[i - 1] != ':' && t[i - 1] != '.'))) {
          if (ipv6_possible(t, i)) add(i, match_ipv6(t, i), kIp);
        }
      } else if (c == ':' && enabled[kIp] && i + 1 < n && t[i + 1] == ':' && (i == 0 || t[i - 1] != ':')) {
        add(i, match_ipv6(t, i), kIp);
      }
    }
  }

  void find_patterns(std::string_view t, std::vector<Candidate>& out) const {
    if (patterns.empty() || t.empty()) return;
    Utf8Text text(t);
    for (std::size_t p = 0; p < patterns.size(); ++p) {
      UErrorCode status = U_ZERO_ERROR;
      std::unique_ptr<icu::RegexMatcher> matcher(patterns[p].regex->matcher(status));
      RAGLINE_CHECK(U_SUCCESS(status), internal,
                    "redaction pattern " << patterns[p].name << ": " << u_errorName(status));
      matcher->reset(text.get());
      while (matcher->find(status) && U_SUCCESS(status)) {
        const auto start = matcher->start64(status);
        const auto end = matcher->end64(status);
        if (U_FAILURE(status)) break;
        if (end > start) out.push_back({static_cast<std::size_t>(start), static_cast<std::size_t>(end), p});
      }
      RAGLINE_CHECK(U_SUCCESS(status), invalid_argument,
                    "redaction pattern " << patterns[p].name << " failed: " << u_errorName(status));
    }
  }
};

Redactor::Redactor(const RedactionConfig& config) : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  const auto& types = redaction_types();
  for (const auto& type : config.types) {
    const auto found = std::find(types.begin(), types.end(), type);
    if (found == types.end()) {
      std::string known;
      for (const auto& name : types) known += (known.empty() ? "" : ", ") + name;
      RAGLINE_THROW(invalid_argument, "unknown redaction type \"" << type << "\" (known: " << known << ")");
    }
    impl_->enabled[static_cast<std::size_t>(found - types.begin())] = true;
    impl_->any_builtin = true;
  }
  std::set<std::string> names;
  for (const auto& pattern : config.patterns) {
    bool valid_name = !pattern.name.empty() && is_alpha(pattern.name[0]) && pattern.name.size() <= 64;
    for (char c : pattern.name) valid_name = valid_name && is_word(c);
    RAGLINE_CHECK(
        valid_name, invalid_argument,
        "redaction pattern name \"" << pattern.name << "\" must be a letter followed by letters, digits or '_'");
    const std::string key = upper(pattern.name);
    for (const auto& type : types) {
      RAGLINE_CHECK(key != upper(type), invalid_argument,
                    "redaction pattern name \"" << pattern.name << "\" is taken by the built-in type " << type);
    }
    RAGLINE_CHECK(names.insert(key).second, invalid_argument,
                  "redaction pattern name \"" << pattern.name << "\" is used twice (names ignore case)");
    RAGLINE_CHECK(!pattern.regex.empty(), invalid_argument, "redaction pattern " << pattern.name << " is empty");
    UParseError parse_error{};
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexPattern> compiled(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(pattern.regex), 0, parse_error, status));
    RAGLINE_CHECK(U_SUCCESS(status) && compiled, invalid_argument,
                  "redaction pattern " << pattern.name << ": invalid regular expression \"" << pattern.regex
                                       << "\": " << u_errorName(status) << " at line " << parse_error.line
                                       << ", offset " << parse_error.offset);
    impl_->patterns.push_back({pattern.name, std::move(compiled)});
    impl_->type_of_priority.push_back(pattern.name);
  }
  for (const auto& type : types) impl_->type_of_priority.push_back(type);
  for (const auto& type : impl_->type_of_priority)
    impl_->placeholder_of_priority.push_back(redaction_placeholder(type));
}

Redactor::Redactor(Redactor&&) noexcept = default;
Redactor& Redactor::operator=(Redactor&&) noexcept = default;
Redactor::~Redactor() = default;

const RedactionConfig& Redactor::config() const { return impl_->config; }

RedactedText Redactor::redact(std::string_view text) const {
  std::vector<Candidate> candidates;
  if (impl_->any_builtin) impl_->find_builtins(text, candidates);
  impl_->find_patterns(text, candidates);

  RedactedText result;
  if (candidates.empty()) {
    result.text = std::string(text);
    return result;
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    const auto length_a = a.end - a.start, length_b = b.end - b.start;
    if (length_a != length_b) return length_a > length_b;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.start < b.start;
  });
  std::map<std::size_t, Candidate> accepted;  // by start; never overlapping
  for (const auto& candidate : candidates) {
    auto next = accepted.lower_bound(candidate.start);
    if (next != accepted.end() && next->second.start < candidate.end) continue;
    if (next != accepted.begin() && std::prev(next)->second.end > candidate.start) continue;
    accepted.emplace(candidate.start, candidate);
  }
  result.text.reserve(text.size());
  std::size_t copied = 0;
  for (const auto& [start, match] : accepted) {
    const std::string& type = impl_->type_of_priority[match.priority];
    result.text.append(text.substr(copied, start - copied));
    result.text += impl_->placeholder_of_priority[match.priority];
    copied = match.end;
    ++result.counts[type];
    result.redactions.push_back({match.start, match.end, type});
  }
  result.text.append(text.substr(copied));
  return result;
}

void Redactor::redact_document(Document& document, std::map<std::string, std::size_t>& counts) const {
  auto apply = [&](std::string& value) {
    auto redacted = redact(value);
    for (const auto& [type, count] : redacted.counts) counts[type] += count;
    value = std::move(redacted.text);
    return redacted.redactions;
  };
  apply(document.title);
  const auto redactions = apply(document.text);
  for (auto& start : document.page_starts) start = redacted_offset(redactions, start);
  for (auto& [key, value] : document.metadata) {
    if (auto* text = std::get_if<std::string>(&value)) {
      apply(*text);
    } else if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (auto& item : *list) apply(item);
    }
  }
}

std::size_t redacted_offset(const std::vector<Redaction>& redactions, std::size_t offset) {
  std::ptrdiff_t shift = 0;
  for (const auto& redaction : redactions) {
    if (redaction.start >= offset) break;
    const auto placeholder = static_cast<std::ptrdiff_t>(redaction_placeholder(redaction.type).size());
    if (offset < redaction.end) return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(redaction.start) + shift);
    shift += placeholder - static_cast<std::ptrdiff_t>(redaction.end - redaction.start);
  }
  return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(offset) + shift);
}

std::string redaction_config_json(const RedactionConfig& config) {
  std::vector<std::string> types = config.types;
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  nlohmann::json patterns = nlohmann::json::array();
  for (const auto& pattern : config.patterns) patterns.push_back({{"name", pattern.name}, {"regex", pattern.regex}});
  return nlohmann::json{{"types", types}, {"patterns", patterns}}.dump();
}

RedactionConfig redaction_config_from_json(std::string_view json, std::string_view source) {
  try {
    const auto parsed = nlohmann::json::parse(json);
    RedactionConfig config;
    config.types = parsed.at("types").get<std::vector<std::string>>();
    for (const auto& pattern : parsed.at("patterns")) {
      config.patterns.push_back({pattern.at("name").get<std::string>(), pattern.at("regex").get<std::string>()});
    }
    return config;
  } catch (const nlohmann::json::exception& error) {
    RAGLINE_THROW(corrupt, "redaction config in " << source << " is not valid: " << error.what());
  }
}

}  // namespace ragline::text
