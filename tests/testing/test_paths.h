// Paths of the test data the build writes (tiny HF-layout checkpoints) and of the source tree.
//
// Thread safety: pure functions.
#pragma once

#include <string>

namespace hymba::testing {

// `<build>/testdata/<preset>`, e.g. TinyModelDir("tiny-a"); $HYMBA_TESTDATA replaces
// `<build>/testdata` when set.
std::string TinyModelDir(const std::string& preset);
// The build's testdata folder (or $HYMBA_TESTDATA).
std::string TestDataDir();
// The repository root.
std::string SourceDir();
// A fresh empty directory under the system temp dir, unique per call.
std::string MakeTempDir(const std::string& tag);

}  // namespace hymba::testing
