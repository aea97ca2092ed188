#include "tools/hymba/length_distribution.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hymba::tools {
namespace {

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "': ", why, " (expected N, LO:HI or normal:MEAN,STDDEV)"));
}

}  // namespace

absl::StatusOr<LengthDistribution> LengthDistribution::Parse(absl::string_view text) {
  constexpr absl::string_view kNormal = "normal:";
  if (absl::StartsWith(text, kNormal)) {
    std::vector<absl::string_view> parts = absl::StrSplit(text.substr(kNormal.size()), ',');
    double mean, stddev;
    if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &mean) ||
        !absl::SimpleAtod(parts[1], &stddev) || !std::isfinite(mean) || !std::isfinite(stddev))
      return Malformed(text, "not two numbers after 'normal:'");
    if (mean < 1 || stddev < 0) return Malformed(text, "needs mean >= 1 and stddev >= 0");
    return LengthDistribution(Kind::kNormal, mean, stddev);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() > 2) return Malformed(text, "too many ':'");
  int lo, hi;
  if (!absl::SimpleAtoi(parts[0], &lo) || !absl::SimpleAtoi(parts.back(), &hi))
    return Malformed(text, "not an integer");
  if (lo < 1 || hi < lo) return Malformed(text, "needs 1 <= LO <= HI");
  if (parts.size() == 1) return LengthDistribution(Kind::kFixed, lo, lo);
  return LengthDistribution(Kind::kUniform, lo, hi);
}

int LengthDistribution::Sample(std::mt19937_64& rng) const {
  switch (kind_) {
    case Kind::kFixed:
      return static_cast<int>(a_);
    case Kind::kUniform:
      return std::uniform_int_distribution<int>(static_cast<int>(a_), static_cast<int>(b_))(rng);
    case Kind::kNormal: {
      if (b_ == 0) return static_cast<int>(std::round(a_));  // normal_distribution needs b_ > 0
      const double x = std::round(std::normal_distribution<double>(a_, b_)(rng));
      return static_cast<int>(std::clamp(x, 1.0, 1e9));
    }
  }
  return 1;
}

double LengthDistribution::mean() const { return kind_ == Kind::kUniform ? (a_ + b_) / 2 : a_; }

std::string LengthDistribution::ToString() const {
  switch (kind_) {
    case Kind::kFixed:
      return absl::StrCat(static_cast<int>(a_));
    case Kind::kUniform:
      return absl::StrCat(static_cast<int>(a_), ":", static_cast<int>(b_));
    case Kind::kNormal:
      return absl::StrCat("normal:", a_, ",", b_);
  }
  return "";
}

}  // namespace hymba::tools
