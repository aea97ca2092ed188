// Jinja's binary operators with Python semantics, for JinjaRenderer: ~ (concatenate as strings),
// == and != (by value), in / not in (substring, list item, dict key), < <= > >= (numbers or
// strings), + (numbers, strings, lists), - * / // % (numbers; // and % round toward negative
// infinity) and string * int.
//
// Thread safety: pure function.
// Errors: InvalidArgument without a position (the renderer adds it) for operand types an operator
// does not take and for division by zero. Undefined operands are the caller's to reject (== and ~
// accept them, as Jinja does).
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/jinja_value.h"

namespace hymba::engine {

absl::StatusOr<JinjaValue> ApplyJinjaOperator(absl::string_view op, const JinjaValue& a,
                                              const JinjaValue& b);

}  // namespace hymba::engine
