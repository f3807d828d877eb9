#pragma once

// Attributes that make GCC vectorise a hot per-row loop: -O3's vectoriser for one function
// (RAGLINE_O3), plus a clone per instruction set chosen when the program loads
// (RAGLINE_VECTOR_LOOP; RAGLINE_FAST_RANGE_LOOP also lets a min/max reduction ignore NaNs and the
// sign of zero). Both degrade to plain functions where they cannot work: clang has no optimize
// attribute (the fuzz build), and ThreadSanitizer instruments the ifunc resolvers that
// target_clones creates, which run before its runtime is up (the program crashed while loading).
#if defined(__clang__)
#define RAGLINE_O3
#define RAGLINE_VECTOR_LOOP
#define RAGLINE_FAST_RANGE_LOOP
#elif defined(__SANITIZE_THREAD__)
#define RAGLINE_O3 __attribute__((optimize("O3")))
#define RAGLINE_VECTOR_LOOP __attribute__((optimize("O3")))
#define RAGLINE_FAST_RANGE_LOOP __attribute__((optimize("O3", "finite-math-only", "no-signed-zeros")))
#else
#define RAGLINE_O3 __attribute__((optimize("O3")))
#define RAGLINE_VECTOR_LOOP __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
#define RAGLINE_FAST_RANGE_LOOP \
  __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3", "finite-math-only", "no-signed-zeros")))
#endif
