#include "tests/testing/test_paths.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hymba::testing {

std::string TestDataDir() { return HYMBA_TESTDATA_DIR; }
std::string TinyModelDir(const std::string& preset) { return TestDataDir() + "/" + preset; }
std::string SourceDir() { return HYMBA_SOURCE_DIR; }

std::string MakeTempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/hymba-" + tag + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
  return templ;
}

}  // namespace hymba::testing
