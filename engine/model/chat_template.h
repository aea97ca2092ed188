// ChatTemplate: renders a conversation into prompt text with the Jinja `chat_template` a checkpoint
// ships in tokenizer_config.json (HYMBA.md, "Tokenizer and chat"), e.g. Hymba-1.5B-Instruct's
// `<extra_id_0>System ... <extra_id_1>User ... <extra_id_1>Assistant` template.
//
// A small interpreter for the Jinja subset chat templates use (jinja_lexer, jinja_parser,
// jinja_renderer, jinja_operators, jinja_builtins), rendering as Hugging Face does: trim_blocks,
// lstrip_blocks, no autoescape, the source's final newline dropped, loop controls enabled, and
// `tojson` as json.dumps(ensure_ascii=False). Supported:
//   - text, {{ expr }}, {# comments #}, whitespace control {%- -%} {{- -}} and {%+ +%};
//   - if / elif / else; for x in xs [if cond] ... else ... endfor with loop.index0, index,
//     revindex, revindex0, first, last, length, previtem, nextitem, tuple targets
//     (`for k, v in d.items()`), break and continue; set x = ..., set ns.attr = ...;
//   - literals (strings with Python escapes, ints, floats, true/false/none, lists, dicts, tuples
//     read as lists), + - * / // % ~, comparisons, and / or / not, in / not in, `a if c else b`,
//     .attr, [index], [start:stop:step], `is [not] test`;
//   - filters trim, length / count, tojson(indent), upper, lower, capitalize, title, default / d,
//     first, last, join, string, safe, replace, int, list, items, reverse; tests defined,
//     undefined, none, string, number, integer, float, boolean, true, false, mapping, sequence,
//     iterable, odd, even, eq / equalto / sameas; str methods strip, lstrip, rstrip, upper, lower,
//     capitalize, title, startswith, endswith, replace, split; dict methods items, keys, values,
//     get; functions raise_exception(msg), namespace(...), range(...).
// Not supported (a parse error, so a checkpoint that needs them fails at load): macros, call and
// filter blocks, block `set`, raw, include / extends, `**`, filters and tests not listed above.
// Case mapping is ASCII only. Variables: messages (a list of {role, content}), bos_token,
// eos_token, add_generation_prompt, and any extra variables given as JSON (tools, contexts, ...);
// everything else is undefined (printed as "", false in tests, an error when used as an object).
//
// Thread safety: an immutable value once parsed; copies share the parsed program; Render is const
// and safe to call concurrently.
// Errors: Parse returns InvalidArgument "chat template: line L, column C: ..." on syntax errors.
// Render returns InvalidArgument with the template's own message for raise_exception(msg), and
// "chat template: line L, column C: ..." for other failures (an undefined value used as an object
// or operand, type errors, division by zero).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/api/text_codec.h"

namespace hymba::engine {

class ChatTemplate {
 public:
  static absl::StatusOr<ChatTemplate> Parse(const std::string& source);

  absl::StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                                     bool add_generation_prompt, const std::string& bos_token,
                                     const std::string& eos_token) const;

  // Same, with extra template variables from a JSON object, e.g. `{"tools": [...]}`.
  // InvalidArgument when `extra_variables_json` is not a JSON object.
  absl::StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                                     bool add_generation_prompt, const std::string& bos_token,
                                     const std::string& eos_token,
                                     absl::string_view extra_variables_json) const;

  struct Program;  // the parsed template (chat_template.cc)

 private:
  explicit ChatTemplate(std::shared_ptr<const Program> program);

  std::shared_ptr<const Program> program_;
};

}  // namespace hymba::engine
