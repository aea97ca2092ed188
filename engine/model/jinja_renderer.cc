#include "engine/model/jinja_renderer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/model/jinja_operators.h"

namespace hymba::engine {
namespace {

using Kind = JinjaExpr::Kind;
using Type = JinjaValue::Type;

}  // namespace

JinjaRenderer::JinjaRenderer(absl::string_view source, Scope globals) : source_(source) {
  scopes_.push_back(std::move(globals));
}

absl::Status JinjaRenderer::Render(absl::string_view source, const std::vector<JinjaNode>& nodes,
                                   Scope globals, std::string* out) {
  JinjaRenderer renderer(source, std::move(globals));
  return renderer.Exec(nodes, out).status();
}

absl::StatusOr<JinjaRenderer::Flow> JinjaRenderer::Exec(const std::vector<JinjaNode>& nodes,
                                                        std::string* out) {
  for (const JinjaNode& node : nodes) {
    switch (node.kind) {
      case JinjaNode::Kind::kText:
        out->append(node.text);
        break;
      case JinjaNode::Kind::kOutput: {
        HY_ASSIGN_OR_RETURN(const JinjaValue value, Eval(*node.expr));
        out->append(ToString(value));
        break;
      }
      case JinjaNode::Kind::kIf:
        for (const auto& [condition, body] : node.branches) {
          if (condition != nullptr) {
            HY_ASSIGN_OR_RETURN(const JinjaValue test, Eval(*condition));
            if (!Truthy(test)) continue;
          }
          HY_ASSIGN_OR_RETURN(const Flow flow, Exec(body, out));
          if (flow != Flow::kNormal) return flow;
          break;
        }
        break;
      case JinjaNode::Kind::kFor: {
        HY_ASSIGN_OR_RETURN(const Flow flow, ExecFor(node, out));
        if (flow != Flow::kNormal) return flow;
        break;
      }
      case JinjaNode::Kind::kSet:
        HY_RETURN_IF_ERROR(ExecSet(node));
        break;
      case JinjaNode::Kind::kBreak:
        return Flow::kBreak;
      case JinjaNode::Kind::kContinue:
        return Flow::kContinue;
    }
  }
  return Flow::kNormal;
}

absl::StatusOr<JinjaRenderer::Flow> JinjaRenderer::ExecFor(const JinjaNode& node,
                                                           std::string* out) {
  HY_ASSIGN_OR_RETURN(const JinjaValue sequence, Eval(*node.expr));
  absl::StatusOr<JinjaList> iterated = IterateJinja(sequence);
  if (!iterated.ok()) return Error(node.expr->pos, iterated.status().message());
  JinjaList items = *std::move(iterated);
  if (node.filter != nullptr) {
    JinjaList kept;
    for (const JinjaValue& item : items) {
      scopes_.emplace_back();
      HY_RETURN_IF_ERROR(Bind(node, item));
      HY_ASSIGN_OR_RETURN(const JinjaValue keep, Eval(*node.filter));
      scopes_.pop_back();
      if (Truthy(keep)) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return Exec(node.else_body, out);
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t k = 0; k < n; ++k) {
    scopes_.emplace_back();
    HY_RETURN_IF_ERROR(Bind(node, items[k]));
    scopes_.back()["loop"] = JinjaValue::Dict({
        {"index0", JinjaValue::Int(k)},
        {"index", JinjaValue::Int(k + 1)},
        {"revindex", JinjaValue::Int(n - k)},
        {"revindex0", JinjaValue::Int(n - k - 1)},
        {"first", JinjaValue::Bool(k == 0)},
        {"last", JinjaValue::Bool(k == n - 1)},
        {"length", JinjaValue::Int(n)},
        {"previtem", k > 0 ? items[k - 1] : JinjaValue::Undefined("loop.previtem")},
        {"nextitem", k + 1 < n ? items[k + 1] : JinjaValue::Undefined("loop.nextitem")},
    });
    HY_ASSIGN_OR_RETURN(const Flow flow, Exec(node.body, out));
    scopes_.pop_back();
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

absl::Status JinjaRenderer::Bind(const JinjaNode& node, const JinjaValue& item) {
  if (node.targets.size() == 1) {
    scopes_.back()[node.targets[0]] = item;
    return absl::OkStatus();
  }
  if (item.type != Type::kList || item.list->size() != node.targets.size()) {
    return Error(node.pos, absl::StrCat("cannot unpack ", Repr(item), " into ", node.targets.size(),
                                        " loop variables"));
  }
  for (size_t k = 0; k < node.targets.size(); ++k) {
    scopes_.back()[node.targets[k]] = (*item.list)[k];
  }
  return absl::OkStatus();
}

absl::Status JinjaRenderer::ExecSet(const JinjaNode& node) {
  HY_ASSIGN_OR_RETURN(JinjaValue value, Eval(*node.expr));
  const std::string& name = node.targets[0];
  if (node.attribute.empty()) {
    scopes_.back()[name] = std::move(value);
    return absl::OkStatus();
  }
  const JinjaValue* target = Lookup(name);
  if (target == nullptr || target->type != Type::kDict) {
    return Error(node.pos, absl::StrCat("cannot set '", node.attribute, "' on '", name,
                                        "': not a namespace"));
  }
  for (auto& [key, old] : *target->dict) {
    if (key == node.attribute) {
      old = std::move(value);
      return absl::OkStatus();
    }
  }
  target->dict->emplace_back(node.attribute, std::move(value));
  return absl::OkStatus();
}

absl::StatusOr<JinjaValue> JinjaRenderer::Eval(const JinjaExpr& expr) {
  switch (expr.kind) {
    case Kind::kLiteral:
      return expr.value;
    case Kind::kName: {
      const JinjaValue* value = Lookup(expr.name);
      return value != nullptr ? *value : JinjaValue::Undefined(expr.name);
    }
    case Kind::kList:
    case Kind::kDict: {
      JinjaList items;
      for (const auto& item : expr.args) {
        HY_ASSIGN_OR_RETURN(JinjaValue value, Eval(*item));
        items.push_back(std::move(value));
      }
      if (expr.kind == Kind::kList) return JinjaValue::List(std::move(items));
      JinjaDict dict;
      for (size_t k = 0; k + 1 < items.size(); k += 2) {
        dict.emplace_back(ToString(items[k]), std::move(items[k + 1]));
      }
      return JinjaValue::Dict(std::move(dict));
    }
    case Kind::kAttr:
      return EvalAttr(expr);
    case Kind::kIndex:
      return EvalIndex(expr);
    case Kind::kSlice:
      return EvalSlice(expr);
    case Kind::kCall:
      return EvalCall(expr);
    case Kind::kFilter:
    case Kind::kTest:
      return EvalFilterOrTest(expr);
    case Kind::kNot: {
      HY_ASSIGN_OR_RETURN(const JinjaValue operand, Eval(*expr.args[0]));
      return JinjaValue::Bool(!Truthy(operand));
    }
    case Kind::kNeg: {
      HY_ASSIGN_OR_RETURN(const JinjaValue operand, Eval(*expr.args[0]));
      HY_RETURN_IF_ERROR(CheckDefined(*expr.args[0], operand));
      if (operand.type == Type::kInt) return JinjaValue::Int(-operand.i);
      if (operand.type == Type::kFloat) return JinjaValue::Float(-operand.f);
      return Error(expr.pos,
                   absl::StrCat("bad operand type for unary -: '", operand.type_name(), "'"));
    }
    case Kind::kAnd:
    case Kind::kOr: {
      HY_ASSIGN_OR_RETURN(JinjaValue left, Eval(*expr.args[0]));
      if (Truthy(left) == (expr.kind == Kind::kOr)) return left;
      return Eval(*expr.args[1]);
    }
    case Kind::kCond: {
      HY_ASSIGN_OR_RETURN(const JinjaValue condition, Eval(*expr.args[1]));
      if (Truthy(condition)) return Eval(*expr.args[0]);
      if (expr.args[2] == nullptr) return JinjaValue::Undefined("");
      return Eval(*expr.args[2]);
    }
    case Kind::kBinary:
      return EvalBinary(expr);
  }
  return Error(expr.pos, "unknown expression");
}

absl::StatusOr<JinjaValue> JinjaRenderer::EvalAttr(const JinjaExpr& expr) {
  HY_ASSIGN_OR_RETURN(const JinjaValue object, Eval(*expr.args[0]));
  HY_RETURN_IF_ERROR(CheckDefined(*expr.args[0], object));
  const JinjaValue* value = object.Find(expr.name);
  return value != nullptr ? *value : JinjaValue::Undefined(expr.name);
}

absl::StatusOr<JinjaValue> JinjaRenderer::EvalIndex(const JinjaExpr& expr) {
  HY_ASSIGN_OR_RETURN(const JinjaValue object, Eval(*expr.args[0]));
  HY_RETURN_IF_ERROR(CheckDefined(*expr.args[0], object));
  HY_ASSIGN_OR_RETURN(const JinjaValue key, Eval(*expr.args[1]));
  if (object.type == Type::kDict) {
    const JinjaValue* value = object.Find(ToString(key));
    return value != nullptr ? *value : JinjaValue::Undefined(ToString(key));
  }
  if ((object.type == Type::kList || object.type == Type::kString) && key.type == Type::kInt) {
    JinjaList characters;
    if (object.type == Type::kString) {
      HY_ASSIGN_OR_RETURN(characters, IterateJinja(object));
    }
    const JinjaList& items = object.type == Type::kList ? *object.list : characters;
    const int64_t size = static_cast<int64_t>(items.size());
    const int64_t k = key.i < 0 ? key.i + size : key.i;
    if (k < 0 || k >= size) return JinjaValue::Undefined(ToString(key));
    return items[k];
  }
  return Error(expr.pos, absl::StrCat("cannot index '", object.type_name(), "' with '",
                                      key.type_name(), "'"));
}

// Python's sequence[start:stop:step].
absl::StatusOr<JinjaValue> JinjaRenderer::EvalSlice(const JinjaExpr& expr) {
  HY_ASSIGN_OR_RETURN(const JinjaValue object, Eval(*expr.args[0]));
  HY_RETURN_IF_ERROR(CheckDefined(*expr.args[0], object));
  HY_ASSIGN_OR_RETURN(JinjaList items, IterateJinja(object));
  if (object.type != Type::kList && object.type != Type::kString) {
    return Error(expr.pos, absl::StrCat("cannot slice '", object.type_name(), "'"));
  }
  int64_t bound[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (expr.args[k + 1] == nullptr) continue;
    HY_ASSIGN_OR_RETURN(const JinjaValue value, Eval(*expr.args[k + 1]));
    if (value.type == Type::kNone) continue;
    if (value.type != Type::kInt) return Error(expr.pos, "slice indices must be integers");
    bound[k] = value.i;
    given[k] = true;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t step = bound[2];
  if (step == 0) return Error(expr.pos, "slice step cannot be zero");
  const int64_t lower = step > 0 ? 0 : -1;
  const int64_t upper = step > 0 ? n : n - 1;
  int64_t ends[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t fallback = (k == 0) == (step > 0) ? lower : upper;
    const int64_t x = bound[k] < 0 ? bound[k] + n : bound[k];
    ends[k] = given[k] ? std::min(std::max(x, lower), upper) : fallback;
  }
  JinjaList picked;
  for (int64_t k = ends[0]; step > 0 ? k < ends[1] : k > ends[1]; k += step) {
    picked.push_back(items[k]);
  }
  if (object.type == Type::kList) return JinjaValue::List(std::move(picked));
  std::string text;
  for (const JinjaValue& c : picked) text += c.s;
  return JinjaValue::String(std::move(text));
}

absl::StatusOr<JinjaValue> JinjaRenderer::EvalCall(const JinjaExpr& expr) {
  const JinjaExpr& callee = *expr.args[0];
  JinjaArgs args;
  HY_RETURN_IF_ERROR(EvalArgs(expr, &args));
  absl::StatusOr<JinjaValue> result;
  if (callee.kind == Kind::kAttr) {
    HY_ASSIGN_OR_RETURN(const JinjaValue self, Eval(*callee.args[0]));
    HY_RETURN_IF_ERROR(CheckDefined(*callee.args[0], self));
    result = CallJinjaMethod(self, callee.name, args);
  } else if (callee.kind == Kind::kName && Lookup(callee.name) == nullptr) {
    if (callee.name == "raise_exception") {
      const JinjaValue* message = args.Get(0, "message");
      return absl::InvalidArgumentError(message != nullptr ? ToString(*message)
                                                           : "raise_exception");
    }
    result = CallJinjaFunction(callee.name, args);
  } else {
    return Error(expr.pos, "not a callable function");
  }
  if (!result.ok()) return Error(expr.pos, result.status().message());
  return result;
}

absl::StatusOr<JinjaValue> JinjaRenderer::EvalFilterOrTest(const JinjaExpr& expr) {
  HY_ASSIGN_OR_RETURN(const JinjaValue input, Eval(*expr.args[0]));
  JinjaArgs args;
  HY_RETURN_IF_ERROR(EvalArgs(expr, &args));
  if (expr.kind == Kind::kFilter) {
    absl::StatusOr<JinjaValue> result = ApplyJinjaFilter(expr.name, input, args);
    if (!result.ok()) return Error(expr.pos, result.status().message());
    return result;
  }
  const absl::StatusOr<bool> result = ApplyJinjaTest(expr.name, input, args);
  if (!result.ok()) return Error(expr.pos, result.status().message());
  return JinjaValue::Bool(*result != expr.negated);
}

absl::StatusOr<JinjaValue> JinjaRenderer::EvalBinary(const JinjaExpr& expr) {
  const std::string& op = expr.name;
  HY_ASSIGN_OR_RETURN(const JinjaValue a, Eval(*expr.args[0]));
  HY_ASSIGN_OR_RETURN(const JinjaValue b, Eval(*expr.args[1]));
  // Jinja's Undefined prints as "", compares unequal and contains nothing; other uses fail.
  if (op != "~" && op != "==" && op != "!=" && op != "in" && op != "not in") {
    HY_RETURN_IF_ERROR(CheckDefined(*expr.args[0], a));
    HY_RETURN_IF_ERROR(CheckDefined(*expr.args[1], b));
  }
  absl::StatusOr<JinjaValue> result = ApplyJinjaOperator(op, a, b);
  if (!result.ok()) return Error(expr.pos, result.status().message());
  return result;
}

absl::Status JinjaRenderer::EvalArgs(const JinjaExpr& expr, JinjaArgs* args) {
  for (size_t k = 1; k < expr.args.size(); ++k) {
    HY_ASSIGN_OR_RETURN(JinjaValue value, Eval(*expr.args[k]));
    if (expr.keywords[k].empty()) {
      args->positional.push_back(std::move(value));
    } else {
      args->keyword.emplace_back(expr.keywords[k], std::move(value));
    }
  }
  return absl::OkStatus();
}

absl::Status JinjaRenderer::CheckDefined(const JinjaExpr& expr, const JinjaValue& value) const {
  if (value.type != Type::kUndefined) return absl::OkStatus();
  return Error(expr.pos, absl::StrCat("'", value.s, "' is undefined"));
}

absl::Status JinjaRenderer::Error(size_t pos, absl::string_view message) const {
  return JinjaError(source_, pos, message);
}

const JinjaValue* JinjaRenderer::Lookup(absl::string_view name) const {
  for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
    const auto found = scope->find(name);
    if (found != scope->end()) return &found->second;
  }
  return nullptr;
}

}  // namespace hymba::engine
