#include "net/url.hpp"

namespace ragline::net {
namespace {

// Where the path of `url` ends: at its query string, its fragment or its end. '?' and '#' cannot
// appear unencoded before the path (RFC 3986: not in scheme, user info or host).
std::size_t path_end(std::string_view url) {
  const auto end = url.find_first_of("?#");
  return end == std::string_view::npos ? url.size() : end;
}

std::string_view without_trailing_slashes(std::string_view text) {
  while (text.ends_with('/')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string join_url(std::string_view base, std::string_view path) {
  const std::size_t base_path_end = path_end(base);
  std::string joined(without_trailing_slashes(base.substr(0, base_path_end)));
  const std::string_view base_rest = base.substr(base_path_end);  // "", "?q", "?q#f" or "#f"
  const std::size_t fragment_start = base_rest.find('#');
  const std::string_view base_query =
      fragment_start == std::string_view::npos ? base_rest : base_rest.substr(0, fragment_start);
  const std::string_view fragment =
      fragment_start == std::string_view::npos ? std::string_view{} : base_rest.substr(fragment_start);

  const std::size_t path_query_start = path.find('?');
  const std::string_view path_only = path.substr(0, path_query_start);
  const std::string_view path_query =
      path_query_start == std::string_view::npos ? std::string_view{} : path.substr(path_query_start + 1);
  if (!path_only.empty() && !path_only.starts_with('/')) joined += '/';
  joined += path_only;

  joined += base_query;  // empty or starting with '?'
  if (!path_query.empty()) {
    if (base_query.empty()) {
      joined += '?';
    } else if (base_query.size() > 1) {
      joined += '&';  // a bare '?' needs no separator
    }
    joined += path_query;
  }
  joined += fragment;
  return joined;
}

bool url_path_ends_with(std::string_view url, std::string_view suffix) {
  return without_trailing_slashes(url.substr(0, path_end(url))).ends_with(suffix);
}

std::string join_versioned_url(std::string_view base, std::string_view version, std::string_view path) {
  if (url_path_ends_with(base, version)) return join_url(base, path);
  return join_url(base, std::string(version) + std::string(path));
}

}  // namespace ragline::net
