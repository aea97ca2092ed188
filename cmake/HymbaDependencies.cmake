# Third-party packages, all from Debian 12 (scripts/install-deps lists them).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(absl REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_package(Protobuf REQUIRED)
find_package(gRPC REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
# promtool (Debian's prometheus package) lints the metrics exposition in the server tests.
find_program(HYMBA_PROMTOOL promtool)

# oneDNN: Debian's dnnl-config.cmake insists on OpenCL, which the CPU engine never uses, so the
# library is located directly.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(hymba_dnnl INTERFACE)
target_include_directories(hymba_dnnl INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(hymba_dnnl INTERFACE ${DNNL_LIBRARY})

# The reference, checkpoint writer and layer check run on Debian's python3 (with python3-numpy).
if(EXISTS /usr/bin/python3)
  set(HYMBA_PYTHON /usr/bin/python3 CACHE FILEPATH "python3 with numpy and sentencepiece")
else()
  find_program(HYMBA_PYTHON python3 REQUIRED)
endif()

# CUDA: AUTO builds the backend when nvcc is found.
set(HYMBA_CUDA_ENABLED OFF)
if(NOT HYMBA_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(HYMBA_CUDA_ENABLED ON)
  elseif(HYMBA_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HYMBA_WITH_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "hymba: CUDA backend ${HYMBA_CUDA_ENABLED}")
