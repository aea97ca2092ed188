// CliArgs: `--name value` and `--flag` options of one `hymba` sub-command.
//
// Errors: accessors return InvalidArgument naming the option for a missing or malformed value;
// Finish() reports options that no accessor asked for.
// Thread safety: not thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hymba::tools {

class CliArgs {
 public:
  // `argv` holds the options after the sub-command name. Options in `bool_flags` take no value.
  static absl::StatusOr<CliArgs> Parse(const std::vector<std::string>& argv,
                                       const std::set<std::string>& bool_flags);

  bool Has(const std::string& name);
  absl::StatusOr<std::string> String(const std::string& name);
  std::string StringOr(const std::string& name, const std::string& fallback);
  absl::StatusOr<int> IntOr(const std::string& name, int fallback);
  absl::StatusOr<double> DoubleOr(const std::string& name, double fallback);
  bool Flag(const std::string& name);
  // Comma-separated integers, e.g. "1,5,9".
  absl::StatusOr<std::vector<int>> IntList(const std::string& name);
  // InvalidArgument naming the first option nobody read.
  absl::Status Finish() const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

}  // namespace hymba::tools
