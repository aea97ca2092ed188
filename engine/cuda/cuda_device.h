// CUDA device discovery for the backend factory. Never fails: without a driver or GPU the count
// is 0 and the description says why.
//
// Thread safety: thread-safe.
#pragma once

#include <string>

namespace hymba::engine::cuda {

// Number of usable CUDA devices (0 without a driver or GPU).
int DeviceCount();
// "cuda:0 (NVIDIA H200, sm_90, 139 GiB)", or "no usable CUDA device (<reason>)".
std::string DescribeDevice(int index);

}  // namespace hymba::engine::cuda
