#include "net/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "support/http_test_server.hpp"
#include "support/test_support.hpp"
#include "support/test_support.hpp"

namespace ragline::net {
namespace {

using testing::HttpTestServer;
using testing::RecordedRequest;
using testing::TestResponse;

HttpOptions fast_options() {
  HttpOptions options;
  options.max_in_flight = 2;
  options.timeout_seconds = 5;
  options.max_retries = 2;
  options.backoff_base_seconds = 0.01;
  options.backoff_cap_seconds = 0.05;
  return options;
}

std::string message_of(const std::function<void()>& action) {
  return ragline::testing::error_message_of(action, kNetworkErrorKind);
}

// Backoff doubles from the base, is capped, keeps half its value as a floor, and defers to Retry-After.
TEST(HttpClient, RetryDelays) {
  HttpOptions options;
  options.backoff_base_seconds = 0.5;
  options.backoff_cap_seconds = 20;
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 1, std::nullopt, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 1, std::nullopt, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 3, std::nullopt, 1.0), 2.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 10, std::nullopt, 1.0), 20.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 10, std::nullopt, 0.0), 10.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 4, 7.0, 0.3), 7.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(options, 4, 1e6, 0.3), options.max_retry_after_seconds);
}

// Messages show scheme, host, port and path only.
TEST(HttpClient, RedactUrl) {
  EXPECT_EQ(redact_url("https://user:pw@api.example.com:8443/v1/x?key=secret#frag"),
            "https://api.example.com:8443/v1/x");
  EXPECT_EQ(redact_url("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
  EXPECT_EQ(uri_encode("amazon.titan-embed-text-v2:0 é/"), "amazon.titan-embed-text-v2%3A0%20%C3%A9%2F");
}

// Methods, headers and bodies reach the server; responses come back in request order with lower-cased headers.
TEST(HttpClient, BatchKeepsOrderAndCarriesRequests) {
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    return TestResponse{
        200, {{"X-Echo-Method", request.method}}, request.method + " " + request.target + " " + request.body};
  });
  std::vector<HttpRequest> requests;
  for (int i = 0; i < 5; ++i) {
    HttpRequest request;
    request.method = i == 0 ? "GET" : (i == 1 ? "PUT" : "POST");
    request.url = server.url() + "/item/" + std::to_string(i) + "?q=" + std::to_string(i);
    request.headers = {{"X-Test", "value " + std::to_string(i)}};
    if (request.method != "GET") request.body = "body" + std::to_string(i);
    requests.push_back(request);
  }
  const auto responses = perform_http_requests(requests, fast_options());
  ASSERT_EQ(responses.size(), 5u);
  EXPECT_EQ(responses[0].body, "GET /item/0?q=0 ");
  EXPECT_EQ(responses[1].body, "PUT /item/1?q=1 body1");
  EXPECT_EQ(responses[4].body, "POST /item/4?q=4 body4");
  EXPECT_EQ(responses[1].header("x-echo-method"), "PUT");
  EXPECT_EQ(responses[1].status, 200);
  const auto received = server.requests();
  ASSERT_EQ(received.size(), 5u);
  for (const auto& request : received) {
    EXPECT_TRUE(request.header("x-test").has_value());
    EXPECT_FALSE(request.header("expect").has_value());
  }
  EXPECT_LE(server.peak_concurrency(), 2u);
}

// before_attempt runs on a fresh copy for every attempt, and a 503 with Retry-After: 0 is retried.
TEST(HttpClient, HookRunsBeforeEveryAttempt) {
  HttpTestServer server([](const RecordedRequest&, std::size_t sequence) {
    if (sequence < 2) return TestResponse{503, {{"Retry-After", "0"}}, "busy", {}};
    return TestResponse{200, {}, "ok", {}};
  });
  std::atomic<int> attempts = 0;
  HttpRequest request;
  request.url = server.url() + "/hook";
  request.before_attempt = [&attempts](HttpRequest& attempt) {
    attempt.headers.emplace_back("X-Attempt", std::to_string(++attempts));
  };
  EXPECT_EQ(perform_http_request(request, fast_options()).body, "ok");
  const auto received = server.requests();
  ASSERT_EQ(received.size(), 3u);
  for (std::size_t i = 0; i < received.size(); ++i) {
    EXPECT_EQ(received[i].header("x-attempt"), std::to_string(i + 1));
  }
}

// Nothing listening: the connection failure is retried, then reported with the endpoint.
TEST(HttpClient, ConnectionRefusedIsRetriedThenReported) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::unused_local_port()) + "/v1/x";
  HttpRequest request;
  request.url = url + "?token=hidden";
  const std::string message = message_of([&] { perform_http_request(request, fast_options()); });
  EXPECT_NE(message.find("POST " + url + " failed after 3 attempts"), std::string::npos) << message;
  EXPECT_EQ(message.find("hidden"), std::string::npos) << message;
}

// A long error body is cut to a snippet on one line; credentials the server echoes are masked.
TEST(HttpClient, ErrorBodySnippetIsTruncatedAndMasked) {
  const std::string key = "sk-test-0123456789abcdef";
  HttpTestServer server([](const RecordedRequest& request, std::size_t) {
    return TestResponse{
        401, {}, "bad key\n" + request.header("authorization").value_or("") + " " + std::string(1000, 'x'), {}};
  });
  HttpRequest request;
  request.url = server.url() + "/v1/x";
  request.headers = {{"Authorization", "Bearer " + key}};
  const std::string message = message_of([&] { perform_http_request(request, fast_options()); });
  EXPECT_NE(message.find("HTTP 401: bad key ***"), std::string::npos) << message;
  EXPECT_EQ(message.find(key), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_LT(message.size(), 450u);
  EXPECT_EQ(server.requests().size(), 1u);  // 401 is not retried
}

}  // namespace
}  // namespace ragline::net
