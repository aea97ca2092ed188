// Status helpers shared by every layer: abseil 20220623 ships no RETURN_IF_ERROR /
// ASSIGN_OR_RETURN.
//
// Thread safety: macros only; no state.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HY_CONCAT_INNER_(a, b) a##b
#define HY_CONCAT_(a, b) HY_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define HY_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status hy_status_ = (expr);      \
    if (!hy_status_.ok()) return hy_status_; \
  } while (0)

// `HY_ASSIGN_OR_RETURN(auto x, MakeX());` declares or assigns `x` from a StatusOr, or returns its
// error.
#define HY_ASSIGN_OR_RETURN(lhs, expr) \
  HY_ASSIGN_OR_RETURN_IMPL_(HY_CONCAT_(hy_statusor_, __LINE__), lhs, expr)
#define HY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

// Broken invariant inside the program (never for outside input): print and abort.
#define HY_CHECK(cond)                                                                 \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: HY_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
