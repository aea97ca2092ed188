#include "tools/hymba/cli_args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hymba::tools {

absl::StatusOr<CliArgs> CliArgs::Parse(const std::vector<std::string>& argv,
                                       const std::set<std::string>& bool_flags) {
  CliArgs args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0)
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'"));
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (bool_flags.count(name)) {
      value = "true";
    } else {
      if (i + 1 >= argv.size())
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      value = argv[++i];
    }
    args.values_[name] = value;
  }
  return args;
}

bool CliArgs::Has(const std::string& name) { return values_.count(name) > 0; }

absl::StatusOr<std::string> CliArgs::String(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end())
    return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  used_.insert(name);
  return it->second;
}

std::string CliArgs::StringOr(const std::string& name, const std::string& fallback) {
  auto v = String(name);
  return v.ok() ? *v : fallback;
}

absl::StatusOr<int> CliArgs::IntOr(const std::string& name, int fallback) {
  if (!Has(name)) return fallback;
  int v;
  if (!absl::SimpleAtoi(*String(name), &v))
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not an integer"));
  return v;
}

absl::StatusOr<double> CliArgs::DoubleOr(const std::string& name, double fallback) {
  if (!Has(name)) return fallback;
  double v;
  if (!absl::SimpleAtod(*String(name), &v))
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not a number"));
  return v;
}

bool CliArgs::Flag(const std::string& name) {
  if (!Has(name)) return false;
  return *String(name) != "false";
}

absl::StatusOr<std::vector<int>> CliArgs::IntList(const std::string& name) {
  auto text = String(name);
  if (!text.ok()) return text.status();
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(*text, ',', absl::SkipWhitespace())) {
    int v;
    if (!absl::SimpleAtoi(part, &v))
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", part, "' is not an integer"));
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": empty list"));
  return out;
}

absl::Status CliArgs::Finish() const {
  for (const auto& [name, value] : values_)
    if (!used_.count(name))
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
  return absl::OkStatus();
}

}  // namespace hymba::tools
