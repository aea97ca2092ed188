#include "engine/model/jinja_operators.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hymba::engine {
namespace {

using Type = JinjaValue::Type;

constexpr int64_t kMaxRepeat = 1 << 20;  // 'x' * n beyond this is a template bug, not a prompt

absl::Status Unsupported(absl::string_view op, const JinjaValue& a, const JinjaValue& b) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand types for ", op, ": '",
                                                 a.type_name(), "' and '", b.type_name(), "'"));
}

// Python's `item in container`.
absl::StatusOr<bool> Contains(const JinjaValue& container, const JinjaValue& item) {
  switch (container.type) {
    case Type::kUndefined:
      return false;
    case Type::kString:
      if (item.type != Type::kString) {
        return absl::InvalidArgumentError("'in <string>' requires a string on the left");
      }
      return container.s.find(item.s) != std::string::npos;
    case Type::kList:
      for (const JinjaValue& element : *container.list) {
        if (Equal(element, item)) return true;
      }
      return false;
    case Type::kDict:
      return item.type == Type::kString && container.Find(item.s) != nullptr;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("argument of type '", container.type_name(), "' is not iterable"));
  }
}

absl::StatusOr<JinjaValue> Compare(absl::string_view op, const JinjaValue& a, const JinjaValue& b) {
  int order = 0;
  if (a.is_number() && b.is_number()) {
    order = a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
  } else if (a.type == Type::kString && b.type == Type::kString) {
    order = a.s.compare(b.s);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("'", op, "' not supported between '",
                                                   a.type_name(), "' and '", b.type_name(), "'"));
  }
  return JinjaValue::Bool(op == "<"    ? order < 0
                          : op == "<=" ? order <= 0
                          : op == ">"  ? order > 0
                                       : order >= 0);
}

// Python's `a // b` on integers (rounding toward negative infinity); `a % b` follows from it.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

absl::StatusOr<JinjaValue> Arithmetic(absl::string_view op, const JinjaValue& a,
                                      const JinjaValue& b) {
  if ((op == "/" || op == "//" || op == "%") && b.as_double() == 0) {
    return absl::InvalidArgumentError("division by zero");
  }
  if (a.type == Type::kInt && b.type == Type::kInt && op != "/") {
    const int64_t x = a.i;
    const int64_t y = b.i;
    return JinjaValue::Int(op == "+"    ? x + y
                           : op == "-"  ? x - y
                           : op == "*"  ? x * y
                           : op == "//" ? FloorDiv(x, y)
                                        : x - FloorDiv(x, y) * y);
  }
  const double x = a.as_double();
  const double y = b.as_double();
  const double floor = std::floor(x / y);
  return JinjaValue::Float(op == "+"    ? x + y
                           : op == "-"  ? x - y
                           : op == "*"  ? x * y
                           : op == "/"  ? x / y
                           : op == "//" ? floor
                                        : x - floor * y);
}

}  // namespace

absl::StatusOr<JinjaValue> ApplyJinjaOperator(absl::string_view op, const JinjaValue& a,
                                              const JinjaValue& b) {
  if (op == "~") return JinjaValue::String(ToString(a) + ToString(b));
  if (op == "==" || op == "!=") return JinjaValue::Bool(Equal(a, b) == (op == "=="));
  if (op == "in" || op == "not in") {
    const absl::StatusOr<bool> found = Contains(b, a);
    if (!found.ok()) return found.status();
    return JinjaValue::Bool(*found == (op == "in"));
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") return Compare(op, a, b);
  if (a.is_number() && b.is_number()) return Arithmetic(op, a, b);
  if (op == "+" && a.type == b.type && a.type == Type::kString) {
    return JinjaValue::String(a.s + b.s);
  }
  if (op == "+" && a.type == b.type && a.type == Type::kList) {
    JinjaList items = *a.list;
    items.insert(items.end(), b.list->begin(), b.list->end());
    return JinjaValue::List(std::move(items));
  }
  if (op == "*" && a.type == Type::kString && b.type == Type::kInt && b.i < kMaxRepeat) {
    std::string text;
    for (int64_t k = 0; k < b.i; ++k) text += a.s;
    return JinjaValue::String(std::move(text));
  }
  return Unsupported(op, a, b);
}

}  // namespace hymba::engine
