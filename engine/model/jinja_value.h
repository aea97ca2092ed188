// JinjaValue: the Python-like values a chat template computes with (ChatTemplate's interpreter),
// and the conversions Jinja applies to them: truthiness, ==, str(), repr() and tojson.
//
// Lists and dicts are held by shared_ptr: copying a value shares them, as Python references do, so
// `{% set ns.x = ... %}` on a namespace() object is seen through every copy.
// Thread safety: values are not synchronized; a render owns the values it creates.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace hymba::engine {

struct JinjaValue;
using JinjaList = std::vector<JinjaValue>;
// Insertion-ordered, like a Python dict.
using JinjaDict = std::vector<std::pair<std::string, JinjaValue>>;

struct JinjaValue {
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict };

  static JinjaValue Undefined(std::string name);  // `name`: what was looked up, for messages
  static JinjaValue None();
  static JinjaValue Bool(bool b);
  static JinjaValue Int(int64_t i);
  static JinjaValue Float(double f);
  static JinjaValue String(std::string s);
  static JinjaValue List(JinjaList items);
  static JinjaValue Dict(JinjaDict items);

  bool is_number() const { return type == Type::kInt || type == Type::kFloat; }
  double as_double() const { return type == Type::kInt ? static_cast<double>(i) : f; }
  // "undefined", "none", "bool", "int", "float", "str", "list", "dict".
  const char* type_name() const;
  // For kDict: the value under `key`, or nullptr.
  const JinjaValue* Find(absl::string_view key) const;

  Type type = Type::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // kString; for kUndefined the name that was looked up
  std::shared_ptr<JinjaList> list;
  std::shared_ptr<JinjaDict> dict;
};

// Python truthiness (undefined and none are false).
bool Truthy(const JinjaValue& v);
// Python ==, with ints and floats compared by value.
bool Equal(const JinjaValue& a, const JinjaValue& b);
// str(v) as Jinja prints it: undefined prints as "", none as "None", floats as Python's repr.
std::string ToString(const JinjaValue& v);
// Python repr(v), used when lists and dicts are printed.
std::string Repr(const JinjaValue& v);
// Python's json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: one line), which is what
// Hugging Face's `tojson` filter does. False when `v` contains an undefined value.
bool AppendJson(const JinjaValue& v, int indent, std::string* out);
// Number of Unicode code points of UTF-8 `s` (Python's len of a str).
size_t CodePointCount(absl::string_view s);

}  // namespace hymba::engine
