#pragma once
// A UTF-8 UText over borrowed bytes, for ICU's break iterators and regular expressions: ICU
// reports native indexes, which for a UTF-8 UText are byte offsets, so no UTF-16 offset mapping
// is needed.

#include <unicode/utext.h>

#include <cstdint>
#include <string_view>

#include "core/check.hpp"

namespace ragline::text {

class Utf8Text {
 public:
  explicit Utf8Text(std::string_view utf8) {
    UErrorCode status = U_ZERO_ERROR;
    utext_openUTF8(&text_, utf8.data(), static_cast<std::int64_t>(utf8.size()), &status);
    RAGLINE_CHECK(U_SUCCESS(status), internal, "utext_openUTF8 failed: " << u_errorName(status));
  }
  ~Utf8Text() { utext_close(&text_); }
  Utf8Text(const Utf8Text&) = delete;
  Utf8Text& operator=(const Utf8Text&) = delete;
  UText* get() { return &text_; }

 private:
  UText text_ = UTEXT_INITIALIZER;
};

}  // namespace ragline::text
