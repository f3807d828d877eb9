#pragma once
// Joining a service's base URL (as a user configures it) with the route a client calls, so that
// every model service client (chat, embedders, rerankers, Bedrock) builds its endpoint one way.
//
// A base URL may carry a query string (Azure's `?api-version=...`, a proxy's `?key=...`) and,
// rarely, a fragment; both stay at the end, after the joined path, where URL syntax
// (RFC 3986 section 3) puts them: `http://h/v1?key=Q` + `/chat/completions` is
// `http://h/v1/chat/completions?key=Q`. Pure string functions; no I/O, thread-safe.

#include <string>
#include <string_view>

namespace ragline::net {

// `base` with `path` appended to its path: the base's trailing slashes are dropped, `path` gets a
// leading '/' when it has none, and the base's query string and fragment follow the joined path.
// A query in `path` itself ("/search?x=1") is merged after the base's ("?key=Q&x=1"). An empty
// `path` gives `base` without the trailing slashes of its path.
std::string join_url(std::string_view base, std::string_view path);

// True when the path of `url` (without its query string, fragment and trailing slashes) ends with
// `suffix` ("/v1", "/rerank"). `suffix` should start with '/', so that it matches whole segments.
bool url_path_ends_with(std::string_view url, std::string_view suffix);

// The versioned route of an API whose base URL may or may not name the version already:
// join_url(base, version + path), or join_url(base, path) when the base's path ends with
// `version`. OpenAI-compatible services: join_versioned_url("http://h:8080", "/v1", "/embeddings")
// and join_versioned_url("http://h:8080/v1/", "/v1", "/embeddings") are both
// http://h:8080/v1/embeddings.
std::string join_versioned_url(std::string_view base, std::string_view version, std::string_view path);

}  // namespace ragline::net
