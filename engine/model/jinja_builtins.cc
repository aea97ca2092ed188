#include "engine/model/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"

namespace hymba::engine {
namespace {

using Type = JinjaValue::Type;

constexpr char kWhitespace[] = " \t\n\r\f\v";
constexpr int64_t kMaxRange = 1 << 20;  // range() beyond this is a template bug, not a prompt

absl::Status Bad(absl::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

// Python's str.strip / lstrip / rstrip; `chars` (when a string) replaces the whitespace set.
std::string Strip(absl::string_view s, const JinjaValue* chars, bool left, bool right) {
  const absl::string_view set =
      chars != nullptr && chars->type == Type::kString ? absl::string_view(chars->s) : kWhitespace;
  size_t begin = 0;
  size_t end = s.size();
  while (left && begin < end && set.find(s[begin]) != absl::string_view::npos) ++begin;
  while (right && end > begin && set.find(s[end - 1]) != absl::string_view::npos) --end;
  return std::string(s.substr(begin, end - begin));
}

// upper / lower / capitalize / title, ASCII letters only.
std::string CaseMap(absl::string_view s, absl::string_view how) {
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    const bool upper = how == "upper" || (how != "lower" && word_start);
    c = upper ? absl::ascii_toupper(c) : absl::ascii_tolower(c);
    word_start = how == "title" && !absl::ascii_isalpha(c);
  }
  return out;
}

absl::StatusOr<std::string> StringArg(const JinjaArgs& args, size_t index, absl::string_view name) {
  const JinjaValue* value = args.Get(index, name);
  if (value == nullptr || value->type != Type::kString) {
    return Bad(absl::StrCat("expected a string argument '", name, "'"));
  }
  return value->s;
}

JinjaValue Split(const std::string& s, const JinjaValue* separator) {
  JinjaList parts;
  if (separator == nullptr || separator->type != Type::kString) {
    for (absl::string_view part :
         absl::StrSplit(s, absl::ByAnyChar(kWhitespace), absl::SkipEmpty())) {
      parts.push_back(JinjaValue::String(std::string(part)));
    }
  } else {
    for (absl::string_view part : absl::StrSplit(s, separator->s)) {
      parts.push_back(JinjaValue::String(std::string(part)));
    }
  }
  return JinjaValue::List(std::move(parts));
}

// dict.items(): a list of [key, value] pairs (Python's tuples).
JinjaValue Items(const JinjaValue& dict) {
  JinjaList items;
  for (const auto& [key, value] : *dict.dict) {
    items.push_back(JinjaValue::List({JinjaValue::String(key), value}));
  }
  return JinjaValue::List(std::move(items));
}

// Jinja's `int` filter: truncates floats; 0 for what does not convert (or does not fit).
JinjaValue ToInt(const JinjaValue& v) {
  int64_t i = 0;
  double d = 0;
  if (v.type == Type::kInt) return v;
  if (v.type == Type::kBool) return JinjaValue::Int(v.b ? 1 : 0);
  if (v.type == Type::kFloat) d = v.f;
  if (v.type == Type::kString && absl::SimpleAtoi(v.s, &i)) return JinjaValue::Int(i);
  if (v.type == Type::kString && !absl::SimpleAtod(v.s, &d)) d = 0;
  return JinjaValue::Int(std::isfinite(d) && std::fabs(d) < 9e18 ? static_cast<int64_t>(d) : 0);
}

constexpr absl::string_view kFilters[] = {"capitalize", "count", "d",       "default", "first",
                                          "int",        "items", "join",    "last",    "length",
                                          "list",       "lower", "replace", "reverse", "safe",
                                          "string",     "title", "tojson",  "trim",    "upper"};
constexpr absl::string_view kTests[] = {"boolean", "defined", "eq",       "equalto",  "even",
                                        "false",   "float",   "integer",  "iterable", "mapping",
                                        "none",    "number",  "odd",      "sameas",   "sequence",
                                        "string",  "true",    "undefined"};

}  // namespace

bool IsJinjaFilter(absl::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool IsJinjaTest(absl::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

const JinjaValue* JinjaArgs::Get(size_t index, absl::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [key, value] : keyword) {
    if (key == name) return &value;
  }
  return nullptr;
}

absl::StatusOr<JinjaList> IterateJinja(const JinjaValue& value) {
  JinjaList items;
  switch (value.type) {
    case Type::kUndefined:
      return items;
    case Type::kList:
      return *value.list;
    case Type::kDict:
      for (const auto& entry : *value.dict) items.push_back(JinjaValue::String(entry.first));
      return items;
    case Type::kString:
      for (size_t k = 0; k < value.s.size();) {  // one item per UTF-8 character
        size_t n = 1;
        while (k + n < value.s.size() && (value.s[k + n] & 0xc0) == 0x80) ++n;
        items.push_back(JinjaValue::String(value.s.substr(k, n)));
        k += n;
      }
      return items;
    default:
      return Bad(absl::StrCat("'", value.type_name(), "' object is not iterable"));
  }
}

absl::StatusOr<JinjaValue> ApplyJinjaFilter(absl::string_view name, const JinjaValue& input,
                                            const JinjaArgs& args) {
  if (name == "trim") {
    return JinjaValue::String(Strip(ToString(input), args.Get(0, "chars"), true, true));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    return JinjaValue::String(CaseMap(ToString(input), name));
  }
  if (name == "string") return JinjaValue::String(ToString(input));
  if (name == "safe") return input;
  if (name == "int") return ToInt(input);
  if (name == "length" || name == "count") {
    if (input.type == Type::kString) return JinjaValue::Int(CodePointCount(input.s));
    if (input.type != Type::kList && input.type != Type::kDict && input.type != Type::kUndefined) {
      return Bad(absl::StrCat("object of type '", input.type_name(), "' has no len()"));
    }
    HY_ASSIGN_OR_RETURN(const JinjaList items, IterateJinja(input));
    return JinjaValue::Int(static_cast<int64_t>(items.size()));
  }
  if (name == "tojson") {
    // Hugging Face's tojson(x, ensure_ascii=False, indent=None, ...).
    const JinjaValue* indent = args.Get(1, "indent");
    std::string json;
    if (!AppendJson(input, indent != nullptr && indent->type == Type::kInt ? indent->i : -1,
                    &json)) {
      return Bad("tojson: the value is undefined");
    }
    return JinjaValue::String(std::move(json));
  }
  if (name == "default" || name == "d") {
    const JinjaValue* fallback = args.Get(0, "default_value");
    const JinjaValue* boolean = args.Get(1, "boolean");
    const bool replace = input.type == Type::kUndefined ||
                         (boolean != nullptr && Truthy(*boolean) && !Truthy(input));
    if (!replace) return input;
    return fallback != nullptr ? *fallback : JinjaValue::String("");
  }
  if (name == "replace") {
    HY_ASSIGN_OR_RETURN(const std::string from, StringArg(args, 0, "old"));
    HY_ASSIGN_OR_RETURN(const std::string to, StringArg(args, 1, "new"));
    if (from.empty()) return Bad("replace: empty 'old'");
    return JinjaValue::String(absl::StrReplaceAll(ToString(input), {{from, to}}));
  }
  if (name == "items") {
    if (input.type == Type::kUndefined) return JinjaValue::List({});
    if (input.type != Type::kDict) return Bad("items: expected a dict");
    return Items(input);
  }
  HY_ASSIGN_OR_RETURN(JinjaList items, IterateJinja(input));
  if (name == "list") return JinjaValue::List(std::move(items));
  if (name == "first" || name == "last") {
    if (items.empty()) return JinjaValue::Undefined(std::string(name));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    std::reverse(items.begin(), items.end());
    if (input.type != Type::kString) return JinjaValue::List(std::move(items));
    return JinjaValue::String(
        absl::StrJoin(items, "", [](std::string* out, const JinjaValue& v) { out->append(v.s); }));
  }
  if (name == "join") {
    const JinjaValue* separator = args.Get(0, "d");
    return JinjaValue::String(
        absl::StrJoin(items, separator != nullptr ? ToString(*separator) : "",
                      [](std::string* out, const JinjaValue& v) { out->append(ToString(v)); }));
  }
  return Bad(absl::StrCat("unknown filter '", name, "'"));
}

absl::StatusOr<bool> ApplyJinjaTest(absl::string_view name, const JinjaValue& v,
                                    const JinjaArgs& args) {
  const Type t = v.type;
  if (name == "defined") return t != Type::kUndefined;
  if (name == "undefined") return t == Type::kUndefined;
  if (name == "none") return t == Type::kNone;
  if (name == "string") return t == Type::kString;
  if (name == "number") return v.is_number() || t == Type::kBool;  // Python: bool is a Number
  if (name == "integer") return t == Type::kInt;
  if (name == "float") return t == Type::kFloat;
  if (name == "boolean") return t == Type::kBool;
  if (name == "true" || name == "false") return t == Type::kBool && v.b == (name == "true");
  if (name == "mapping") return t == Type::kDict;
  if (name == "sequence") return t == Type::kList || t == Type::kString || t == Type::kDict;
  if (name == "iterable") return t == Type::kList || t == Type::kString || t == Type::kDict;
  if (name == "odd" || name == "even") {
    if (t != Type::kInt) return Bad(absl::StrCat("'", name, "' needs an integer"));
    return (v.i % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "sameas") {
    const JinjaValue* other = args.Get(0, "other");
    if (other == nullptr) return Bad(absl::StrCat("'", name, "' needs an argument"));
    return Equal(v, *other);
  }
  return Bad(absl::StrCat("unknown test '", name, "'"));
}

absl::StatusOr<JinjaValue> CallJinjaMethod(const JinjaValue& self, absl::string_view name,
                                           const JinjaArgs& args) {
  if (self.type == Type::kString) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      return JinjaValue::String(
          Strip(self.s, args.Get(0, "chars"), name != "rstrip", name != "lstrip"));
    }
    if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
      return JinjaValue::String(CaseMap(self.s, name));
    }
    if (name == "startswith" || name == "endswith") {
      HY_ASSIGN_OR_RETURN(const std::string affix, StringArg(args, 0, "prefix"));
      return JinjaValue::Bool(name == "startswith" ? absl::StartsWith(self.s, affix)
                                                   : absl::EndsWith(self.s, affix));
    }
    if (name == "replace") {
      HY_ASSIGN_OR_RETURN(const std::string from, StringArg(args, 0, "old"));
      HY_ASSIGN_OR_RETURN(const std::string to, StringArg(args, 1, "new"));
      if (from.empty()) return Bad("replace: empty 'old'");
      return JinjaValue::String(absl::StrReplaceAll(self.s, {{from, to}}));
    }
    if (name == "split") return Split(self.s, args.Get(0, "sep"));
  }
  if (self.type == Type::kDict) {
    if (name == "items") return Items(self);
    if (name == "keys" || name == "values") {
      JinjaList out;
      for (const auto& [key, value] : *self.dict) {
        out.push_back(name == "keys" ? JinjaValue::String(key) : value);
      }
      return JinjaValue::List(std::move(out));
    }
    if (name == "get") {
      HY_ASSIGN_OR_RETURN(const std::string key, StringArg(args, 0, "key"));
      const JinjaValue* found = self.Find(key);
      const JinjaValue* fallback = args.Get(1, "default");
      return found != nullptr ? *found : fallback != nullptr ? *fallback : JinjaValue::None();
    }
  }
  return Bad(absl::StrCat("'", self.type_name(), "' object has no method '", name, "'"));
}

absl::StatusOr<JinjaValue> CallJinjaFunction(absl::string_view name, const JinjaArgs& args) {
  if (name == "namespace") {
    JinjaDict attributes;
    if (!args.positional.empty() && args.positional[0].type == Type::kDict) {
      attributes = *args.positional[0].dict;
    }
    for (const auto& entry : args.keyword) attributes.push_back(entry);
    return JinjaValue::Dict(std::move(attributes));
  }
  if (name == "range") {
    int64_t bounds[3] = {0, 0, 1};
    const size_t n = args.positional.size();
    if (n < 1 || n > 3) return Bad("range: expected 1 to 3 arguments");
    for (size_t k = 0; k < n; ++k) {
      if (args.positional[k].type != Type::kInt) return Bad("range: expected integers");
      bounds[n == 1 ? 1 : k] = args.positional[k].i;
    }
    const int64_t start = bounds[0], stop = bounds[1], step = bounds[2];
    if (step == 0) return Bad("range: step is zero");
    JinjaList items;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
      if (static_cast<int64_t>(items.size()) >= kMaxRange) return Bad("range: too long");
      items.push_back(JinjaValue::Int(k));
    }
    return JinjaValue::List(std::move(items));
  }
  return Bad(absl::StrCat("unknown function '", name, "'"));
}

}  // namespace hymba::engine
