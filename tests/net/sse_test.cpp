#include "net/sse.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "ragline/error.hpp"

namespace ragline::net {
namespace {

std::vector<SseEvent> parse_in_pieces(std::string_view stream, const std::vector<std::size_t>& cuts,
                                      bool* clean = nullptr) {
  SseParser parser;
  std::vector<SseEvent> events;
  const auto collect = [&](const SseEvent& event) { events.push_back(event); };
  std::size_t start = 0;
  for (const std::size_t cut : cuts) {
    parser.feed(stream.substr(start, cut - start), collect);
    start = cut;
  }
  parser.feed(stream.substr(start), collect);
  const bool ended_cleanly = parser.finish(collect);
  if (clean != nullptr) *clean = ended_cleanly;
  return events;
}

constexpr std::string_view kStream =
    ": keep-alive comment\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "event: update\n"
    "id: 7\n"
    "data: line one\n"
    "data:line two\n"
    "\n"
    "data\r"
    "\r"
    "retry: 100\n"
    "event: empty-is-dropped\n"
    "\n"
    "data: [DONE]\n"
    "\n";

void expect_reference_events(const std::vector<SseEvent>& events) {
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[1].event, "update");
  EXPECT_EQ(events[1].id, "7");
  EXPECT_EQ(events[1].data, "line one\nline two");
  EXPECT_EQ(events[2].data, "");  // "data" with no colon is a data line with an empty value
  EXPECT_EQ(events[2].id, "7");   // the last event id persists
  EXPECT_EQ(events[3].data, "[DONE]");
}

// Comments, CRLF/LF/CR line ends, multi-line data, ids, events without data and [DONE] as plain data.
TEST(SseParser, ParsesEveryLineForm) {
  bool clean = false;
  expect_reference_events(parse_in_pieces(kStream, {}, &clean));
  EXPECT_TRUE(clean);
}

// The same events come out whichever single byte position the stream is split at.
TEST(SseParser, SplitAtEveryBytePosition) {
  for (std::size_t cut = 0; cut <= kStream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_reference_events(parse_in_pieces(kStream, {cut}));
  }
}

// Fed one byte at a time (every CR/LF pair split), the result is the same.
TEST(SseParser, OneByteAtATime) {
  std::vector<std::size_t> cuts;
  for (std::size_t cut = 1; cut < kStream.size(); ++cut) cuts.push_back(cut);
  expect_reference_events(parse_in_pieces(kStream, cuts));
}

// Random cuts into many pieces (a seeded fuzz run): always the reference events.
TEST(SseParser, RandomSplits) {
  std::mt19937 generator(20261122);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    const int pieces = std::uniform_int_distribution<int>(1, 12)(generator);
    for (int piece = 0; piece < pieces; ++piece) {
      cuts.push_back(std::uniform_int_distribution<std::size_t>(0, kStream.size())(generator));
    }
    std::sort(cuts.begin(), cuts.end());
    expect_reference_events(parse_in_pieces(kStream, cuts));
  }
}

// An event not closed by an empty line is discarded at the end and finish() reports the unclean end.
TEST(SseParser, UnterminatedEventAtEnd) {
  bool clean = true;
  const auto events = parse_in_pieces("data: one\n\ndata: partial", {}, &clean);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "one");
  EXPECT_FALSE(clean);
}

// A line longer than the limit is a format error, not unbounded growth.
TEST(SseParser, OverlongLineIsRefused) {
  SseParser parser(64);
  const auto ignore = [](const SseEvent&) {};
  parser.feed(std::string(60, 'x'), ignore);
  try {
    parser.feed(std::string(10, 'x'), ignore);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::format);
    EXPECT_NE(std::string(error.what()).find("longer than 64"), std::string::npos);
  }
}

}  // namespace
}  // namespace ragline::net
