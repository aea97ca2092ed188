// Shared fixture of the GPU tests: a CUDA backend (skipped when this build or machine has none)
// and the CPU backend as its reference, with upload/download helpers and error measures.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backend_factory.h"
#include "engine/base/bf16.h"

namespace hymba::engine {

inline std::vector<float> RandomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// max |a - b| / max(1, max |b|): error relative to the reference's scale.
inline double ScaledMaxError(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 1;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    err = std::max(err, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return err / scale;
}

// A backend and device copies of host data on it.
struct OnBackend {
  std::unique_ptr<Backend> backend;

  DeviceBuffer Upload(const std::vector<float>& host) {
    auto buf = backend->Allocate(std::max<size_t>(host.size(), 1) * sizeof(float));
    EXPECT_TRUE(buf.ok()) << buf.status();
    backend->CopyToDevice(buf->data(), host.data(), host.size() * sizeof(float));
    return std::move(buf).value();
  }
  DeviceBuffer UploadBf16(const std::vector<float>& host) {
    std::vector<uint16_t> bits(host.size());
    for (size_t i = 0; i < host.size(); ++i) bits[i] = F32ToBf16Bits(host[i]);
    auto buf = backend->Allocate(std::max<size_t>(bits.size(), 1) * 2);
    EXPECT_TRUE(buf.ok()) << buf.status();
    backend->CopyToDevice(buf->data(), bits.data(), bits.size() * 2);
    return std::move(buf).value();
  }
  std::vector<float> Download(const DeviceBuffer& buf, size_t n) {
    std::vector<float> host(n);
    backend->CopyToHost(host.data(), buf.data(), n * sizeof(float));
    return host;
  }
};

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cuda = MakeBackend("cuda", "f32");
    if (!cuda.ok()) GTEST_SKIP() << "no CUDA backend here: " << cuda.status();
    gpu_.backend = std::move(cuda).value();
    auto cpu = MakeBackend("cpu", "f32");
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    cpu_.backend = std::move(cpu).value();
  }
  void TearDown() override {
    if (gpu_.backend) {
      EXPECT_TRUE(gpu_.backend->TakeError().ok());
    }
  }
  static absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const std::string& device,
                                                              const std::string& precision) {
    BackendOptions o;
    o.device = device;
    o.precision = precision;
    o.threads = 2;
    return CreateBackend(o);
  }
  OnBackend gpu_, cpu_;
};

}  // namespace hymba::engine
