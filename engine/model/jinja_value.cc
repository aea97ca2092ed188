#include "engine/model/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace hymba::engine {
namespace {

using Type = JinjaValue::Type;

JinjaValue Make(Type type) {
  JinjaValue v;
  v.type = type;
  return v;
}

// Python's repr(float): the fewest significant digits that read back exactly, positional for
// exponents in [-4, 16), else scientific; always with a '.' or an exponent.
std::string FormatFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  int digits = 1;
  for (; digits < 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*e", digits - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::snprintf(buf, sizeof(buf), "%.*e", digits - 1, d);
  const int exponent = std::atoi(std::strchr(buf, 'e') + 1);
  if (exponent < -4 || exponent >= 16) return buf;
  std::snprintf(buf, sizeof(buf), "%.*f", std::max(digits - 1 - exponent, 0), d);
  std::string s = buf;
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    const char* escape = c == '"'    ? "\\\""
                         : c == '\\' ? "\\\\"
                         : c == '\n' ? "\\n"
                         : c == '\r' ? "\\r"
                         : c == '\t' ? "\\t"
                         : c == '\b' ? "\\b"
                         : c == '\f' ? "\\f"
                                     : nullptr;
    if (escape != nullptr) {
      *out += escape;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      *out += buf;
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

bool AppendJsonAt(const JinjaValue& v, int indent, int depth, std::string* out) {
  switch (v.type) {
    case Type::kUndefined:
      return false;
    case Type::kNone:
      *out += "null";
      return true;
    case Type::kBool:
      *out += v.b ? "true" : "false";
      return true;
    case Type::kInt:
      absl::StrAppend(out, v.i);
      return true;
    case Type::kFloat:
      *out += std::isnan(v.f)   ? "NaN"
              : std::isinf(v.f) ? (v.f > 0 ? "Infinity" : "-Infinity")
                                : FormatFloat(v.f);
      return true;
    case Type::kString:
      AppendJsonString(v.s, out);
      return true;
    case Type::kList:
    case Type::kDict:
      break;
  }
  const bool pretty = indent >= 0;
  const std::string inner = pretty ? "\n" + std::string((depth + 1) * indent, ' ') : "";
  const bool is_list = v.type == Type::kList;
  const size_t size = is_list ? v.list->size() : v.dict->size();
  *out += is_list ? "[" : "{";
  for (size_t k = 0; k < size; ++k) {
    *out += k == 0 ? inner : (pretty ? "," + inner : ", ");
    if (!is_list) {
      AppendJsonString((*v.dict)[k].first, out);
      *out += ": ";
    }
    if (!AppendJsonAt(is_list ? (*v.list)[k] : (*v.dict)[k].second, indent, depth + 1, out)) {
      return false;
    }
  }
  if (pretty && size > 0) *out += "\n" + std::string(depth * indent, ' ');
  *out += is_list ? "]" : "}";
  return true;
}

}  // namespace

JinjaValue JinjaValue::Undefined(std::string name) {
  JinjaValue v = Make(Type::kUndefined);
  v.s = std::move(name);
  return v;
}
JinjaValue JinjaValue::None() { return Make(Type::kNone); }
JinjaValue JinjaValue::Bool(bool b) {
  JinjaValue v = Make(Type::kBool);
  v.b = b;
  return v;
}
JinjaValue JinjaValue::Int(int64_t i) {
  JinjaValue v = Make(Type::kInt);
  v.i = i;
  return v;
}
JinjaValue JinjaValue::Float(double f) {
  JinjaValue v = Make(Type::kFloat);
  v.f = f;
  return v;
}
JinjaValue JinjaValue::String(std::string s) {
  JinjaValue v = Make(Type::kString);
  v.s = std::move(s);
  return v;
}
JinjaValue JinjaValue::List(JinjaList items) {
  JinjaValue v = Make(Type::kList);
  v.list = std::make_shared<JinjaList>(std::move(items));
  return v;
}
JinjaValue JinjaValue::Dict(JinjaDict items) {
  JinjaValue v = Make(Type::kDict);
  v.dict = std::make_shared<JinjaDict>(std::move(items));
  return v;
}

const char* JinjaValue::type_name() const {
  static constexpr const char* kNames[] = {"undefined", "none", "bool", "int",
                                           "float",     "str",  "list", "dict"};
  return kNames[static_cast<int>(type)];
}

const JinjaValue* JinjaValue::Find(absl::string_view key) const {
  if (type != Type::kDict) return nullptr;
  for (const auto& [k, v] : *dict) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool Truthy(const JinjaValue& v) {
  switch (v.type) {
    case Type::kBool:
      return v.b;
    case Type::kInt:
      return v.i != 0;
    case Type::kFloat:
      return v.f != 0;
    case Type::kString:
      return !v.s.empty();
    case Type::kList:
      return !v.list->empty();
    case Type::kDict:
      return !v.dict->empty();
    default:
      return false;
  }
}

bool Equal(const JinjaValue& a, const JinjaValue& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::kBool:
      return a.b == b.b;
    case Type::kString:
      return a.s == b.s;
    case Type::kList:
      return std::equal(a.list->begin(), a.list->end(), b.list->begin(), b.list->end(), Equal);
    case Type::kDict:
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [key, value] : *a.dict) {
        const JinjaValue* other = b.Find(key);
        if (other == nullptr || !Equal(value, *other)) return false;
      }
      return true;
    default:
      return true;  // none == none, undefined == undefined
  }
}

std::string ToString(const JinjaValue& v) {
  switch (v.type) {
    case Type::kUndefined:
      return "";
    case Type::kNone:
      return "None";
    case Type::kBool:
      return v.b ? "True" : "False";
    case Type::kInt:
      return absl::StrCat(v.i);
    case Type::kFloat:
      return FormatFloat(v.f);
    case Type::kString:
      return v.s;
    default:
      return Repr(v);
  }
}

std::string Repr(const JinjaValue& v) {
  std::string out;
  switch (v.type) {
    case Type::kString: {
      const bool has_single = v.s.find('\'') != std::string::npos;
      const char quote = has_single && v.s.find('"') == std::string::npos ? '"' : '\'';
      out += quote;
      for (const char c : v.s) {
        if (c == quote || c == '\\') out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
      }
      return out + quote;
    }
    case Type::kList:
      for (const JinjaValue& item : *v.list) {
        absl::StrAppend(&out, out.empty() ? "" : ", ", Repr(item));
      }
      return absl::StrCat("[", out, "]");
    case Type::kDict:
      for (const auto& [key, item] : *v.dict) {
        absl::StrAppend(&out, out.empty() ? "" : ", ", Repr(JinjaValue::String(key)), ": ",
                        Repr(item));
      }
      return absl::StrCat("{", out, "}");
    default:
      return ToString(v);
  }
}

bool AppendJson(const JinjaValue& v, int indent, std::string* out) {
  return AppendJsonAt(v, indent, 0, out);
}

size_t CodePointCount(absl::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; });
}

}  // namespace hymba::engine
