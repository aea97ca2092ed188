#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace hymba::engine {
namespace {

using json = nlohmann::json;

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<DType> ParseDType(const std::string& name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return absl::InvalidArgumentError(name);
}

// Reads a non-negative integer that fits in int64.
bool ReadIndex(const json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (!v.is_number_integer() || v.get<int64_t>() < 0) return false;
  *out = v.get<int64_t>();
  return true;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Validates one header entry and fills `view` (all but `data`); `begin`/`end` are relative to the
// data section of `data_size` bytes.
absl::Status ParseEntry(const std::string& path, const std::string& name, const json& entry,
                        uint64_t data_size, TensorView* view, int64_t* begin) {
  const auto malformed = [&](const char* what) {
    return absl::DataLossError(
        absl::StrFormat("%s: tensor %s: malformed header entry (%s)", path, name, what));
  };
  if (!entry.is_object()) return malformed("not an object");
  auto dtype = entry.find("dtype");
  auto shape = entry.find("shape");
  auto offsets = entry.find("data_offsets");
  if (dtype == entry.end() || !dtype->is_string()) return malformed("no string \"dtype\"");
  if (shape == entry.end() || !shape->is_array()) return malformed("no \"shape\" list");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
    return malformed("no [begin, end] \"data_offsets\"");
  }
  const std::string dtype_name = dtype->get<std::string>();
  absl::StatusOr<DType> parsed = ParseDType(dtype_name);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: tensor %s has unsupported dtype %s (supported: F32, F16, BF16)", path,
                        name, dtype_name));
  }
  view->name = name;
  view->dtype = *parsed;
  view->shape.clear();
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& dim : *shape) {
    int64_t d = 0;
    if (!ReadIndex(dim, &d)) return malformed("shape entries must be non-negative integers");
    view->shape.push_back(d);
    overflow |= __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
  }
  uint64_t want = 0;
  overflow |= __builtin_mul_overflow(numel, DTypeSize(view->dtype), &want);
  int64_t end = 0;
  if (!ReadIndex((*offsets)[0], begin) || !ReadIndex((*offsets)[1], &end)) {
    return malformed("data_offsets must be non-negative integers");
  }
  if (*begin > end || static_cast<uint64_t>(end) > data_size) {
    return absl::DataLossError(absl::StrFormat(
        "%s: tensor %s: data_offsets [%d, %d] outside the %d-byte data section (truncated?)", path,
        name, *begin, end, data_size));
  }
  if (overflow || static_cast<uint64_t>(end - *begin) != want) {
    return absl::DataLossError(absl::StrFormat(
        "%s: tensor %s: data_offsets [%d, %d] hold %d bytes, but shape %s of %s needs %s", path,
        name, *begin, end, end - *begin, ShapeString(view->shape), dtype_name,
        overflow ? std::string("over 2^64") : absl::StrCat(want)));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> ReadIndexFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  json index = json::parse(body.begin(), body.end(), nullptr, false);
  if (index.is_discarded() || !index.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": malformed JSON"));
  }
  auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object() || map->empty()) {
    return absl::DataLossError(absl::StrCat(path, ": no \"weight_map\" object listing tensors"));
  }
  for (auto it = map->begin(); it != map->end(); ++it) {
    const json& file = it.value();
    if (!file.is_string() || file.get<std::string>().empty() ||
        file.get<std::string>().find('/') != std::string::npos || file.get<std::string>() == "..") {
      return absl::DataLossError(
          absl::StrFormat("%s: weight_map entry for %s must be a file name in the model directory",
                          path, it.key()));
    }
  }
  return json(std::move(*map));
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct SafetensorsArchive::Mapping {
  std::string path;
  void* addr = nullptr;
  size_t size = 0;

  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

SafetensorsArchive::~SafetensorsArchive() = default;

absl::StatusOr<std::unique_ptr<SafetensorsArchive>> SafetensorsArchive::OpenFile(
    const std::string& path) {
  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  HY_RETURN_IF_ERROR(archive->AddFile(path, nullptr));
  return archive;
}

absl::StatusOr<std::unique_ptr<SafetensorsArchive>> SafetensorsArchive::Open(
    const std::string& model_dir) {
  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  const std::string index_path = model_dir + "/" + kIndexFile;
  if (!Exists(index_path)) {
    const std::string single = model_dir + "/" + kSingleFile;
    if (!Exists(single)) {
      return absl::NotFoundError(absl::StrFormat("%s: no %s or %s (not a model directory?)",
                                                 model_dir, kSingleFile, kIndexFile));
    }
    HY_RETURN_IF_ERROR(archive->AddFile(single, nullptr));
    return archive;
  }
  HY_ASSIGN_OR_RETURN(json weight_map, ReadIndexFile(index_path));
  std::map<std::string, std::vector<std::string>> by_file;  // shard -> names listed for it
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    by_file[it.value().get<std::string>()].push_back(it.key());
  }
  for (const auto& [file, listed] : by_file) {
    std::vector<std::string> added;
    HY_RETURN_IF_ERROR(archive->AddFile(model_dir + "/" + file, &added));
    const std::set<std::string> present(added.begin(), added.end());
    for (const std::string& name : listed) {
      if (present.count(name) == 0) {
        return absl::DataLossError(absl::StrFormat("%s: tensor %s is mapped to %s, which lacks it",
                                                   index_path, name, file));
      }
    }
  }
  return archive;
}

absl::Status SafetensorsArchive::AddFile(const std::string& path, std::vector<std::string>* added) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return absl::DataLossError(absl::StrFormat(
        "%s: truncated (%d bytes, shorter than the 8-byte header length)", path, size));
  }
  auto mapping = std::make_unique<Mapping>();
  mapping->path = path;
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return absl::ErrnoToStatus(map_errno, absl::StrCat(path, ": mmap"));
  mapping->addr = addr;
  mapping->size = size;
  const auto* bytes = static_cast<const unsigned char*>(addr);

  // Header: u64 little-endian length N, then N bytes of JSON, then the data section.
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > size - 8) {
    return absl::DataLossError(
        absl::StrFormat("%s: truncated: header length %d exceeds the %d bytes after it", path,
                        header_len, size - 8));
  }
  const char* header = reinterpret_cast<const char*>(bytes + 8);
  const json root = json::parse(header, header + header_len, nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": malformed JSON header"));
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  std::vector<TensorView> views;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    TensorView view;
    int64_t begin = 0;
    HY_RETURN_IF_ERROR(ParseEntry(path, it.key(), it.value(), data_size, &view, &begin));
    view.data = bytes + data_start + begin;
    view.file_backed = true;
    views.push_back(std::move(view));
  }
  for (TensorView& view : views) {
    if (tensors_.count(view.name) != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: duplicate tensor %s (already in another shard)", path, view.name));
    }
    if (added != nullptr) added->push_back(view.name);
    std::string name = view.name;
    tensors_.emplace(std::move(name), std::move(view));
  }
  mappings_.push_back(std::move(mapping));
  return absl::OkStatus();
}

const TensorView* SafetensorsArchive::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void ReleaseResidentPages(const TensorView& t) {
  if (!t.file_backed || t.data == nullptr) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(t.data);
  const uintptr_t begin = (start + page - 1) / page * page;
  const uintptr_t end = (start + t.nbytes()) / page * page;
  // The mapping is private and never written, so dropped pages come back from the file.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace hymba::engine
