// The built-in filters, tests, functions and methods a chat template can call (JinjaRenderer's
// library): the subset of Jinja's, with `tojson` as Hugging Face defines it (json.dumps with
// ensure_ascii=False) and the str / dict methods templates use (e.g. `message['content'].strip()`).
// The list is in chat_template.h. raise_exception is handled by the renderer.
//
// Thread safety: pure functions.
// Errors: InvalidArgument with a message without a position (the renderer adds it): an unknown
// name, or arguments of the wrong type or number.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/jinja_value.h"

namespace hymba::engine {

struct JinjaArgs {
  std::vector<JinjaValue> positional;
  std::vector<std::pair<std::string, JinjaValue>> keyword;

  // The positional argument `index`, else the keyword argument `name`; nullptr when neither.
  const JinjaValue* Get(size_t index, absl::string_view name) const;
};

// Whether ApplyJinjaFilter / ApplyJinjaTest know `name` (checked when a template is parsed).
bool IsJinjaFilter(absl::string_view name);
bool IsJinjaTest(absl::string_view name);

// `input | name(args)`.
absl::StatusOr<JinjaValue> ApplyJinjaFilter(absl::string_view name, const JinjaValue& input,
                                            const JinjaArgs& args);
// `input is name(args)`.
absl::StatusOr<bool> ApplyJinjaTest(absl::string_view name, const JinjaValue& input,
                                    const JinjaArgs& args);
// `self.name(args)` for str and dict methods.
absl::StatusOr<JinjaValue> CallJinjaMethod(const JinjaValue& self, absl::string_view name,
                                           const JinjaArgs& args);
// `name(args)` for the global functions namespace() and range().
absl::StatusOr<JinjaValue> CallJinjaFunction(absl::string_view name, const JinjaArgs& args);
// The items a for loop visits: a list's items, a dict's keys, a string's characters; none for
// undefined.
absl::StatusOr<JinjaList> IterateJinja(const JinjaValue& value);

}  // namespace hymba::engine
