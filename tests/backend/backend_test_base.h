// Shared fixture of the backend op tests: a backend per test parameter ("cpu", "cuda"), skipped
// when unavailable, with upload/download helpers and seeded random data.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backend_factory.h"

namespace hymba::engine {

inline std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

class BackendOpsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    BackendOptions o;
    o.device = GetParam();
    o.precision = "f32";
    o.threads = 2;
    auto b = CreateBackend(o);
    if (!b.ok()) GTEST_SKIP() << GetParam() << " backend unavailable: " << b.status();
    backend_ = std::move(b).value();
  }
  // Device copy of host data (the CPU backend's device memory is host memory, but the tests go
  // through the interface so they hold for any backend).
  DeviceBuffer Upload(const std::vector<float>& host) {
    auto buf = backend_->Allocate(std::max<size_t>(host.size(), 1) * sizeof(float));
    EXPECT_TRUE(buf.ok());
    backend_->CopyToDevice(buf->data(), host.data(), host.size() * sizeof(float));
    return std::move(buf).value();
  }
  std::vector<float> Download(const DeviceBuffer& buf, size_t n) {
    std::vector<float> host(n);
    backend_->CopyToHost(host.data(), buf.data(), n * sizeof(float));
    return host;
  }
  std::unique_ptr<Backend> backend_;
};

}  // namespace hymba::engine
