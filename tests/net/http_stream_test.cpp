#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/http_client.hpp"
#include "support/http_test_server.hpp"
#include "support/test_support.hpp"

namespace ragline::net {
namespace {

using namespace std::chrono_literals;
using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::TestChunk;
using testing::TestResponse;

HttpOptions fast_options() {
  HttpOptions options;
  options.timeout_seconds = 5;
  options.max_retries = 2;
  options.backoff_base_seconds = 0.01;
  options.backoff_cap_seconds = 0.05;
  return options;
}

HttpRequest post_to(const HttpTestServer& server) {
  HttpRequest request;
  request.url = server.url() + "/stream";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-secret-key-123"}};
  request.body = "{}";
  return request;
}

std::string message_of(const std::function<void()>& action) {
  return ragline::testing::error_message_of(action, kNetworkErrorKind);
}

// Pieces sent with pauses between them reach on_data in order, as several calls, and the headers come back.
TEST(HttpStream, DeliversPiecesInOrder) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.headers = {{"Content-Type", "text/event-stream"}};
    for (int piece = 0; piece < 5; ++piece) response.chunks.push_back({20ms, "piece" + std::to_string(piece) + ";"});
    return response;
  });
  std::vector<std::string> received;
  const auto response = perform_http_stream(post_to(server), fast_options(),
                                            [&](std::string_view bytes) { received.emplace_back(bytes); });
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type").value_or(""), "text/event-stream");
  std::string joined;
  for (const auto& piece : received) joined += piece;
  EXPECT_EQ(joined, "piece0;piece1;piece2;piece3;piece4;");
  EXPECT_GE(received.size(), 2u);  // the pauses make curl hand the pieces over separately
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].body, "{}");
}

// A 503 before any byte is retried; the error body of the 503 never reaches on_data.
TEST(HttpStream, RetriesBeforeTheFirstByte) {
  HttpTestServer server([](const RecordedRequest&, std::size_t sequence) {
    if (sequence == 0) return TestResponse{503, {}, "overloaded", {}};
    TestResponse response;
    response.chunks = {{0ms, "ok"}};
    return response;
  });
  std::string received;
  perform_http_stream(post_to(server), fast_options(), [&](std::string_view bytes) { received += bytes; });
  EXPECT_EQ(received, "ok");
  EXPECT_EQ(server.requests().size(), 2u);
}

// A connection dropped after bytes were delivered is an error, not a retry that would repeat them.
TEST(HttpStream, NoRetryAfterBytesWereDelivered) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, "data: partial\n\n"}, {30ms, "data: more"}};
    response.abort_stream = true;
    return response;
  });
  std::string received;
  const std::string message = message_of(
      [&] { perform_http_stream(post_to(server), fast_options(), [&](std::string_view b) { received += b; }); });
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_NE(message.find("POST " + server.url() + "/stream failed"), std::string::npos) << message;
  EXPECT_NE(message.find("not retried"), std::string::npos) << message;
  EXPECT_EQ(received.substr(0, 15), "data: partial\n\n");
}

// A final 4xx names the status and body, masks the key, and is not retried.
TEST(HttpStream, ClientErrorIsReportedWithStatus) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    return TestResponse{401, {}, "{\"error\":\"bad key sk-secret-key-123\"}", {}};
  });
  bool delivered = false;
  const std::string message = message_of(
      [&] { perform_http_stream(post_to(server), fast_options(), [&](std::string_view) { delivered = true; }); });
  EXPECT_FALSE(delivered);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_NE(message.find("HTTP 401"), std::string::npos) << message;
  EXPECT_EQ(message.find("sk-secret-key-123"), std::string::npos) << message;
}

// A stream that goes silent longer than the idle timeout fails (after its retries, as nothing came).
TEST(HttpStream, IdleTimeout) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{3000ms, "late"}};
    return response;
  });
  HttpOptions options = fast_options();
  options.max_retries = 1;
  options.idle_timeout_seconds = 0.3;
  const std::string message =
      message_of([&] { perform_http_stream(post_to(server), options, [](std::string_view) {}); });
  EXPECT_NE(message.find("after 2 attempts"), std::string::npos) << message;
  EXPECT_NE(message.find("no data for 0.3 s"), std::string::npos) << message;
}

// The total timeout bounds a slow answer too.
TEST(HttpStream, TotalTimeout) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) { return TestResponse{200, {}, "x", 3000ms}; });
  HttpOptions options = fast_options();
  options.max_retries = 0;
  options.timeout_seconds = 0.3;
  const std::string message =
      message_of([&] { perform_http_stream(post_to(server), options, [](std::string_view) {}); });
  EXPECT_NE(message.find("imeout"), std::string::npos) << message;
}

// An exception thrown by the consumer aborts the transfer and comes out unchanged, without a retry.
TEST(HttpStream, ConsumerExceptionPropagates) {
  HttpTestServer server([](const RecordedRequest&, std::size_t) {
    TestResponse response;
    response.chunks = {{0ms, "garbage"}, {20ms, "more"}};
    return response;
  });
  try {
    perform_http_stream(post_to(server), fast_options(),
                        [](std::string_view) { throw Error(ErrorKind::format, "consumer refused"); });
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::format);
    EXPECT_STREQ(error.what(), "consumer refused");
  }
  EXPECT_EQ(server.requests().size(), 1u);
}

}  // namespace
}  // namespace ragline::net
