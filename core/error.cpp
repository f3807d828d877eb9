#include "ragline/error.hpp"

namespace ragline {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_argument:
      return "invalid argument";
    case ErrorKind::not_found:
      return "not found";
    case ErrorKind::io:
      return "I/O error";
    case ErrorKind::database:
      return "database error";
    case ErrorKind::corrupt:
      return "corrupt data";
    case ErrorKind::format:
      return "format error";
    case ErrorKind::busy:
      return "busy";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::internal:
      return "internal error";
    case ErrorKind::network:
      return "network error";
  }
  return "error";
}

Error::Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}

}  // namespace ragline
