// JinjaParser: the syntax tree of a chat template (expressions and statements), built from
// JinjaLexer's segments. The grammar and precedence follow Jinja's parser: conditional expression <
// or < and < not < comparisons (== != < <= > >= in, not in) < + - < ~ < * / // % < unary - <
// primary with .attr, [index], [slice], (call), then | filter and `is` test.
//
// Thread safety: stateless (Parse is a pure function); the tree is immutable once built.
// Errors: InvalidArgument "chat template: line L, column C: ..." (unexpected token, missing end
// tag, unsupported tag such as macro or raw).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/jinja_lexer.h"
#include "engine/model/jinja_value.h"

namespace hymba::engine {

struct JinjaExpr {
  enum class Kind {
    kLiteral,
    kName,
    kList,
    kDict,
    kAttr,
    kIndex,
    kSlice,
    kCall,
    kFilter,
    kTest,
    kNot,
    kNeg,
    kBinary,
    kAnd,
    kOr,
    kCond,
  };
  Kind kind = Kind::kLiteral;
  size_t pos = 0;
  JinjaValue value;  // kLiteral
  // kName: the variable; kAttr: the attribute; kFilter / kTest: its name; kBinary: the operator.
  std::string name;
  // kAttr, kIndex, kSlice, kCall, kFilter, kTest, kNot, kNeg: args[0] is the operand (the callee
  // for kCall). kIndex: args[1] the key. kSlice: args[1..3] start, stop, step (null if omitted).
  // kCall, kFilter, kTest: args[1..] the arguments. kBinary, kAnd, kOr: args[0] op args[1].
  // kCond: args[0] if args[1] else args[2] (null if omitted). kList: the items. kDict: key, value,
  // key, value, ...
  std::vector<std::unique_ptr<JinjaExpr>> args;
  // kCall, kFilter, kTest: the keyword of each of args ("" for positional ones and for args[0]).
  std::vector<std::string> keywords;
  bool negated = false;  // kTest: `is not`
};

struct JinjaNode {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kBreak, kContinue };
  Kind kind = Kind::kText;
  size_t pos = 0;
  std::string text;                   // kText
  std::unique_ptr<JinjaExpr> expr;    // kOutput: the value; kFor: the iterable; kSet: the value
  std::unique_ptr<JinjaExpr> filter;  // kFor: `for x in xs if filter` (null when absent)
  std::vector<std::string> targets;   // kFor: the loop variables; kSet: the variable
  std::string attribute;              // kSet: `set ns.attribute = ...`
  // kIf: (condition, body) per if / elif, then (null, body) for else.
  std::vector<std::pair<std::unique_ptr<JinjaExpr>, std::vector<JinjaNode>>> branches;
  std::vector<JinjaNode> body;       // kFor
  std::vector<JinjaNode> else_body;  // kFor: rendered when nothing was iterated
};

class JinjaParser {
 public:
  static absl::StatusOr<std::vector<JinjaNode>> Parse(absl::string_view source);

 private:
  using ExprPtr = std::unique_ptr<JinjaExpr>;

  JinjaParser(absl::string_view source, std::vector<JinjaSegment> segments);

  // Statements: appends nodes to `out` until one of `ends` (then `*end` names it, and the tokens of
  // that tag are current) or, when `ends` is empty, the end of the template.
  absl::Status ParseBody(std::vector<JinjaNode>* out, std::vector<absl::string_view> ends,
                         std::string* end, const JinjaSegment* opener);
  absl::Status ParseStatement(const JinjaSegment& segment, JinjaNode* node);
  absl::Status ParseIf(const JinjaSegment& segment, JinjaNode* node);
  absl::Status ParseFor(const JinjaSegment& segment, JinjaNode* node);
  absl::Status ParseSet(JinjaNode* node);

  // Expressions over the current tag's tokens.
  absl::StatusOr<ExprPtr> ParseExpr();
  absl::StatusOr<ExprPtr> ParseLogical(bool is_or);  // `or` over `and`
  absl::StatusOr<ExprPtr> ParseNot();
  absl::StatusOr<ExprPtr> ParseCompare();
  absl::StatusOr<ExprPtr> ParseBinary(int level);
  absl::StatusOr<ExprPtr> ParseUnary(bool with_filters);
  absl::StatusOr<ExprPtr> ParsePrimary();
  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr expr);
  absl::StatusOr<ExprPtr> ParseFilters(ExprPtr expr);
  absl::Status ParseCallArgs(JinjaExpr* call);

  const JinjaToken& Peek(size_t ahead = 0) const;
  // Consumes the next token when it is `text` of `kind`.
  bool Accept(JinjaToken::Kind kind, absl::string_view text);
  bool AcceptOp(absl::string_view op) { return Accept(JinjaToken::Kind::kOp, op); }
  bool AcceptName(absl::string_view name) { return Accept(JinjaToken::Kind::kName, name); }
  absl::Status ExpectOp(absl::string_view op);
  absl::StatusOr<std::string> ExpectName();
  absl::Status ExpectEnd();
  absl::Status Error(size_t pos, absl::string_view message) const;

  absl::string_view source_;
  std::vector<JinjaSegment> segments_;
  size_t segment_ = 0;                               // the next segment to parse
  const std::vector<JinjaToken>* tokens_ = nullptr;  // the current tag's tokens
  size_t token_ = 0;
};

}  // namespace hymba::engine
