#include "engine/hymba_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kv/slot_store.h"
#include "engine/model/hymba_forward.h"
#include "engine/model/hymba_weights.h"
#include "engine/model/safetensors.h"

namespace hymba::engine {

struct HymbaEngine::Parts {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<HymbaForward> forward;
  std::unique_ptr<SlotStore> slots;
};

namespace {

std::string BaseName(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.find_last_of('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

double MiB(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

HymbaEngine::HymbaEngine(const EngineOptions& options, const HymbaConfig& config)
    : options_(options), config_(config), parts_(std::make_unique<Parts>()) {}
HymbaEngine::~HymbaEngine() = default;

absl::StatusOr<std::unique_ptr<HymbaEngine>> HymbaEngine::Create(const EngineOptions& options) {
  HY_ASSIGN_OR_RETURN(HymbaConfig config, HymbaConfig::Load(options.model_dir));
  EngineOptions opts = options;
  const int M = config.num_memory_tokens;
  if (opts.max_slots <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat("max_slots = ", opts.max_slots, ": must be > 0"));
  if (opts.max_seq_len < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("max_seq_len = ", opts.max_seq_len, ": must be >= 0"));
  if (opts.max_seq_len == 0) {
    if (config.max_position_embeddings <= M)
      return absl::InvalidArgumentError(
          "max_seq_len: config.json gives no usable max_position_embeddings; set it explicitly");
    opts.max_seq_len = config.max_position_embeddings - M;
  }
  if (config.mamba_d_state > kMaxSsmState)
    return absl::InvalidArgumentError(absl::StrCat("mamba_d_state = ", config.mamba_d_state,
                                                   ": at most ", kMaxSsmState, " is supported"));

  std::unique_ptr<HymbaEngine> e(new HymbaEngine(opts, config));
  HY_ASSIGN_OR_RETURN(auto archive, SafetensorsArchive::Open(opts.model_dir));
  HY_ASSIGN_OR_RETURN(HymbaWeights weights, HymbaWeights::Load(*archive, config));
  HY_ASSIGN_OR_RETURN(e->parts_->backend, CreateBackend(opts.backend));
  Backend* backend = e->parts_->backend.get();
  HY_ASSIGN_OR_RETURN(e->parts_->forward, HymbaForward::Create(config, weights, backend));
  archive.reset();  // weights now live in the backend
  HY_ASSIGN_OR_RETURN(e->parts_->slots, SlotStore::Create(config, backend, opts.max_slots,
                                                          opts.max_seq_len, opts.kv_cache_bf16));
  e->slot_length_.assign(opts.max_slots, 0);
  HY_RETURN_IF_ERROR(e->RunMetaPass(-1));

  EngineInfo& info = e->info_;
  info.model_name = BaseName(opts.model_dir);
  info.device = backend->name();
  info.precision = PrecisionName(backend->precision());
  info.vocab_size = config.vocab_size;
  info.max_slots = opts.max_slots;
  info.max_seq_len = opts.max_seq_len;
  info.num_meta_tokens = M;
  info.eos_token_id = config.eos_token_id;
  info.bos_token_id = config.bos_token_id;
  info.weight_bytes = e->parts_->forward->weight_bytes();
  info.streamed_weight_bytes = e->parts_->forward->streamed_weight_bytes();
  info.state_bytes_per_slot = e->parts_->slots->bytes_per_slot();
  info.shared_prefix_bytes = e->parts_->slots->shared_prefix_bytes();
  spdlog::info(
      "engine: model {} on {} ({}), {} layers, hidden {}, {} meta tokens; {} slots x {} tokens; "
      "weights {:.1f} MiB, state {:.2f} MiB/slot ({:.1f} MiB total), shared meta prefix {:.2f} MiB",
      info.model_name, info.device, info.precision, config.num_hidden_layers, config.hidden_size, M,
      info.max_slots, info.max_seq_len, MiB(info.weight_bytes), MiB(info.state_bytes_per_slot),
      MiB(info.state_bytes_per_slot * info.max_slots), MiB(info.shared_prefix_bytes));
  return e;
}

int HymbaEngine::SlotLength(int slot) const {
  HY_CHECK(slot >= 0 && slot < static_cast<int>(slot_length_.size()));
  return slot_length_[slot];
}

absl::Status HymbaEngine::CopySlot(int from, int to) {
  const int slots = static_cast<int>(slot_length_.size());
  if (from < 0 || from >= slots || to < 0 || to >= slots || from == to)
    return absl::InvalidArgumentError(absl::StrCat(
        "CopySlot(", from, ", ", to, "): slots must differ and lie in [0, ", slots, ")"));
  parts_->slots->CopySlot(from, to);
  slot_length_[to] = slot_length_[from];
  return absl::OkStatus();
}

absl::Status HymbaEngine::RunMetaPass(int target_slot) {
  const int M = config_.num_memory_tokens;
  if (M == 0) return absl::OkStatus();
  std::vector<SeqSpan> seqs = {SeqSpan{0, 0, M, 0}};
  std::vector<int32_t> positions(M);
  for (int i = 0; i < M; ++i) positions[i] = i;
  ForwardBatch batch;
  batch.seqs = seqs;
  batch.positions = positions;
  const StateView view = parts_->slots->MetaPassView(target_slot);
  return parts_->forward->Run(batch, view, nullptr);
}

absl::Status HymbaEngine::Validate(const BatchPlan& plan) const {
  std::vector<bool> seen(options_.max_slots, false);
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const BatchEntry& e = plan.entries[i];
    const std::string where = absl::StrCat("entries[", i, "].");
    if (e.slot < 0 || e.slot >= options_.max_slots)
      return absl::InvalidArgumentError(
          absl::StrCat(where, "slot = ", e.slot, ": must be in [0, ", options_.max_slots, ")"));
    if (seen[e.slot])
      return absl::InvalidArgumentError(absl::StrCat(where, "slot = ", e.slot, ": used twice"));
    seen[e.slot] = true;
    if (e.tokens.empty()) return absl::InvalidArgumentError(where + "tokens: empty");
    const int length = e.reset_slot ? 0 : slot_length_[e.slot];
    if (e.start_pos != length)
      return absl::InvalidArgumentError(
          absl::StrCat(where, "start_pos = ", e.start_pos, ": the slot holds ", length, " tokens"));
    if (length + static_cast<int>(e.tokens.size()) > options_.max_seq_len)
      return absl::InvalidArgumentError(absl::StrCat(where, "tokens: context ", length, " + ",
                                                     e.tokens.size(), " exceeds max_seq_len ",
                                                     options_.max_seq_len));
    for (int32_t id : e.tokens)
      if (id < 0 || id >= config_.vocab_size)
        return absl::InvalidArgumentError(absl::StrCat(
            where, "tokens: id ", id, " outside the vocabulary [0, ", config_.vocab_size, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StepResult> HymbaEngine::Step(const BatchPlan& plan) {
  HY_RETURN_IF_ERROR(Validate(plan));
  const int M = config_.num_memory_tokens;
  std::vector<SeqSpan> seqs;
  std::vector<int32_t> ids, positions, logit_rows;
  StepResult result;
  result.vocab_size = config_.vocab_size;
  for (const BatchEntry& e : plan.entries) {
    if (e.reset_slot) {
      if (options_.recompute_meta_per_sequence) {
        parts_->slots->ClearSlot(e.slot);
        HY_RETURN_IF_ERROR(RunMetaPass(e.slot));
      } else {
        parts_->slots->ResetSlot(e.slot);
      }
      slot_length_[e.slot] = 0;
    }
    const int row = static_cast<int>(ids.size());
    const int len = static_cast<int>(e.tokens.size());
    seqs.push_back(SeqSpan{e.slot, row, len, M + e.start_pos});
    ids.insert(ids.end(), e.tokens.begin(), e.tokens.end());
    for (int t = 0; t < len; ++t) positions.push_back(M + e.start_pos + t);
    result.row_begin.push_back(static_cast<int>(logit_rows.size()));
    if (e.logits == LogitsMode::kAll) {
      for (int t = 0; t < len; ++t) logit_rows.push_back(row + t);
    } else if (e.logits == LogitsMode::kLast) {
      logit_rows.push_back(row + len - 1);
    }
    result.row_count.push_back(static_cast<int>(logit_rows.size()) - result.row_begin.back());
  }
  result.logits.resize(logit_rows.size() * static_cast<size_t>(config_.vocab_size));
  ForwardBatch batch;
  batch.seqs = seqs;
  batch.ids = ids;
  batch.positions = positions;
  batch.logit_rows = logit_rows;
  HY_RETURN_IF_ERROR(
      parts_->forward->Run(batch, parts_->slots->slots_view(), result.logits.data()));
  for (const BatchEntry& e : plan.entries)
    slot_length_[e.slot] += static_cast<int>(e.tokens.size());
  return result;
}

}  // namespace hymba::engine
