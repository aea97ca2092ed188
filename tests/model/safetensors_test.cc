#include "engine/model/safetensors.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/dtype.h"
#include "gtest/gtest.h"
#include "tests/testing/checkpoint_writer.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using ::hymba::testing::DecodeTensor;
using ::hymba::testing::MakeTensor;
using ::hymba::testing::RandomTensor;
using ::hymba::testing::TensorSpec;

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

std::vector<float> ToF32(const TensorView& view) {
  std::vector<float> out(view.numel());
  ConvertToF32(view.dtype, view.data, out.size(), out.data());
  return out;
}

bool Contains(const absl::Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}

// ---- dtype.h ----

TEST(SafetensorsDTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_STREQ(DTypeName(DType::kF32), "F32");
  EXPECT_STREQ(DTypeName(DType::kF16), "F16");
  EXPECT_STREQ(DTypeName(DType::kBF16), "BF16");
}

TEST(SafetensorsDTypeTest, F16KnownValues) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(F16ToF32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(F16ToF32(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_TRUE(SameBits(F16ToF32(0x0000), 0.0f));
  EXPECT_TRUE(SameBits(F16ToF32(0x8000), -0.0f));
  EXPECT_EQ(F16ToF32(0x7c00), INFINITY);
  EXPECT_EQ(F16ToF32(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7c01)));
  EXPECT_TRUE(std::isnan(F16ToF32(0xfe00)));
}

// Every binary16 pattern against an independent decoder, scalar and bulk.
TEST(SafetensorsDTypeTest, F16ExhaustiveAgainstReference) {
  TensorSpec spec{"all", "F16", {65536}, std::string(2 * 65536, '\0')};
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t bits = static_cast<uint16_t>(i);
    std::memcpy(&spec.data[2 * i], &bits, 2);
  }
  const std::vector<float> reference = DecodeTensor(spec);
  std::vector<float> bulk(65536);
  ConvertToF32(DType::kF16, spec.data.data(), bulk.size(), bulk.data());
  for (uint32_t i = 0; i < 65536; ++i) {
    const float scalar = F16ToF32(static_cast<uint16_t>(i));
    if (std::isnan(reference[i])) {
      EXPECT_TRUE(std::isnan(scalar) && std::isnan(bulk[i])) << std::hex << i;
    } else {
      ASSERT_TRUE(SameBits(scalar, reference[i])) << std::hex << i;
      ASSERT_TRUE(SameBits(bulk[i], reference[i])) << std::hex << i;
    }
    // Round trip through the test writer's encoder (exact for every non-NaN value).
    if (!std::isnan(scalar)) {
      ASSERT_EQ(testing::F32ToF16Bits(scalar), i) << std::hex << i;
    }
  }
}

TEST(SafetensorsDTypeTest, ConvertsUnalignedSources) {
  const std::vector<float> values = {1.5f, -2.25f, 0.0f, 3.0e-3f, 65504.0f, -1.0e-6f, 7.0f};
  for (const char* dtype : {"F32", "F16", "BF16"}) {
    const TensorSpec t = MakeTensor("t", dtype, {7}, values);
    const std::vector<float> expected = DecodeTensor(t);
    std::string shifted = "x" + t.data;  // odd address
    const DType d = std::string(dtype) == "F32"   ? DType::kF32
                    : std::string(dtype) == "F16" ? DType::kF16
                                                  : DType::kBF16;
    std::vector<float> f32(7);
    ConvertToF32(d, shifted.data() + 1, 7, f32.data());
    std::vector<uint16_t> bf16(7);
    ConvertToBf16(d, shifted.data() + 1, 7, bf16.data());
    for (int i = 0; i < 7; ++i) {
      EXPECT_TRUE(SameBits(f32[i], expected[i])) << dtype << " " << i;
      EXPECT_EQ(bf16[i], F32ToBf16(expected[i])) << dtype << " " << i;
    }
  }
}

TEST(SafetensorsDTypeTest, Bf16RoundsToNearestEven) {
  const float values[] = {1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8), NAN};
  uint16_t out[3];
  ConvertToBf16(DType::kF32, values, 3, out);
  EXPECT_EQ(out[0], 0x3f80);  // tie, rounds down to even
  EXPECT_EQ(out[1], 0x3f82);  // tie, rounds up to even
  EXPECT_TRUE(std::isnan(Bf16ToF32(out[2])));
}

// ---- SafetensorsArchive ----

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("safetensors"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& bytes, const std::string& name = "model.safetensors") {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(testing::WriteFile(path, bytes).ok());
    return path;
  }

  // A file with the raw header text `header` and `data_bytes` bytes of data.
  std::string WriteRaw(const std::string& header, size_t data_bytes) {
    std::string bytes(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    return Write(bytes + header + std::string(data_bytes, '\x01'));
  }

  absl::Status OpenStatus() { return SafetensorsArchive::Open(dir_).status(); }

  std::string dir_;
};

TEST_F(SafetensorsTest, RoundTripsEachDType) {
  std::vector<TensorSpec> tensors;
  for (const char* dtype : {"BF16", "F16", "F32"}) {
    tensors.push_back(RandomTensor(std::string("w.") + dtype, dtype, {3, 5}, 7));
    tensors.push_back(
        MakeTensor(std::string("exact.") + dtype, dtype, {2, 2}, {0.5f, -1.25f, 3.0f, 1024.0f}));
  }
  tensors.push_back(MakeTensor("scalar", "F32", {}, {4.0f}));
  tensors.push_back(MakeTensor("empty", "BF16", {0, 4}, {}));
  tensors.push_back(MakeTensor("odd", "F16", {1}, {2.0f}));  // leaves later data unaligned
  tensors.push_back(MakeTensor("after_odd", "F32", {3}, {1.0f, 2.0f, 3.0f}));
  Write(testing::SafetensorsBytes(tensors, {{"format", "pt"}}));

  absl::StatusOr<std::unique_ptr<SafetensorsArchive>> archive = SafetensorsArchive::Open(dir_);
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ((*archive)->tensors().size(), tensors.size());
  EXPECT_EQ((*archive)->Find("__metadata__"), nullptr);
  EXPECT_EQ((*archive)->Find("nope"), nullptr);
  for (const TensorSpec& spec : tensors) {
    const TensorView* view = (*archive)->Find(spec.name);
    ASSERT_NE(view, nullptr) << spec.name;
    EXPECT_EQ(view->name, spec.name);
    EXPECT_STREQ(DTypeName(view->dtype), spec.dtype.c_str());
    EXPECT_EQ(view->shape, spec.shape);
    EXPECT_EQ(view->nbytes(), spec.data.size());
    EXPECT_EQ(ToF32(*view), DecodeTensor(spec)) << spec.name;
  }
  EXPECT_EQ((*archive)->Find("exact.F16")->numel(), 4);
  EXPECT_EQ(ToF32(*(*archive)->Find("exact.BF16")), (std::vector<float>{0.5f, -1.25f, 3, 1024}));
  EXPECT_EQ((*archive)->Find("scalar")->numel(), 1);
  EXPECT_EQ((*archive)->Find("empty")->numel(), 0);
}

// Resident memory of this process, from /proc/self/status (kB).
long ResidentKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

TEST_F(SafetensorsTest, ReleasedPagesLeaveMemoryAndReadBackFromTheFile) {
  // 16 MiB between two small neighbours.
  const TensorSpec big = RandomTensor("big", "F32", {1024, 4096}, 11);
  Write(testing::SafetensorsBytes(
      {MakeTensor("before", "F16", {3}, {1, 2, 3}), big, MakeTensor("after", "F32", {2}, {5, 6})}));
  absl::StatusOr<std::unique_ptr<SafetensorsArchive>> archive = SafetensorsArchive::Open(dir_);
  ASSERT_TRUE(archive.ok()) << archive.status();
  const TensorView& view = *(*archive)->Find("big");
  EXPECT_TRUE(view.file_backed);
  const std::vector<float> expected = DecodeTensor(big);
  ASSERT_EQ(ToF32(view), expected);  // every page resident now
  const long before = ResidentKb();
  ReleaseResidentPages(view);
  const long after = ResidentKb();
  EXPECT_GT(before - after, 15 * 1024) << before << " kB -> " << after << " kB";
  EXPECT_EQ(ToF32(view), expected);
  EXPECT_EQ(ToF32(*(*archive)->Find("before")), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(ToF32(*(*archive)->Find("after")), (std::vector<float>{5, 6}));
  // A view of ordinary memory is left alone.
  std::vector<float> heap(1 << 20, 2.5f);
  TensorView plain;
  plain.shape = {1 << 20};
  plain.data = heap.data();
  ReleaseResidentPages(plain);
  EXPECT_EQ(heap, std::vector<float>(1 << 20, 2.5f));
}

TEST_F(SafetensorsTest, OpenFileReadsOneFile) {
  const std::string path =
      Write(testing::SafetensorsBytes({MakeTensor("a", "F32", {1}, {9})}), "other.safetensors");
  absl::StatusOr<std::unique_ptr<SafetensorsArchive>> archive = SafetensorsArchive::OpenFile(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(ToF32(*(*archive)->Find("a")), std::vector<float>{9});
  absl::Status missing = SafetensorsArchive::OpenFile(dir_ + "/none.safetensors").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing, dir_ + "/none.safetensors")) << missing;
}

TEST_F(SafetensorsTest, ShardedIndex) {
  std::vector<TensorSpec> tensors;
  for (int i = 0; i < 7; ++i) {
    tensors.push_back(RandomTensor("t" + std::to_string(i), i % 2 ? "F16" : "BF16", {i + 1, 3}, 3));
  }
  ASSERT_TRUE(testing::WriteShardedSafetensors(dir_, tensors, 3).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/model-00002-of-00003.safetensors"));
  absl::StatusOr<std::unique_ptr<SafetensorsArchive>> archive = SafetensorsArchive::Open(dir_);
  ASSERT_TRUE(archive.ok()) << archive.status();
  ASSERT_EQ((*archive)->tensors().size(), 7u);
  for (const TensorSpec& spec : tensors) {
    const TensorView* view = (*archive)->Find(spec.name);
    ASSERT_NE(view, nullptr) << spec.name;
    EXPECT_EQ(ToF32(*view), DecodeTensor(spec)) << spec.name;
  }
}

TEST_F(SafetensorsTest, NoModelFileIsNotFoundNamingDir) {
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(status, dir_)) << status;
  EXPECT_TRUE(Contains(status, "model.safetensors")) << status;
}

TEST_F(SafetensorsTest, TruncatedFiles) {
  const std::string good = testing::SafetensorsBytes({RandomTensor("w", "BF16", {4, 4}, 1)});
  for (size_t size : {size_t{0}, size_t{5}, size_t{8}, size_t{20}}) {
    Write(good.substr(0, size));
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << size;
    EXPECT_TRUE(Contains(status, "model.safetensors: truncated")) << status;
  }
  Write(good.substr(0, good.size() - 1));  // header intact, data one byte short
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status, "tensor w: data_offsets [0, 32] outside the 31-byte")) << status;
}

TEST_F(SafetensorsTest, AbsurdHeaderLength) {
  Write(std::string(8, '\xff') + "{}");
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status, "header length 18446744073709551615 exceeds")) << status;
}

TEST_F(SafetensorsTest, MalformedJsonHeader) {
  for (const char* header : {"{\"w\": {\"dtype\": \"F32\",", "[1, 2, 3]", "\"text\"", "{}}"}) {
    WriteRaw(header, 0);
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << header;
    EXPECT_TRUE(Contains(status, "model.safetensors: malformed JSON header")) << status;
  }
}

TEST_F(SafetensorsTest, MalformedEntriesNameTheTensor) {
  const char* cases[] = {
      R"({"w": 3})",
      R"({"w": {"shape": [1], "data_offsets": [0, 4]}})",
      R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})",
      R"({"w": {"dtype": "F32", "shape": [1]}})",
      R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
      R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
      R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
      R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
  };
  for (const char* header : cases) {
    WriteRaw(header, 4);
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << header;
    EXPECT_TRUE(Contains(status, "tensor w: malformed header entry")) << status;
  }
}

TEST_F(SafetensorsTest, OffsetsMustMatchShape) {
  WriteRaw(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", 16);
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status,
                       "tensor w: data_offsets [0, 8] hold 8 bytes, but shape [2, 3] of "
                       "BF16 needs 12"))
      << status;
  WriteRaw(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 4]}})", 16);
  EXPECT_EQ(OpenStatus().code(), absl::StatusCode::kDataLoss);
  WriteRaw(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4],
                     "data_offsets": [0, 16]}})",
           16);
  status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status, "needs over 2^64")) << status;
}

TEST_F(SafetensorsTest, UnsupportedDTypeNamesTensorAndDType) {
  for (const char* dtype : {"I64", "F64", "F8_E4M3"}) {
    TensorSpec t{"model.ids", dtype, {2}, std::string(16, '\0')};
    Write(testing::SafetensorsBytes({t}));
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << dtype;
    EXPECT_TRUE(Contains(status, std::string("tensor model.ids has unsupported dtype ") + dtype))
        << status;
  }
}

TEST_F(SafetensorsTest, DuplicateTensorAcrossShards) {
  ASSERT_TRUE(testing::WriteShardedSafetensors(
                  dir_, {MakeTensor("a", "F32", {1}, {1}), MakeTensor("b", "F32", {1}, {2})}, 2)
                  .ok());
  // The second shard also carries "a".
  Write(testing::SafetensorsBytes(
            {MakeTensor("b", "F32", {1}, {2}), MakeTensor("a", "F32", {1}, {1})}),
        "model-00002-of-00002.safetensors");
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "duplicate tensor a")) << status;
}

TEST_F(SafetensorsTest, IndexEntryMissingFromItsShard) {
  ASSERT_TRUE(testing::WriteShardedSafetensors(
                  dir_, {MakeTensor("a", "F32", {1}, {1}), MakeTensor("b", "F32", {1}, {2})}, 2)
                  .ok());
  Write(testing::SafetensorsBytes({MakeTensor("c", "F32", {1}, {2})}),
        "model-00002-of-00002.safetensors");
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status,
                       "tensor b is mapped to model-00002-of-00002.safetensors, which "
                       "lacks it"))
      << status;
}

TEST_F(SafetensorsTest, IndexNamesMissingShard) {
  ASSERT_TRUE(testing::WriteShardedSafetensors(
                  dir_, {MakeTensor("a", "F32", {1}, {1}), MakeTensor("b", "F32", {1}, {2})}, 2)
                  .ok());
  std::filesystem::remove(dir_ + "/model-00001-of-00002.safetensors");
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(status, dir_ + "/model-00001-of-00002.safetensors")) << status;
}

TEST_F(SafetensorsTest, MalformedIndex) {
  const char* cases[] = {"{",
                         R"({"metadata": {}})",
                         R"({"weight_map": {}})",
                         R"({"weight_map": {"a": 3}})",
                         R"({"weight_map": {"a": "../x"}})",
                         R"({"weight_map": {"a": "sub/x.safetensors"}})"};
  for (const char* text : cases) {
    Write(text, "model.safetensors.index.json");
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_TRUE(Contains(status, "model.safetensors.index.json: ")) << status;
  }
}

}  // namespace
}  // namespace hymba::engine
