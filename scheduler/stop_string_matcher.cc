#include "scheduler/stop_string_matcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace hymba::scheduler {

absl::Status StopStringMatcher::Validate(const std::vector<std::string>& stops) {
  if (stops.size() > kMaxStopStrings)
    return absl::InvalidArgumentError(
        absl::StrCat("stop: ", stops.size(), " stop strings, at most ", kMaxStopStrings));
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) return absl::InvalidArgumentError(absl::StrCat("stop[", i, "]: empty"));
    if (stops[i].size() > kMaxStopLength)
      return absl::InvalidArgumentError(
          absl::StrCat("stop[", i, "]: ", stops[i].size(), " bytes, at most ", kMaxStopLength));
  }
  return absl::OkStatus();
}

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

const std::string& StopStringMatcher::matched_string() const {
  static const std::string kNone;
  return matched_ >= 0 ? stops_[matched_] : kNone;
}

std::string StopStringMatcher::Push(absl::string_view delta) {
  if (matched()) return "";
  pending_.append(delta.data(), delta.size());
  // The earliest complete match wins (ties: the stop string listed first).
  size_t best = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t at = pending_.find(stops_[i]);
    if (at != std::string::npos && at < best) {
      best = at;
      matched_ = static_cast<int>(i);
    }
  }
  if (matched()) {
    std::string out = pending_.substr(0, best);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix of pending_ that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, pending_.size());
    for (size_t len = max_len; len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopStringMatcher::Flush() {
  if (matched()) return "";
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace hymba::scheduler
