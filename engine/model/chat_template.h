// ChatTemplate: renders a conversation into prompt text with the Jinja `chat_template` a checkpoint
// ships in tokenizer_config.json (HYMBA.md, "Tokenizer and chat"), such as Hymba-1.5B-Instruct's
// `<extra_id_0>System ... <extra_id_1>User ... <extra_id_1>Assistant` template.
//
// The interpreter covers the Jinja subset chat templates use, with the settings Hugging Face
// renders them with (trim_blocks, lstrip_blocks, no autoescape, the final newline of the source
// dropped):
//   - text, {{ expr }}, {# comments #}, whitespace control {%- -%} {{- -}} (and {%+ to keep);
//   - {% if %}/{% elif %}/{% else %}/{% endif %}; {% for x in xs [if cond] %} ... {% else %}
//     {% endfor %} with loop.index0/index/revindex/revindex0/first/last/length, tuple targets
//     (`for k, v in d.items()`), {% break %}/{% continue %}; {% set x = ... %}, {% set ns.x = ...
//     %} (loop bodies scope their variables as Jinja does);
//   - literals (strings with escapes, ints, floats, true/false/none, lists, dicts), + - * / // % ~,
//     comparisons, and/or/not, in/not in, `a if c else b`, attribute and subscript access, slices;
//   - filters trim, length/count, tojson(indent), upper, lower, default/d, first, last, join,
//   string,
//     safe, capitalize, title, replace, int, list, items, reverse; tests defined, undefined, none,
//     string, number, integer, float, boolean, mapping, sequence, iterable, odd, even, true, false,
//     eq/equalto; string methods strip/lstrip/rstrip/upper/lower/title/capitalize/startswith/
//     endswith/replace/split and dict methods items/keys/values/get;
//   - functions raise_exception(msg), namespace(...), range(...).
// Variables: messages (list of {role, content}), bos_token, eos_token, add_generation_prompt, plus
// any extra variables given as JSON (e.g. tools, contexts); anything else is undefined.
// Case mapping (upper/lower/title) is ASCII only.
//
// Thread safety: an immutable value once parsed; copies share the parsed program; Render is const
// and safe to call concurrently.
// Errors: Parse returns InvalidArgument "chat template: line L, column C: ..." on syntax errors.
// Render returns InvalidArgument with the template's own message for raise_exception(msg), and with
// the position for other failures (using an undefined value as an object or operand, calling an
// unknown function, type errors).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hymba::engine {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

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
