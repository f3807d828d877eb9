#include "net/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <ctime>
#include <map>
#include <vector>

#include "core/check.hpp"
#include "core/hash.hpp"

namespace ragline::net {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest.data(), &length);
  RAGLINE_CHECK(result != nullptr, internal, "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    text.push_back(kHex[byte >> 4]);
    text.push_back(kHex[byte & 0xf]);
  }
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

struct UrlParts {
  std::string scheme;
  std::string host;  // as sent in the Host header
  std::string path;
  std::string query;
};

UrlParts split_url(std::string_view url) {
  UrlParts parts;
  const auto scheme_end = url.find("://");
  RAGLINE_CHECK(scheme_end != std::string_view::npos, invalid_argument,
                "cannot sign a URL without a scheme: " << redact_url(url));
  parts.scheme = to_lower(url.substr(0, scheme_end));
  const std::size_t authority_start = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  // curl leaves the scheme's default port out of the Host header.
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos && authority.back() != ']') {
    const std::string_view port = authority.substr(colon + 1);
    if ((parts.scheme == "https" && port == "443") || (parts.scheme == "http" && port == "80") || port.empty()) {
      authority = authority.substr(0, colon);
    }
  }
  parts.host = to_lower(authority);
  auto path_end = url.find_first_of("?#", authority_end);
  if (path_end == std::string_view::npos) path_end = url.size();
  parts.path = std::string(url.substr(authority_end, path_end - authority_end));
  if (path_end < url.size() && url[path_end] == '?') {
    auto query_end = url.find('#', path_end);
    if (query_end == std::string_view::npos) query_end = url.size();
    parts.query = std::string(url.substr(path_end + 1, query_end - path_end - 1));
  }
  return parts;
}

// RFC 3986 dot-segment removal and empty-segment removal, then each segment encoded.
std::string canonical_uri(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  const bool trailing_slash =
      !segments.empty() && (path.ends_with('/') || path.ends_with("/.") || path.ends_with("/.."));
  std::string canonical;
  for (const auto segment : segments) {
    canonical += '/';
    canonical += uri_encode(segment);
  }
  if (canonical.empty() || trailing_slash) canonical += '/';
  return canonical;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> parameters;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view parameter = query.substr(start, end - start);
    if (!parameter.empty()) {
      const auto equals = parameter.find('=');
      const std::string_view name = parameter.substr(0, equals);
      const std::string_view value =
          equals == std::string_view::npos ? std::string_view() : parameter.substr(equals + 1);
      parameters.emplace_back(uri_encode(percent_decode(name)), uri_encode(percent_decode(value)));
    }
    start = end + 1;
  }
  std::sort(parameters.begin(), parameters.end());
  std::string canonical;
  for (const auto& [name, value] : parameters) {
    if (!canonical.empty()) canonical += '&';
    canonical += name + '=' + value;
  }
  return canonical;
}

// Trimmed, with each run of spaces and tabs collapsed to one space.
std::string canonical_header_value(std::string_view value) {
  std::string canonical;
  bool in_space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      in_space = true;
      continue;
    }
    if (in_space && !canonical.empty()) canonical += ' ';
    in_space = false;
    canonical += c;
  }
  return canonical;
}

bool is_signer_header(std::string_view lower_case_name) {
  return lower_case_name == "authorization" || lower_case_name == "x-amz-date" ||
         lower_case_name == "x-amz-security-token" || lower_case_name == "x-amz-content-sha256";
}

std::string format_time(std::chrono::system_clock::time_point time, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> text{};
  const std::size_t length = std::strftime(text.data(), text.size(), format, &utc);
  return std::string(text.data(), length);
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

AwsCredentials credentials_from_environment() {
  AwsCredentials credentials{environment("AWS_ACCESS_KEY_ID"), environment("AWS_SECRET_ACCESS_KEY"),
                             environment("AWS_SESSION_TOKEN")};
  std::string missing;
  if (credentials.access_key_id.empty()) missing = "AWS_ACCESS_KEY_ID";
  if (credentials.secret_access_key.empty())
    missing += missing.empty() ? "AWS_SECRET_ACCESS_KEY" : " and AWS_SECRET_ACCESS_KEY";
  RAGLINE_CHECK(missing.empty(), invalid_argument,
                "AWS credentials not found: set "
                    << missing << " in the environment (and AWS_SESSION_TOKEN for temporary credentials)");
  return credentials;
}

SigV4Signature sigv4_sign(std::string_view method, std::string_view url, const HttpHeaders& headers,
                          std::string_view payload, const SigV4Scope& scope, const AwsCredentials& credentials,
                          std::chrono::system_clock::time_point time, bool add_content_sha256) {
  RAGLINE_CHECK(!scope.region.empty() && !scope.service.empty(), invalid_argument,
                "SigV4 signing needs a region and a service name");
  RAGLINE_CHECK(!credentials.access_key_id.empty() && !credentials.secret_access_key.empty(), invalid_argument,
                "SigV4 signing needs an access key id and a secret access key");
  const UrlParts parts = split_url(url);
  const std::string amz_date = format_time(time, "%Y%m%dT%H%M%SZ");
  const std::string date = amz_date.substr(0, 8);
  const std::string payload_hash = core::sha256_hex(payload);

  SigV4Signature result;
  result.headers.emplace_back("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty())
    result.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  if (add_content_sha256) result.headers.emplace_back("x-amz-content-sha256", payload_hash);

  // Values of repeated names are joined with commas, in the order given.
  std::map<std::string, std::string> canonical_headers;
  auto add_header = [&](const std::string& name, std::string_view value) {
    auto [entry, inserted] = canonical_headers.try_emplace(name, canonical_header_value(value));
    if (!inserted) entry->second += "," + canonical_header_value(value);
  };
  for (const auto& [name, value] : headers) {
    const std::string lower = to_lower(name);
    if (!is_signer_header(lower)) add_header(lower, value);
  }
  if (!canonical_headers.contains("host")) add_header("host", parts.host);
  for (const auto& [name, value] : result.headers) add_header(to_lower(name), value);

  std::string canonical_header_block;
  std::string signed_headers;
  for (const auto& [name, value] : canonical_headers) {
    canonical_header_block += name + ':' + value + '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }

  result.canonical_request = std::string(method) + '\n' + canonical_uri(parts.path) + '\n' +
                             canonical_query(parts.query) + '\n' + canonical_header_block + '\n' + signed_headers +
                             '\n' + payload_hash;
  const std::string credential_scope = date + '/' + scope.region + '/' + scope.service + "/aws4_request";
  result.string_to_sign = std::string(kAlgorithm) + '\n' + amz_date + '\n' + credential_scope + '\n' +
                          core::sha256_hex(result.canonical_request);

  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, scope.region);
  key = hmac_sha256(key, scope.service);
  key = hmac_sha256(key, "aws4_request");
  result.signature = hex(hmac_sha256(key, result.string_to_sign));

  result.headers.emplace(result.headers.begin(), "Authorization",
                         std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + '/' + credential_scope +
                             ", SignedHeaders=" + signed_headers + ", Signature=" + result.signature);
  return result;
}

void sigv4_sign_request(HttpRequest& request, const SigV4Scope& scope, const AwsCredentials& credentials,
                        std::chrono::system_clock::time_point time, bool add_content_sha256) {
  std::erase_if(request.headers, [](const auto& header) { return is_signer_header(to_lower(header.first)); });
  SigV4Signature signature = sigv4_sign(request.method, request.url, request.headers, request.body, scope, credentials,
                                        time, add_content_sha256);
  for (auto& header : signature.headers) request.headers.push_back(std::move(header));
}

}  // namespace ragline::net
