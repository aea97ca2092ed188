// Process-wide log set-up. Every layer logs through spdlog in its .cc files only, with a named
// logger per layer (Logger("engine"), Logger("scheduler"), ...); this header keeps spdlog out of
// every other header.
//
// Errors: ConfigureLogging returns InvalidArgument naming the bad format or level.
// Thread safety: ConfigureLogging once at start-up, before other threads log.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace hymba {

// format: "text" or "json" (one JSON object per line); level: trace|debug|info|warn|error|off.
absl::Status ConfigureLogging(const std::string& format, const std::string& level);

}  // namespace hymba
