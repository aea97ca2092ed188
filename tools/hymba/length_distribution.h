// LengthDistribution: a token count drawn per request, as `hymba loadgen` takes it for
// --prompt-len and --output-len:
//   "128"           always 128
//   "64:256"        uniform integers in [64, 256], both ends included
//   "normal:128,32" normal with mean 128 and standard deviation 32, rounded, clipped to >= 1
//
// Errors: Parse returns InvalidArgument for malformed text or a count below 1.
// Thread safety: immutable after Parse; Sample is const and draws only from the caller's rng.
#pragma once

#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hymba::tools {

class LengthDistribution {
 public:
  static absl::StatusOr<LengthDistribution> Parse(absl::string_view text);
  // Always `count`. REQUIRES: count >= 1.
  explicit LengthDistribution(int count) : LengthDistribution(Kind::kFixed, count, count) {}

  // A count >= 1. The same rng state gives the same count.
  int Sample(std::mt19937_64& rng) const;
  // The expected count before clipping (the midpoint for a uniform range).
  double mean() const;
  // The canonical text form, e.g. "64:256".
  std::string ToString() const;

 private:
  enum class Kind { kFixed, kUniform, kNormal };
  LengthDistribution(Kind kind, double a, double b) : kind_(kind), a_(a), b_(b) {}

  Kind kind_;
  double a_;  // kFixed: the count; kUniform: the low end; kNormal: the mean
  double b_;  // kUniform: the high end; kNormal: the standard deviation
};

}  // namespace hymba::tools
