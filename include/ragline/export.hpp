#pragma once
// RAGLINE_API marks what the shared library (libragline.so) exports. The library is compiled with
// hidden visibility, so only the public API is part of its ABI; the static library ignores it.

#if defined(_WIN32)
#define RAGLINE_API
#else
#define RAGLINE_API __attribute__((visibility("default")))
#endif
