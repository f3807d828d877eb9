#pragma once
// Check macros that throw ragline::Error with context. The message is built with operator<<,
// so any streamable value can be named: RAGLINE_CHECK(n > 0, invalid_argument, "bad n " << n).

#include <sstream>

#include "ragline/error.hpp"

#define RAGLINE_THROW(kind, message_stream)                      \
  do {                                                           \
    std::ostringstream ragline_message_;                         \
    ragline_message_ << message_stream;                          \
    throw ::ragline::Error(::ragline::ErrorKind::kind, ragline_message_.str()); \
  } while (false)

#define RAGLINE_CHECK(condition, kind, message_stream) \
  do {                                                 \
    if (!(condition)) RAGLINE_THROW(kind, message_stream); \
  } while (false)
