#pragma once
// A small HTTP client over libcurl's multi interface, shared by every model service client
// (embedders, rerankers, chat): a batch of requests runs concurrently, each with a timeout, and
// transient failures are retried with exponential backoff and jitter.
//
// Thread safety: perform_http_requests may be called from several threads at once; each call
// owns its curl handles. curl_global_init runs once per process (std::call_once).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ragline/error.hpp"

namespace ragline::net {

// The kind of every HTTP and transport failure that survives the retries.
inline constexpr ErrorKind kNetworkErrorKind = ErrorKind::network;

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";  // GET, POST, PUT, DELETE...; a GET sends no body
  std::string url;
  HttpHeaders headers;  // sent as given; "Expect:" is suppressed so bodies go out at once
  std::string body;
  // Called on a fresh copy of this request before every attempt, the first included (e.g. to
  // add a SigV4 signature with the attempt's own timestamp). May throw; the error propagates.
  std::function<void(HttpRequest&)> before_attempt;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lower-cased, values trimmed, in the order received
  std::string body;

  // The first value of a header (name in lower case), or nullopt.
  std::optional<std::string> header(std::string_view lower_case_name) const;
};

struct HttpOptions {
  int max_in_flight = 4;        // requests on the wire at once
  double timeout_seconds = 60;  // per attempt, connection included
  // Retries after the first attempt for 408, 429, 5xx, timeouts and connection failures. Other
  // statuses (4xx, 3xx: redirects are not followed) fail at once.
  int max_retries = 5;
  // Backoff before retry n (1-based): uniform in [d/2, d] with d = min(cap, base * 2^(n-1)),
  // unless the response carried Retry-After (seconds), which is used instead (up to
  // max_retry_after_seconds).
  double backoff_base_seconds = 0.5;
  double backoff_cap_seconds = 20;
  double max_retry_after_seconds = 120;
  // perform_http_stream only: abort an attempt when no byte has arrived for this long (0: no
  // idle limit; timeout_seconds still bounds the whole attempt). Checked about once a second.
  double idle_timeout_seconds = 0;
};

// Performs every request, at most options.max_in_flight at once, and returns one 2xx response
// per request in request order. Throws Error(kNetworkErrorKind) as soon as one request fails
// for good (the others are abandoned): the message names the method, the endpoint URL (without
// user info, query or fragment), the HTTP status or curl error, the number of attempts and up
// to ~300 bytes of the response body. Header values (Authorization, api-key...) never appear:
// a body echoing a credential header has it masked. Throws invalid_argument for bad options.
std::vector<HttpResponse> perform_http_requests(std::vector<HttpRequest> requests, const HttpOptions& options);

// One request; same contract.
HttpResponse perform_http_request(HttpRequest request, const HttpOptions& options);

// One request whose response body is handed to on_data piece by piece as it arrives (for
// server-sent events and other streams); returns the status and headers (body empty). Same
// timeouts, retries and messages as perform_http_request, except that an attempt is retried
// only while nothing has been delivered: once on_data has seen a byte, a failure throws
// Error(kNetworkErrorKind) saying how many bytes came before the break. The body of a non-2xx
// answer is never delivered (it goes into the message). An exception thrown by on_data aborts
// the transfer and propagates unchanged, without a retry.
HttpResponse perform_http_stream(HttpRequest request, const HttpOptions& options,
                                 const std::function<void(std::string_view)>& on_data);

// The delay before retry `retry` (1-based) as documented in HttpOptions; jitter_unit in [0, 1]
// picks the point in the jitter interval. Exposed for tests.
double retry_delay_seconds(const HttpOptions& options, int retry, std::optional<double> retry_after_seconds,
                           double jitter_unit);

// The URL as it may appear in messages and logs: scheme, host, port and path only.
std::string redact_url(std::string_view url);

// RFC 3986 percent-encoding of every byte except the unreserved A-Z a-z 0-9 - . _ ~ (upper-case
// hex). Used for URL path segments such as Bedrock model ids.
std::string uri_encode(std::string_view text);

}  // namespace ragline::net
