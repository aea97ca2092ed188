#include "engine/model/jinja_parser.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/model/jinja_builtins.h"

namespace hymba::engine {
namespace {

using Kind = JinjaExpr::Kind;
using TokenKind = JinjaToken::Kind;
using ExprPtr = std::unique_ptr<JinjaExpr>;

ExprPtr MakeExpr(Kind kind, size_t pos, JinjaValue value = {}) {
  auto expr = std::make_unique<JinjaExpr>();
  expr->kind = kind;
  expr->pos = pos;
  expr->value = std::move(value);
  return expr;
}

// A node over `first` (and `second`), e.g. kNot, kAttr, kBinary.
ExprPtr Over(Kind kind, size_t pos, ExprPtr first, ExprPtr second = nullptr) {
  ExprPtr expr = MakeExpr(kind, pos);
  expr->args.push_back(std::move(first));
  if (second != nullptr) expr->args.push_back(std::move(second));
  return expr;
}

}  // namespace

JinjaParser::JinjaParser(absl::string_view source, std::vector<JinjaSegment> segments)
    : source_(source), segments_(std::move(segments)) {}

absl::StatusOr<std::vector<JinjaNode>> JinjaParser::Parse(absl::string_view source) {
  HY_ASSIGN_OR_RETURN(std::vector<JinjaSegment> segments, JinjaLexer::Lex(source));
  JinjaParser parser(source, std::move(segments));
  std::vector<JinjaNode> nodes;
  std::string end;
  HY_RETURN_IF_ERROR(parser.ParseBody(&nodes, {}, &end, nullptr));
  return nodes;
}

absl::Status JinjaParser::ParseBody(std::vector<JinjaNode>* out,
                                    std::vector<absl::string_view> ends, std::string* end,
                                    const JinjaSegment* opener) {
  while (segment_ < segments_.size()) {
    const JinjaSegment& segment = segments_[segment_++];
    tokens_ = &segment.tokens;
    token_ = 0;
    JinjaNode node;
    node.pos = segment.pos;
    if (segment.kind == JinjaSegment::Kind::kText) {
      node.text = segment.text;
    } else if (segment.kind == JinjaSegment::Kind::kOutput) {
      node.kind = JinjaNode::Kind::kOutput;
      HY_ASSIGN_OR_RETURN(node.expr, ParseExpr());
      HY_RETURN_IF_ERROR(ExpectEnd());
    } else {
      if (Peek().kind != TokenKind::kName) return Error(Peek().pos, "expected a tag name");
      if (std::find(ends.begin(), ends.end(), Peek().text) != ends.end()) {
        *end = (*tokens_)[token_++].text;
        return absl::OkStatus();
      }
      HY_RETURN_IF_ERROR(ParseStatement(segment, &node));
    }
    out->push_back(std::move(node));
  }
  if (opener == nullptr) return absl::OkStatus();
  return Error(opener->pos,
               absl::StrCat("'", opener->tokens[0].text, "' is missing its '", ends.back(), "'"));
}

absl::Status JinjaParser::ParseStatement(const JinjaSegment& segment, JinjaNode* node) {
  const JinjaToken& tag = (*tokens_)[token_++];
  if (tag.text == "if") return ParseIf(segment, node);
  if (tag.text == "for") return ParseFor(segment, node);
  if (tag.text == "set") return ParseSet(node);
  if (tag.text == "break" || tag.text == "continue") {
    node->kind = tag.text == "break" ? JinjaNode::Kind::kBreak : JinjaNode::Kind::kContinue;
    return ExpectEnd();
  }
  const bool misplaced =
      tag.text == "elif" || tag.text == "else" || tag.text == "endif" || tag.text == "endfor";
  return Error(tag.pos,
               absl::StrCat(misplaced ? "unexpected '" : "unsupported tag '", tag.text, "'"));
}

absl::Status JinjaParser::ParseIf(const JinjaSegment& segment, JinjaNode* node) {
  node->kind = JinjaNode::Kind::kIf;
  HY_ASSIGN_OR_RETURN(ExprPtr condition, ParseExpr());
  HY_RETURN_IF_ERROR(ExpectEnd());
  while (true) {
    std::vector<absl::string_view> ends = {"elif", "else", "endif"};
    if (condition == nullptr) ends = {"endif"};  // after {% else %}
    std::vector<JinjaNode> body;
    std::string end;
    HY_RETURN_IF_ERROR(ParseBody(&body, ends, &end, &segment));
    node->branches.emplace_back(std::move(condition), std::move(body));
    if (end == "elif") {
      HY_ASSIGN_OR_RETURN(condition, ParseExpr());
    }
    HY_RETURN_IF_ERROR(ExpectEnd());
    if (end == "endif") return absl::OkStatus();
  }
}

absl::Status JinjaParser::ParseFor(const JinjaSegment& segment, JinjaNode* node) {
  node->kind = JinjaNode::Kind::kFor;
  do {
    HY_ASSIGN_OR_RETURN(std::string target, ExpectName());
    node->targets.push_back(std::move(target));
  } while (AcceptOp(","));
  if (!AcceptName("in")) return Error(Peek().pos, "expected 'in'");
  // Not ParseExpr: a trailing `if` filters the loop instead of starting `a if b else c`.
  HY_ASSIGN_OR_RETURN(node->expr, ParseLogical(/*is_or=*/true));
  if (AcceptName("if")) {
    HY_ASSIGN_OR_RETURN(node->filter, ParseLogical(/*is_or=*/true));
  }
  HY_RETURN_IF_ERROR(ExpectEnd());
  std::string end;
  HY_RETURN_IF_ERROR(ParseBody(&node->body, {"else", "endfor"}, &end, &segment));
  if (end == "else") {
    HY_RETURN_IF_ERROR(ExpectEnd());
    HY_RETURN_IF_ERROR(ParseBody(&node->else_body, {"endfor"}, &end, &segment));
  }
  return ExpectEnd();
}

absl::Status JinjaParser::ParseSet(JinjaNode* node) {
  node->kind = JinjaNode::Kind::kSet;
  HY_ASSIGN_OR_RETURN(std::string target, ExpectName());
  node->targets.push_back(std::move(target));
  if (AcceptOp(".")) {
    HY_ASSIGN_OR_RETURN(node->attribute, ExpectName());
  }
  if (!AcceptOp("=")) return Error(Peek().pos, "expected '=' (block set is not supported)");
  HY_ASSIGN_OR_RETURN(node->expr, ParseExpr());
  return ExpectEnd();
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseExpr() {
  HY_ASSIGN_OR_RETURN(ExprPtr value, ParseLogical(/*is_or=*/true));
  const size_t pos = Peek().pos;
  if (!AcceptName("if")) return value;
  HY_ASSIGN_OR_RETURN(ExprPtr condition, ParseLogical(/*is_or=*/true));
  ExprPtr expr = Over(Kind::kCond, pos, std::move(value), std::move(condition));
  ExprPtr otherwise;
  if (AcceptName("else")) {
    HY_ASSIGN_OR_RETURN(otherwise, ParseExpr());
  }
  expr->args.push_back(std::move(otherwise));
  return expr;
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseLogical(bool is_or) {
  HY_ASSIGN_OR_RETURN(ExprPtr left, is_or ? ParseLogical(false) : ParseNot());
  for (size_t pos = Peek().pos; AcceptName(is_or ? "or" : "and"); pos = Peek().pos) {
    HY_ASSIGN_OR_RETURN(ExprPtr right, is_or ? ParseLogical(false) : ParseNot());
    left = Over(is_or ? Kind::kOr : Kind::kAnd, pos, std::move(left), std::move(right));
  }
  return left;
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseNot() {
  const size_t pos = Peek().pos;
  if (!AcceptName("not")) return ParseCompare();
  HY_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
  return Over(Kind::kNot, pos, std::move(operand));
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseCompare() {
  HY_ASSIGN_OR_RETURN(ExprPtr left, ParseBinary(0));
  while (true) {
    const JinjaToken& token = Peek();
    std::string op;
    static constexpr absl::string_view kOps[] = {"==", "!=", "<", "<=", ">", ">="};
    if (token.kind == TokenKind::kOp &&
        std::find(std::begin(kOps), std::end(kOps), token.text) != std::end(kOps)) {
      op = token.text;
    } else if (token.kind == TokenKind::kName && token.text == "in") {
      op = "in";
    } else if (token.kind == TokenKind::kName && token.text == "not" &&
               Peek(1).kind == TokenKind::kName && Peek(1).text == "in") {
      op = "not in";
      ++token_;
    } else {
      return left;
    }
    ++token_;
    HY_ASSIGN_OR_RETURN(ExprPtr right, ParseBinary(0));
    left = Over(Kind::kBinary, token.pos, std::move(left), std::move(right));
    left->name = op;
  }
}

// Level 0: + -, level 1: ~, level 2: * / // %, then unary.
absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseBinary(int level) {
  static const std::vector<std::vector<absl::string_view>> kLevels = {
      {"+", "-"}, {"~"}, {"*", "/", "//", "%"}};
  if (level == static_cast<int>(kLevels.size())) return ParseUnary(/*with_filters=*/true);
  HY_ASSIGN_OR_RETURN(ExprPtr left, ParseBinary(level + 1));
  const auto& ops = kLevels[level];
  while (Peek().kind == TokenKind::kOp &&
         std::find(ops.begin(), ops.end(), Peek().text) != ops.end()) {
    const JinjaToken& token = (*tokens_)[token_++];
    HY_ASSIGN_OR_RETURN(ExprPtr right, ParseBinary(level + 1));
    left = Over(Kind::kBinary, token.pos, std::move(left), std::move(right));
    left->name = token.text;
  }
  return left;
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseUnary(bool with_filters) {
  ExprPtr expr;
  const JinjaToken& token = Peek();
  if (token.kind == TokenKind::kOp && (token.text == "-" || token.text == "+")) {
    ++token_;
    HY_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(/*with_filters=*/false));
    expr = token.text == "-" ? Over(Kind::kNeg, token.pos, std::move(operand)) : std::move(operand);
  } else {
    HY_ASSIGN_OR_RETURN(ExprPtr primary, ParsePrimary());
    HY_ASSIGN_OR_RETURN(expr, ParsePostfix(std::move(primary)));
  }
  if (!with_filters) return expr;
  return ParseFilters(std::move(expr));
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParsePrimary() {
  const JinjaToken& token = Peek();
  switch (token.kind) {
    case TokenKind::kName: {
      ++token_;
      const absl::string_view word = token.text;
      if (word == "true" || word == "True" || word == "false" || word == "False") {
        return MakeExpr(Kind::kLiteral, token.pos,
                        JinjaValue::Bool(word[0] == 't' || word[0] == 'T'));
      }
      if (word == "none" || word == "None") {
        return MakeExpr(Kind::kLiteral, token.pos, JinjaValue::None());
      }
      ExprPtr name = MakeExpr(Kind::kName, token.pos);
      name->name = token.text;
      return name;
    }
    case TokenKind::kString: {
      std::string text;  // adjacent literals concatenate, as in Python
      while (Peek().kind == TokenKind::kString) text += (*tokens_)[token_++].text;
      return MakeExpr(Kind::kLiteral, token.pos, JinjaValue::String(std::move(text)));
    }
    case TokenKind::kInt:
    case TokenKind::kFloat:
      ++token_;
      return MakeExpr(Kind::kLiteral, token.pos,
                      token.kind == TokenKind::kInt ? JinjaValue::Int(token.int_value)
                                                    : JinjaValue::Float(token.float_value));
    case TokenKind::kOp:
      break;
    case TokenKind::kEnd:
      return Error(token.pos, "unexpected end of expression");
  }
  const std::string close = token.text == "(" ? ")" : token.text == "[" ? "]" : "}";
  if (close == "}" && token.text != "{") {
    return Error(token.pos, absl::StrCat("unexpected '", token.text, "'"));
  }
  ++token_;
  // (expr), a tuple (a, b) (read as a list), a list [a, b] or a dict {k: v}.
  ExprPtr group = MakeExpr(token.text == "{" ? Kind::kDict : Kind::kList, token.pos);
  bool trailing_comma = false;
  while (!AcceptOp(close)) {
    HY_ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
    group->args.push_back(std::move(item));
    if (group->kind == Kind::kDict) {
      HY_RETURN_IF_ERROR(ExpectOp(":"));
      HY_ASSIGN_OR_RETURN(ExprPtr value, ParseExpr());
      group->args.push_back(std::move(value));
    }
    trailing_comma = AcceptOp(",");
    if (!trailing_comma) {
      HY_RETURN_IF_ERROR(ExpectOp(close));
      break;
    }
  }
  if (close == ")" && group->args.size() == 1 && !trailing_comma) return std::move(group->args[0]);
  if (close == ")" && group->args.empty()) return Error(token.pos, "empty parentheses");
  return group;
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParsePostfix(ExprPtr expr) {
  while (Peek().kind == TokenKind::kOp) {
    const JinjaToken& token = Peek();
    if (token.text == "(") {
      expr = Over(Kind::kCall, token.pos, std::move(expr));
      expr->keywords.push_back("");
      HY_RETURN_IF_ERROR(ParseCallArgs(expr.get()));
      continue;
    }
    if (token.text != "." && token.text != "[") break;
    ++token_;
    if (token.text == ".") {
      expr = Over(Kind::kAttr, token.pos, std::move(expr));
      HY_ASSIGN_OR_RETURN(expr->name, ExpectName());
      continue;
    }
    // x[i] or x[start:stop:step]
    std::vector<ExprPtr> parts(1);
    while (true) {
      if (!(Peek().kind == TokenKind::kOp && (Peek().text == ":" || Peek().text == "]"))) {
        HY_ASSIGN_OR_RETURN(parts.back(), ParseExpr());
      }
      if (!AcceptOp(":")) break;
      parts.emplace_back();
    }
    HY_RETURN_IF_ERROR(ExpectOp("]"));
    if (parts.size() > 3 || (parts.size() == 1 && parts[0] == nullptr)) {
      return Error(token.pos, "bad subscript");
    }
    const bool slice = parts.size() > 1;
    parts.resize(slice ? 3 : 1);
    expr = Over(slice ? Kind::kSlice : Kind::kIndex, token.pos, std::move(expr));
    for (ExprPtr& part : parts) expr->args.push_back(std::move(part));
  }
  return expr;
}

absl::StatusOr<JinjaParser::ExprPtr> JinjaParser::ParseFilters(ExprPtr expr) {
  while (true) {
    const size_t pos = Peek().pos;
    const bool filter = AcceptOp("|");
    if (!filter && !AcceptName("is")) return expr;
    expr = Over(filter ? Kind::kFilter : Kind::kTest, pos, std::move(expr));
    expr->keywords.push_back("");
    expr->negated = !filter && AcceptName("not");
    const size_t name_pos = Peek().pos;
    HY_ASSIGN_OR_RETURN(expr->name, ExpectName());
    if (filter ? !IsJinjaFilter(expr->name) : !IsJinjaTest(expr->name)) {
      return Error(name_pos,
                   absl::StrCat("unknown ", filter ? "filter" : "test", " '", expr->name, "'"));
    }
    if (Peek().kind == TokenKind::kOp && Peek().text == "(") {
      HY_RETURN_IF_ERROR(ParseCallArgs(expr.get()));
    } else if (!filter && (Peek().kind == TokenKind::kString || Peek().kind == TokenKind::kInt ||
                           Peek().kind == TokenKind::kFloat)) {
      HY_ASSIGN_OR_RETURN(ExprPtr argument, ParsePrimary());  // `is divisibleby 3`
      expr->args.push_back(std::move(argument));
      expr->keywords.push_back("");
    }
  }
}

absl::Status JinjaParser::ParseCallArgs(JinjaExpr* call) {
  HY_RETURN_IF_ERROR(ExpectOp("("));
  while (!AcceptOp(")")) {
    std::string keyword;
    if (Peek().kind == TokenKind::kName && Peek(1).kind == TokenKind::kOp && Peek(1).text == "=") {
      keyword = Peek().text;
      token_ += 2;
    }
    HY_ASSIGN_OR_RETURN(ExprPtr argument, ParseExpr());
    call->args.push_back(std::move(argument));
    call->keywords.push_back(std::move(keyword));
    if (!AcceptOp(",")) return ExpectOp(")");
  }
  return absl::OkStatus();
}

const JinjaToken& JinjaParser::Peek(size_t ahead) const {
  return (*tokens_)[std::min(token_ + ahead, tokens_->size() - 1)];
}

bool JinjaParser::Accept(JinjaToken::Kind kind, absl::string_view text) {
  if (Peek().kind != kind || Peek().text != text) return false;
  ++token_;
  return true;
}

absl::Status JinjaParser::ExpectOp(absl::string_view op) {
  if (AcceptOp(op)) return absl::OkStatus();
  return Error(Peek().pos, absl::StrCat("expected '", op, "'"));
}

absl::StatusOr<std::string> JinjaParser::ExpectName() {
  if (Peek().kind != TokenKind::kName) return Error(Peek().pos, "expected a name");
  return (*tokens_)[token_++].text;
}

absl::Status JinjaParser::ExpectEnd() {
  if (Peek().kind == TokenKind::kEnd) return absl::OkStatus();
  return Error(Peek().pos, absl::StrCat("unexpected '", Peek().text, "'"));
}

absl::Status JinjaParser::Error(size_t pos, absl::string_view message) const {
  return JinjaError(source_, pos, message);
}

}  // namespace hymba::engine
