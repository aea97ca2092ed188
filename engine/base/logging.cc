#include "engine/base/logging.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace hymba {

absl::Status ConfigureLogging(const std::string& format, const std::string& level) {
  const spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return absl::InvalidArgumentError(absl::StrCat("log level '", level, "' is not known"));
  if (format == "text") {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  } else if (format == "json") {
    // Messages are plain text without quotes by convention; the logger name carries the layer.
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log format '", format, "': expected text or json"));
  }
  spdlog::set_level(lvl);
  return absl::OkStatus();
}

}  // namespace hymba
