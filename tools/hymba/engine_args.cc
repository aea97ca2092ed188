#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {

absl::StatusOr<engine::EngineOptions> EngineOptionsFromArgs(CliArgs& args,
                                                            const std::string& default_precision,
                                                            int default_slots) {
  engine::EngineOptions o;
  HY_ASSIGN_OR_RETURN(o.model_dir, args.String("model"));
  o.backend.precision = args.StringOr("precision", default_precision);
  o.backend.device = args.StringOr("device", "auto");
  HY_ASSIGN_OR_RETURN(o.backend.threads, args.IntOr("threads", 0));
  HY_ASSIGN_OR_RETURN(o.max_slots, args.IntOr("max-slots", default_slots));
  HY_ASSIGN_OR_RETURN(o.max_seq_len, args.IntOr("max-seq-len", 0));
  return o;
}

}  // namespace hymba::tools
