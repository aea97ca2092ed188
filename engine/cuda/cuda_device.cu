#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "engine/cuda/cuda_device.h"

namespace hymba::engine::cuda {

int DeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a missing driver
    return 0;
  }
  return count;
}

std::string DescribeDevice(int index) {
  cudaDeviceProp prop;
  const cudaError_t err = cudaGetDeviceProperties(&prop, index);
  if (err != cudaSuccess) {
    return std::string("no usable CUDA device (") + cudaGetErrorString(err) +
           "; is an NVIDIA GPU with its driver present?)";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), ", sm_%d%d, %.0f GiB)", prop.major, prop.minor,
                prop.totalGlobalMem / 1073741824.0);
  return "cuda:" + std::to_string(index) + " (" + prop.name + buf;
}

}  // namespace hymba::engine::cuda
