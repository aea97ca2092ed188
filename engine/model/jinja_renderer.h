// JinjaRenderer: evaluates a parsed chat template (JinjaParser) against global variables.
//
// Scoping follows Jinja: `set` assigns in the innermost scope; each for-loop iteration has its own
// scope (holding the loop variables and `loop`), so assignments made inside a loop are not seen
// after it, or by the next iteration, unless they go through a namespace() object.
// Thread safety: Render is a pure function of its arguments.
// Errors: InvalidArgument. raise_exception(msg) returns `msg` as the message; other failures are
// "chat template: line L, column C: ..." (using an undefined value as an object or operand,
// unknown filter / test / function / method, type errors, division by zero).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/jinja_builtins.h"
#include "engine/model/jinja_parser.h"
#include "engine/model/jinja_value.h"

namespace hymba::engine {

class JinjaRenderer {
 public:
  using Scope = std::map<std::string, JinjaValue, std::less<>>;

  // Renders `nodes`, parsed from `source` (used for error positions), appending to `*out`.
  static absl::Status Render(absl::string_view source, const std::vector<JinjaNode>& nodes,
                             Scope globals, std::string* out);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  JinjaRenderer(absl::string_view source, Scope globals);

  absl::StatusOr<Flow> Exec(const std::vector<JinjaNode>& nodes, std::string* out);
  absl::StatusOr<Flow> ExecFor(const JinjaNode& node, std::string* out);
  absl::Status ExecSet(const JinjaNode& node);
  // Binds a for loop's targets to `item` in the innermost scope.
  absl::Status Bind(const JinjaNode& node, const JinjaValue& item);

  absl::StatusOr<JinjaValue> Eval(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalAttr(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalIndex(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalSlice(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalCall(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalFilterOrTest(const JinjaExpr& expr);
  absl::StatusOr<JinjaValue> EvalBinary(const JinjaExpr& expr);
  // Evaluates expr.args[1..] into positional and keyword arguments.
  absl::Status EvalArgs(const JinjaExpr& expr, JinjaArgs* args);
  // An error unless `value` is defined: "'name' is undefined".
  absl::Status CheckDefined(const JinjaExpr& expr, const JinjaValue& value) const;
  absl::Status Error(size_t pos, absl::string_view message) const;
  const JinjaValue* Lookup(absl::string_view name) const;

  absl::string_view source_;
  std::vector<Scope> scopes_;  // [0] holds the globals
};

}  // namespace hymba::engine
