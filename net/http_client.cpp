#include "net/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "core/check.hpp"

namespace ragline::net {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kBodySnippetBytes = 300;

struct EasyCleanup {
  void operator()(CURL* easy) const noexcept { curl_easy_cleanup(easy); }
};
struct MultiCleanup {
  void operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
};
struct SlistFree {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyCleanup>;
using MultiHandle = std::unique_ptr<CURLM, MultiCleanup>;
using SlistHandle = std::unique_ptr<curl_slist, SlistFree>;

void initialize_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    RAGLINE_CHECK(rc == CURLE_OK, internal, "curl_global_init failed: " << curl_easy_strerror(rc));
  });
}

[[noreturn]] void throw_network_error(const std::string& message) { throw Error(kNetworkErrorKind, message); }

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

bool is_sensitive_header(std::string_view lower_case_name) {
  static constexpr std::array<std::string_view, 8> kSensitive = {
      "authorization", "proxy-authorization",  "api-key",        "x-api-key",
      "cookie",        "x-amz-security-token", "x-goog-api-key", "ocp-apim-subscription-key"};
  return std::find(kSensitive.begin(), kSensitive.end(), lower_case_name) != kSensitive.end();
}

// Credentials a response might echo back: whole sensitive header values, and their long
// space-separated parts (the key in "Bearer <key>").
std::vector<std::string> secrets_of(const HttpHeaders& headers) {
  std::vector<std::string> secrets;
  for (const auto& [name, value] : headers) {
    if (!is_sensitive_header(to_lower(name))) continue;
    if (!value.empty()) secrets.push_back(value);
    std::istringstream parts(value);
    for (std::string part; parts >> part;) {
      if (part.size() >= 8) secrets.push_back(part);
    }
  }
  // Longest first, so a whole value is masked before its parts.
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return secrets;
}

std::string mask_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

// Up to kBodySnippetBytes of the body on one line, cut at a UTF-8 character boundary.
std::string body_snippet(const std::string& body, const std::vector<std::string>& secrets) {
  std::string masked = mask_secrets(body, secrets);
  bool truncated = false;
  if (masked.size() > kBodySnippetBytes) {
    std::size_t cut = kBodySnippetBytes;
    while (cut > 0 && (static_cast<unsigned char>(masked[cut]) & 0xC0) == 0x80) --cut;
    masked.resize(cut);
    truncated = true;
  }
  for (auto& c : masked) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (truncated) masked += "...";
  return masked;
}

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// "<METHOD> <endpoint> failed[ after N attempts]: <curl error or HTTP status: body snippet>".
std::string failure_message(const HttpRequest& request, int attempt, CURLcode result, const char* curl_detail,
                            long status, const std::string& body) {
  std::ostringstream message;
  message << request.method << ' ' << redact_url(request.url) << " failed";
  if (attempt > 1) message << " after " << attempt << " attempts";
  if (result != CURLE_OK) {
    message << ": " << curl_easy_strerror(result);
    if (curl_detail != nullptr && curl_detail[0] != '\0') message << " (" << curl_detail << ')';
  } else {
    message << ": HTTP " << status;
    if (!body.empty()) message << ": " << body_snippet(body, secrets_of(request.headers));
  }
  return message.str();
}

bool is_retryable_status(long status) { return status == 408 || status == 429 || status >= 500; }

std::optional<double> parse_retry_after(const HttpResponse& response) {
  const auto value = response.header("retry-after");
  if (!value || value->empty()) return std::nullopt;
  // Only the delay-seconds form; an HTTP-date falls back to the computed backoff.
  if (!std::all_of(value->begin(), value->end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; })) {
    return std::nullopt;
  }
  return std::strtod(value->c_str(), nullptr);
}

double jitter_unit() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* headers = static_cast<HttpHeaders*>(user);
  const std::string_view line(data, size * count);
  // A new status line (after "100 Continue") starts a new header block.
  if (line.starts_with("HTTP/")) {
    headers->clear();
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(to_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

// One attempt of one request, owned while curl works on it.
struct Transfer {
  std::size_t index = 0;
  int attempt = 0;  // 1-based
  HttpRequest request;
  EasyHandle easy;
  SlistHandle header_list;
  HttpResponse response;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

struct Waiting {
  std::size_t index = 0;
  int attempts_done = 0;
  Clock::time_point ready_at;
};

template <typename T>
void set_option(CURL* easy, CURLoption option, T value) {
  const CURLcode rc = curl_easy_setopt(easy, option, value);
  RAGLINE_CHECK(rc == CURLE_OK, internal, "curl_easy_setopt(" << option << ") failed: " << curl_easy_strerror(rc));
}

void configure(Transfer& transfer, const HttpOptions& options) {
  CURL* easy = transfer.easy.get();
  const HttpRequest& request = transfer.request;
  set_option(easy, CURLOPT_URL, request.url.c_str());
  set_option(easy, CURLOPT_NOSIGNAL, 1L);
  set_option(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  // libcurl's defaults, set explicitly: certificates and host names are always verified.
  set_option(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  set_option(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  set_option(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(std::ceil(options.timeout_seconds * 1000)));
  set_option(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer.data());
  set_option(easy, CURLOPT_USERAGENT, "ragline/0.1");
  set_option(easy, CURLOPT_ACCEPT_ENCODING, "");
  set_option(easy, CURLOPT_WRITEFUNCTION, on_body);
  set_option(easy, CURLOPT_WRITEDATA, &transfer.response.body);
  set_option(easy, CURLOPT_HEADERFUNCTION, on_header);
  set_option(easy, CURLOPT_HEADERDATA, &transfer.response.headers);

  auto append = [&](const std::string& line) {
    // curl_slist_append returns the head of the list, or null leaving the list untouched.
    curl_slist* head = curl_slist_append(transfer.header_list.get(), line.c_str());
    RAGLINE_CHECK(head != nullptr, internal, "curl_slist_append failed");
    if (!transfer.header_list) transfer.header_list.reset(head);
  };
  for (const auto& [name, value] : request.headers) {
    // "Name;" is curl's way of sending a header with an empty value.
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  append("Expect:");
  set_option(easy, CURLOPT_HTTPHEADER, transfer.header_list.get());

  if (request.method == "GET" && request.body.empty()) {
    set_option(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set_option(easy, CURLOPT_NOBODY, 1L);
  } else {
    set_option(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set_option(easy, CURLOPT_POSTFIELDS, request.body.data());
    if (request.method != "POST") set_option(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

// The multi handle and its transfers; removes every transfer from the multi handle before
// either is freed, also when an error unwinds the batch.
class Session {
 public:
  Session() : multi_(curl_multi_init()) { RAGLINE_CHECK(multi_ != nullptr, internal, "curl_multi_init failed"); }
  ~Session() {
    for (auto& [easy, transfer] : running_) curl_multi_remove_handle(multi_.get(), easy);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CURLM* multi() const { return multi_.get(); }
  std::size_t running() const { return running_.size(); }

  void add(std::unique_ptr<Transfer> transfer) {
    CURL* easy = transfer->easy.get();
    const CURLMcode rc = curl_multi_add_handle(multi_.get(), easy);
    RAGLINE_CHECK(rc == CURLM_OK, internal, "curl_multi_add_handle failed: " << curl_multi_strerror(rc));
    running_.emplace(easy, std::move(transfer));
  }

  std::unique_ptr<Transfer> take(CURL* easy) {
    const auto found = running_.find(easy);
    RAGLINE_CHECK(found != running_.end(), internal, "curl reported a transfer it was not given");
    auto transfer = std::move(found->second);
    running_.erase(found);
    curl_multi_remove_handle(multi_.get(), easy);
    return transfer;
  }

 private:
  // Declared first so that it is destroyed last: transfers go before the multi handle.
  MultiHandle multi_;
  std::map<CURL*, std::unique_ptr<Transfer>> running_;
};

void check_options(const HttpOptions& options) {
  RAGLINE_CHECK(options.max_in_flight >= 1, invalid_argument,
                "HTTP max_in_flight must be at least 1, got " << options.max_in_flight);
  RAGLINE_CHECK(options.timeout_seconds > 0, invalid_argument,
                "HTTP timeout_seconds must be positive, got " << options.timeout_seconds);
  RAGLINE_CHECK(options.max_retries >= 0, invalid_argument,
                "HTTP max_retries must not be negative, got " << options.max_retries);
  RAGLINE_CHECK(options.backoff_base_seconds >= 0 && options.backoff_cap_seconds >= 0, invalid_argument,
                "HTTP backoff delays must not be negative");
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return std::nullopt;
}

double retry_delay_seconds(const HttpOptions& options, int retry, std::optional<double> retry_after_seconds,
                           double jitter) {
  if (retry_after_seconds) return std::clamp(*retry_after_seconds, 0.0, options.max_retry_after_seconds);
  const double exponential = options.backoff_base_seconds * std::pow(2.0, std::max(0, retry - 1));
  const double ceiling = std::min(options.backoff_cap_seconds, exponential);
  // "Equal jitter": spreads clients apart while never retrying immediately.
  return ceiling / 2 + std::clamp(jitter, 0.0, 1.0) * ceiling / 2;
}

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  const std::size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  auto path_end = url.find_first_of("?#", authority_end);
  if (path_end == std::string_view::npos) path_end = url.size();
  std::string redacted(url.substr(0, authority_start));
  redacted += authority;
  redacted += url.substr(authority_end, path_end - authority_end);
  return redacted;
}

std::string uri_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded.push_back(c);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[byte >> 4]);
      encoded.push_back(kHex[byte & 0xf]);
    }
  }
  return encoded;
}

std::vector<HttpResponse> perform_http_requests(std::vector<HttpRequest> requests, const HttpOptions& options) {
  check_options(options);
  initialize_curl_once();
  std::vector<HttpResponse> responses(requests.size());
  std::deque<Waiting> waiting;
  for (std::size_t index = 0; index < requests.size(); ++index) waiting.push_back({index, 0, Clock::now()});

  Session session;
  auto start = [&](const Waiting& next) {
    auto transfer = std::make_unique<Transfer>();
    transfer->index = next.index;
    transfer->attempt = next.attempts_done + 1;
    transfer->request = requests[next.index];
    if (transfer->request.before_attempt) transfer->request.before_attempt(transfer->request);
    transfer->easy.reset(curl_easy_init());
    RAGLINE_CHECK(transfer->easy != nullptr, internal, "curl_easy_init failed");
    configure(*transfer, options);
    session.add(std::move(transfer));
  };

  auto finish = [&](CURL* easy, CURLcode result) {
    auto transfer = session.take(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    transfer->response.status = status;
    if (result == CURLE_OK && status >= 200 && status < 300) {
      responses[transfer->index] = std::move(transfer->response);
      return;
    }
    const bool retryable = result != CURLE_OK ? is_transient(result) : is_retryable_status(status);
    if (retryable && transfer->attempt <= options.max_retries) {
      const auto retry_after = result == CURLE_OK ? parse_retry_after(transfer->response) : std::nullopt;
      const double delay = retry_delay_seconds(options, transfer->attempt, retry_after, jitter_unit());
      waiting.push_back(
          {transfer->index, transfer->attempt,
           Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay))});
      return;
    }
    throw_network_error(failure_message(transfer->request, transfer->attempt, result, transfer->error_buffer.data(),
                                        status, transfer->response.body));
  };

  while (!waiting.empty() || session.running() > 0) {
    const auto now = Clock::now();
    for (auto next = waiting.begin();
         next != waiting.end() && session.running() < static_cast<std::size_t>(options.max_in_flight);) {
      if (next->ready_at <= now) {
        start(*next);
        next = waiting.erase(next);
      } else {
        ++next;
      }
    }

    int still_running = 0;
    const CURLMcode rc = curl_multi_perform(session.multi(), &still_running);
    RAGLINE_CHECK(rc == CURLM_OK, internal, "curl_multi_perform failed: " << curl_multi_strerror(rc));
    int messages_left = 0;
    while (CURLMsg* message = curl_multi_info_read(session.multi(), &messages_left)) {
      if (message->msg == CURLMSG_DONE) finish(message->easy_handle, message->data.result);
    }

    if (waiting.empty() && session.running() == 0) break;
    // Wake for socket activity, curl's own timers, or the next retry coming due.
    int wait_ms = 1000;
    if (session.running() < static_cast<std::size_t>(options.max_in_flight)) {
      for (const auto& next : waiting) {
        const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(next.ready_at - Clock::now()).count();
        wait_ms = std::clamp(static_cast<int>(until), 0, wait_ms);
      }
    }
    if (wait_ms > 0 || session.running() > 0) {
      const CURLMcode poll_rc = curl_multi_poll(session.multi(), nullptr, 0, wait_ms, nullptr);
      RAGLINE_CHECK(poll_rc == CURLM_OK, internal, "curl_multi_poll failed: " << curl_multi_strerror(poll_rc));
    }
  }
  return responses;
}

HttpResponse perform_http_request(HttpRequest request, const HttpOptions& options) {
  std::vector<HttpRequest> batch;
  batch.push_back(std::move(request));
  return std::move(perform_http_requests(std::move(batch), options).front());
}

}  // namespace ragline::net

namespace ragline::net {
namespace {

// The state of one streamed attempt, shared with curl's callbacks.
struct StreamAttempt {
  CURL* easy = nullptr;
  const std::function<void(std::string_view)>* on_data = nullptr;
  HttpHeaders headers;
  std::string error_body;  // the body of a non-2xx answer, for the message; never delivered
  std::size_t delivered = 0;
  std::exception_ptr callback_error;
  Clock::time_point last_byte;
  double idle_timeout_seconds = 0;
  bool idle_timed_out = false;
};

std::size_t on_stream_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<StreamAttempt*>(user);
  const std::size_t bytes = size * count;
  attempt->last_byte = Clock::now();
  long status = 0;
  curl_easy_getinfo(attempt->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    if (attempt->error_body.size() < 64 * 1024) attempt->error_body.append(data, bytes);
    return bytes;
  }
  try {
    // Counted before the call: bytes handed over are delivered even when the consumer throws.
    attempt->delivered += bytes;
    (*attempt->on_data)(std::string_view(data, bytes));
  } catch (...) {
    // Exceptions must not cross curl's C frames: park it, abort the transfer, rethrow later.
    attempt->callback_error = std::current_exception();
    return CURL_WRITEFUNC_ERROR;
  }
  return bytes;
}

int on_stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* attempt = static_cast<StreamAttempt*>(user);
  if (attempt->idle_timeout_seconds <= 0) return 0;
  const double idle = std::chrono::duration<double>(Clock::now() - attempt->last_byte).count();
  if (idle < attempt->idle_timeout_seconds) return 0;
  attempt->idle_timed_out = true;
  return 1;
}

}  // namespace

HttpResponse perform_http_stream(HttpRequest request, const HttpOptions& options,
                                 const std::function<void(std::string_view)>& on_data) {
  check_options(options);
  RAGLINE_CHECK(options.idle_timeout_seconds >= 0, invalid_argument,
                "HTTP idle_timeout_seconds must not be negative, got " << options.idle_timeout_seconds);
  initialize_curl_once();
  for (int attempt_number = 1;; ++attempt_number) {
    Transfer transfer;
    transfer.attempt = attempt_number;
    transfer.request = request;
    if (transfer.request.before_attempt) transfer.request.before_attempt(transfer.request);
    transfer.easy.reset(curl_easy_init());
    RAGLINE_CHECK(transfer.easy != nullptr, internal, "curl_easy_init failed");
    configure(transfer, options);

    StreamAttempt attempt;
    attempt.easy = transfer.easy.get();
    attempt.on_data = &on_data;
    attempt.last_byte = Clock::now();
    attempt.idle_timeout_seconds = options.idle_timeout_seconds;
    CURL* easy = transfer.easy.get();
    set_option(easy, CURLOPT_WRITEFUNCTION, on_stream_body);
    set_option(easy, CURLOPT_WRITEDATA, &attempt);
    set_option(easy, CURLOPT_HEADERDATA, &attempt.headers);
    set_option(easy, CURLOPT_XFERINFOFUNCTION, on_stream_progress);
    set_option(easy, CURLOPT_XFERINFODATA, &attempt);
    set_option(easy, CURLOPT_NOPROGRESS, 0L);
    // Compressed event streams would be buffered by the decoder: ask for identity.
    set_option(easy, CURLOPT_ACCEPT_ENCODING, static_cast<const char*>(nullptr));

    CURLcode result = curl_easy_perform(easy);
    if (attempt.callback_error) std::rethrow_exception(attempt.callback_error);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (result == CURLE_OK && status >= 200 && status < 300) {
      HttpResponse response;
      response.status = status;
      response.headers = std::move(attempt.headers);
      return response;
    }
    std::string detail = transfer.error_buffer.data();
    if (attempt.idle_timed_out) {
      result = CURLE_OPERATION_TIMEDOUT;
      std::ostringstream idle;
      idle << "no data for " << options.idle_timeout_seconds << " s";
      detail = idle.str();
    }
    if (attempt.delivered > 0) {
      // Part of the answer is already with the consumer: a retry would repeat it.
      std::ostringstream message;
      message << failure_message(transfer.request, attempt_number, result, detail.c_str(), status, attempt.error_body)
              << " (the stream broke after " << attempt.delivered << " bytes; not retried)";
      throw_network_error(message.str());
    }
    const bool retryable = result != CURLE_OK ? is_transient(result) : is_retryable_status(status);
    if (!retryable || attempt_number > options.max_retries) {
      throw_network_error(
          failure_message(transfer.request, attempt_number, result, detail.c_str(), status, attempt.error_body));
    }
    HttpResponse failed;
    failed.headers = std::move(attempt.headers);
    const auto retry_after = result == CURLE_OK ? parse_retry_after(failed) : std::nullopt;
    std::this_thread::sleep_for(
        std::chrono::duration<double>(retry_delay_seconds(options, attempt_number, retry_after, jitter_unit())));
  }
}

}  // namespace ragline::net
