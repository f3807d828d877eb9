#include "text/redact.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ragline/error.hpp"

namespace ragline::text {
namespace {

RedactionConfig only(std::vector<std::string> types) {
  RedactionConfig config;
  config.types = std::move(types);
  return config;
}

std::string redact(const std::string& text, const RedactionConfig& config = {}) {
  return Redactor(config).redact(text).text;
}

// Each input alone, padded with prose, must become exactly the placeholder.
void expect_redacted(const RedactionConfig& config, const std::vector<std::string>& inputs,
                     const std::string& placeholder) {
  for (const auto& input : inputs) {
    EXPECT_EQ(redact("see " + input + " now", config), "see " + placeholder + " now") << input;
  }
}

void expect_untouched(const RedactionConfig& config, const std::vector<std::string>& inputs) {
  for (const auto& input : inputs) {
    const std::string text = "see " + input + " now";
    EXPECT_EQ(redact(text, config), text) << input;
  }
}

TEST(Redact, EmailTruePositives) {
  // Common address shapes, sub-domains, plus tags and apostrophes become [EMAIL].
  expect_redacted(only({"email"}),
                  {"john.doe@example.com", "a+tag@sub.example.co.uk", "o'brien@example.ie",
                   "x_y%z@mail-server.example.org", "UPPER@EXAMPLE.COM", "a@b.io"},
                  "[EMAIL]");
  // Sentence punctuation and brackets around an address stay.
  EXPECT_EQ(redact("Write to a@b.io.", only({"email"})), "Write to [EMAIL].");
  EXPECT_EQ(redact("<mailto:jane@example.org>", only({"email"})), "<mailto:[EMAIL]>");
  EXPECT_EQ(redact("(jane@example.org)", only({"email"})), "([EMAIL])");
  EXPECT_EQ(redact("Ünïcode jane@example.org é", only({"email"})), "Ünïcode [EMAIL] é");
}

TEST(Redact, EmailFalsePositives) {
  // Handles, hosts without a domain, numeric or one-letter TLDs and malformed local parts are kept.
  expect_untouched(only({"email"}), {"@handle", "user@localhost", "a@b.c", "foo@bar.123", "a..b@example.com",
                                     "first.@example.com", "user@-bad.com", "user@bad-.com", "@", "a@", "x@@y.com"});
}

TEST(Redact, PhoneTruePositives) {
  // International (+CC), North American and trunk-prefixed national formats with separators.
  expect_redacted(only({"phone"}),
                  {"+44 20 7946 0958", "+1 (415) 555-2671", "+14155552671", "(415) 555-2671", "(415)555-2671",
                   "415-555-2671", "415.555.2671", "1-800-555-0199", "020 7946 0958", "030 1234567", "030-1234567",
                   "01 23 45 67 89", "+33 1 23 45 67 89", "+49 30 1234567", "+44 (0)20 7946 0958", "0044 20 7946 0958"},
                  "[PHONE]");
}

TEST(Redact, PhoneFalsePositives) {
  // Dates, versions, plain ids, numbers side by side, ISBNs, times and local 7-digit numbers.
  expect_untouched(only({"phone"}),
                   {"2024-01-15", "15.01.2024", "01.02.2024", "01-02-2024", "1.2.3", "10.0.19045.2965", "v2.10.3",
                    "0.9.12", "123456789012", "0123456789", "256 512 1024", "0-306-40615-2", "978-3-16-148410-0",
                    "12:30:45", "1,000,000", "555-1234", "123-456-7890", "+0 123 456 789", "+12"});
}

TEST(Redact, CardLuhn) {
  // 13-19 digits, grouped by spaces or dashes, Luhn-valid: valid numbers go, a changed digit stays.
  expect_redacted(only({"card"}),
                  {"4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004",
                   "3782 822463 10005", "6011111111111117", "4222222222222"},
                  "[CARD]");
  expect_untouched(only({"card"}), {"4111 1111 1111 1112", "4111111111111112", "5500 0000 0000 0005",
                                    "41111111111111111111",      // 20 digits: an id
                                    "4111-1111-1111-1111-1111",  // a longer dashed number
                                    "4111 1111-1111 1111",       // mixed separators
                                    "1111111111111117",          // not a card network's first digit
                                    "v4111111111111111", "4111111111111111x"});
  // A space-separated card followed by an unrelated number keeps the number.
  EXPECT_EQ(redact("4111 1111 1111 1111 20 times", only({"card"})), "[CARD] 20 times");
  EXPECT_EQ(redact("4111 1111 1111 1111 2024-01-15", only({"card"})), "[CARD] 2024-01-15");
}

TEST(Redact, SsnRanges) {
  // AAA-GG-SSSS; the never-issued areas, groups and serials are not SSNs.
  expect_redacted(only({"ssn"}), {"123-45-6789", "078-05-1120", "899-99-9999", "665-01-0001"}, "[SSN]");
  expect_untouched(only({"ssn"}),
                   {"000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000",
                    "123456789", "123 45 6789", "12-123-45-6789", "123-45-67890", "x123-45-6789"});
}

TEST(Redact, IbanChecksum) {
  // Published example IBANs, printed or compact, pass mod 97; one changed character fails.
  expect_redacted(only({"iban"}),
                  {"DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32",
                   "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300",
                   "NL91 ABNA 0417 1643 00", "BE68 5390 0754 7034", "CH93 0076 2011 6238 5295 7"},
                  "[IBAN]");
  expect_untouched(only({"iban"}), {"DE88 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 33", "NL91ABNA0417164301",
                                    "DE89 3704 0044 0532 0130",  // too short for DE
                                    "de89370400440532013000", "XDE89370400440532013000"});
  // A number after an IBAN of known length is not swallowed.
  EXPECT_EQ(redact("DE89 3704 0044 0532 0130 00 2024", only({"iban"})), "[IBAN] 2024");
}

TEST(Redact, Ipv4) {
  // Dotted quads with octets up to 255, with a prefix length or before a port.
  expect_redacted(only({"ip"}), {"192.168.1.10", "0.0.0.0", "255.255.255.255", "10.1.2.0/24"}, "[IP]");
  EXPECT_EQ(redact("connect to 10.0.0.1:8080.", only({"ip"})), "connect to [IP]:8080.");
  expect_untouched(only({"ip"}), {"256.1.1.1", "192.168.1.256", "1.2.3", "1.2.3.4.5", "v1.2.3.4", "192.168.01.1",
                                  "1.2.3.4a", "300.300.300.300"});
}

TEST(Redact, Ipv6) {
  // Full, compressed, loopback, IPv4-mapped and prefixed IPv6 addresses; not times, MACs or code.
  expect_redacted(only({"ip"}),
                  {"2001:db8::1", "fe80::1ff:fe23:4567:890a", "::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
                   "::ffff:192.0.2.128", "2001:db8::/32", "2001:DB8::8:800:200C:417A"},
                  "[IP]");
  EXPECT_EQ(redact("at fe80::1.", only({"ip"})), "at [IP].");
  expect_untouched(only({"ip"}), {"12:30:45", "std::vector", "bad::face", "00:1A:2B:3C:4D:5E", "a:b", "1::2::3",
                                  "1:2:3:4:5:6:7:8:9", "12345::1", "::"});
}

TEST(Redact, UserPatternsAndPriority) {
  // A user regex becomes [NAME]; it wins a tie with a built-in, the longest candidate wins otherwise.
  RedactionConfig config;
  config.patterns = {{"EmpId", "EMP-\\d{5}"}, {"MAILX", "[a-z]+@example\\.com"}};
  EXPECT_EQ(redact("badge EMP-12345, mail joe@example.com or ann@other.org", config),
            "badge [EMPID], mail [MAILX] or [EMAIL]");
  // The e-mail address is longer than the phone number inside its local part.
  EXPECT_EQ(redact("x 415-555-2671@example.com y"), "x [EMAIL] y");
  // A longer user match swallows a built-in one.
  config.patterns = {{"ACCOUNT", "account [0-9-]+"}};
  EXPECT_EQ(redact("account 123-45-6789-000 and 123-45-6789", config), "[ACCOUNT] and [SSN]");
  // Non-ASCII text around a user pattern keeps byte offsets right.
  config.patterns = {{"NAME", "Zoë"}};
  EXPECT_EQ(redact("ünï Zoë ünï", config), "ünï [NAME] ünï");
}

TEST(Redact, BadConfigsAreNamed) {
  // Bad regexes name the pattern and ICU's error with its offset; bad names and types are refused.
  RedactionConfig config;
  config.patterns = {{"BROKEN", "abc(def"}};
  try {
    Redactor redactor(config);
    FAIL() << "a bad regex was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(message.find("BROKEN"), std::string::npos) << message;
    EXPECT_NE(message.find("abc(def"), std::string::npos) << message;
    EXPECT_NE(message.find("U_REGEX_"), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
  }
  auto refused = [](RedactionConfig bad) {
    try {
      Redactor redactor(bad);
    } catch (const Error& error) {
      return error.kind() == ErrorKind::invalid_argument;
    }
    return false;
  };
  EXPECT_TRUE(refused(only({"email", "passport"})));
  EXPECT_TRUE(refused(RedactionConfig{{}, {{"1BAD", "x"}}}));
  EXPECT_TRUE(refused(RedactionConfig{{}, {{"has space", "x"}}}));
  EXPECT_TRUE(refused(RedactionConfig{{}, {{"Email", "x"}}}));
  EXPECT_TRUE(refused(RedactionConfig{{}, {{"A", "x"}, {"a", "y"}}}));
  EXPECT_TRUE(refused(RedactionConfig{{}, {{"EMPTY", ""}}}));
}

TEST(Redact, CountsAndOffsets) {
  // Counts per type, and each redaction's range holds the original match in input order.
  const std::string text =
      "Mail a@b.io, b@c.io; call +44 20 7946 0958; card 4111 1111 1111 1111; ssn 123-45-6789; "
      "iban DE89370400440532013000; host 10.0.0.1 and ::1.";
  const auto result = Redactor(RedactionConfig{}).redact(text);
  EXPECT_EQ(result.text,
            "Mail [EMAIL], [EMAIL]; call [PHONE]; card [CARD]; ssn [SSN]; iban [IBAN]; host [IP] and [IP].");
  const std::map<std::string, std::size_t> expected = {{"email", 2}, {"phone", 1}, {"card", 1},
                                                       {"ssn", 1},   {"iban", 1},  {"ip", 2}};
  EXPECT_EQ(result.counts, expected);
  ASSERT_EQ(result.redactions.size(), 8u);
  EXPECT_EQ(text.substr(result.redactions[0].start, result.redactions[0].end - result.redactions[0].start), "a@b.io");
  EXPECT_EQ(text.substr(result.redactions[7].start, result.redactions[7].end - result.redactions[7].start), "::1");
  for (std::size_t i = 1; i < result.redactions.size(); ++i) {
    EXPECT_LE(result.redactions[i - 1].end, result.redactions[i].start);
  }
  // Offsets map into the redacted text: before, inside and after a match.
  const auto ssn = std::find_if(result.redactions.begin(), result.redactions.end(),
                                [](const Redaction& r) { return r.type == "ssn"; });
  const std::size_t ssn_out = redacted_offset(result.redactions, ssn->start);
  EXPECT_EQ(result.text.substr(ssn_out, 5), "[SSN]");
  EXPECT_EQ(redacted_offset(result.redactions, ssn->start + 3), ssn_out);
  EXPECT_EQ(result.text.substr(redacted_offset(result.redactions, ssn->end), 7), "; iban ");
  EXPECT_EQ(redacted_offset(result.redactions, 0), 0u);
  EXPECT_EQ(redacted_offset(result.redactions, text.size()), result.text.size());
  // Nothing to redact: the text as is, no counts.
  const auto clean = Redactor(RedactionConfig{}).redact("Nothing personal here, version 1.2.3 of 2024-01-15.");
  EXPECT_EQ(clean.text, "Nothing personal here, version 1.2.3 of 2024-01-15.");
  EXPECT_TRUE(clean.counts.empty());
}

TEST(Redact, SelectedTypesOnly) {
  // Only the configured detectors run; an empty config changes nothing.
  const std::string text = "a@b.io 415-555-2671 123-45-6789";
  EXPECT_EQ(redact(text, only({"ssn"})), "a@b.io 415-555-2671 [SSN]");
  EXPECT_EQ(redact(text, only({"email", "phone"})), "[EMAIL] [PHONE] 123-45-6789");
  EXPECT_EQ(redact(text, only({})), text);
  EXPECT_FALSE(redaction_active(only({})));
  EXPECT_TRUE(redaction_active(RedactionConfig{}));
}

TEST(Redact, Document) {
  // Title, text, string metadata (lists too) are redacted; page starts follow the text.
  Document document;
  document.title = "Notes for a@b.io";
  document.text = "Page one: call 415-555-2671.\n\nPage two: 10.0.0.1";
  document.page_starts = {document.text.find("Page two")};
  document.metadata["owner"] = std::string("jane@example.org");
  document.metadata["contacts"] = std::vector<std::string>{"x@y.io", "plain"};
  document.metadata["year"] = 2024.0;
  std::map<std::string, std::size_t> counts;
  Redactor(RedactionConfig{}).redact_document(document, counts);
  EXPECT_EQ(document.title, "Notes for [EMAIL]");
  EXPECT_EQ(document.text, "Page one: call [PHONE].\n\nPage two: [IP]");
  ASSERT_EQ(document.page_starts.size(), 1u);
  EXPECT_EQ(document.text.substr(document.page_starts[0], 8), "Page two");
  EXPECT_EQ(std::get<std::string>(document.metadata["owner"]), "[EMAIL]");
  EXPECT_EQ(std::get<std::vector<std::string>>(document.metadata["contacts"]),
            (std::vector<std::string>{"[EMAIL]", "plain"}));
  const std::map<std::string, std::size_t> expected = {{"email", 3}, {"phone", 1}, {"ip", 1}};
  EXPECT_EQ(counts, expected);
}

TEST(Redact, ConfigJsonIsCanonical) {
  // Types are sorted and deduplicated, patterns keep their order, and JSON reads back.
  RedactionConfig config;
  config.types = {"phone", "email", "phone"};
  config.patterns = {{"Z", "z+"}, {"A", "a\"b"}};
  const std::string json = redaction_config_json(config);
  EXPECT_EQ(json, R"({"patterns":[{"name":"Z","regex":"z+"},{"name":"A","regex":"a\"b"}],"types":["email","phone"]})");
  const auto back = redaction_config_from_json(json, "test");
  EXPECT_EQ(back.types, (std::vector<std::string>{"email", "phone"}));
  EXPECT_EQ(back.patterns, config.patterns);
  EXPECT_EQ(redaction_config_json(back), json);
  EXPECT_THROW(redaction_config_from_json("{\"types\": 3}", "test"), Error);
  EXPECT_THROW(redaction_config_from_json("not json", "test"), Error);
}

TEST(Redact, LargeTextMatchesPieceByPiece) {
  // Redacting a long text equals redacting its lines one by one (no state leaks between matches).
  std::string text;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string line = "row " + std::to_string(i) + " user" + std::to_string(i) +
                             "@example.com 2024-01-15 v1.2.3 id 123456789012 ip 10.0.0." + std::to_string(i % 256) +
                             " card 4111 1111 1111 1111\n";
    text += line;
    expected += redact(line);
  }
  const auto result = Redactor(RedactionConfig{}).redact(text);
  EXPECT_EQ(result.text, expected);
  EXPECT_EQ(result.counts.at("email"), 2000u);
  EXPECT_EQ(result.counts.at("ip"), 2000u);
  EXPECT_EQ(result.counts.at("card"), 2000u);
  EXPECT_EQ(result.counts.size(), 3u);
}

TEST(Redact, RandomTextKeepsInvariants) {
  // Random text over the characters the detectors care about (and some UTF-8): every redaction
  // lies inside the input, they are ordered and disjoint, the output is the input with each
  // range replaced by its placeholder, and counts add up. Truncated matches at the very end of
  // the text are the case this looks for.
  const std::vector<std::string> pieces = {"0", "1",    "2",        "4",        "5",    "9",       "+",        "-",
                                           ".", "(",    ")",        " ",        ":",    "::",      "@",        "a",
                                           "f", "x",    "DE",       "GB",       "/",    ",",       "_",        "\n",
                                           "é", "4111", "192.168.", "ab@cd.io", "+44 ", "123-45-", "DE89 3704"};
  std::mt19937 random(7);
  const Redactor redactor{RedactionConfig{}};
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const std::size_t length = random() % 40;
    for (std::size_t k = 0; k < length; ++k) text += pieces[random() % pieces.size()];
    const auto result = redactor.redact(text);
    std::string rebuilt;
    std::size_t copied = 0, total = 0;
    for (const auto& redaction : result.redactions) {
      ASSERT_LE(copied, redaction.start) << text;
      ASSERT_LT(redaction.start, redaction.end) << text;
      ASSERT_LE(redaction.end, text.size()) << text;
      rebuilt += text.substr(copied, redaction.start - copied) + redaction_placeholder(redaction.type);
      copied = redaction.end;
    }
    rebuilt += text.substr(copied);
    EXPECT_EQ(result.text, rebuilt) << text;
    for (const auto& [type, count] : result.counts) total += count;
    EXPECT_EQ(total, result.redactions.size()) << text;
  }
}

}  // namespace
}  // namespace ragline::text
