#include "tests/testing/test_paths.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hymba::testing {

std::string TestDataDir() {
  // Test binaries carried to another machine (benchmarks/gpu) find their checkpoints there.
  const char* moved = std::getenv("HYMBA_TESTDATA");
  return moved != nullptr && *moved != '\0' ? moved : HYMBA_TESTDATA_DIR;
}
std::string TinyModelDir(const std::string& preset) { return TestDataDir() + "/" + preset; }
std::string SourceDir() { return HYMBA_SOURCE_DIR; }

std::string MakeTempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/hymba-" + tag + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
  return templ;
}

}  // namespace hymba::testing
