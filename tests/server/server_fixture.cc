#include "tests/server/server_fixture.h"

#include <sstream>

#include "tests/server/testing/grpc_wire.h"

namespace hymba::server {

std::string ServerFixture::Scrape() {
  return hymba::testing::HttpGet(server_->metrics_port(), "/metrics");
}

double ServerFixture::Sample(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace hymba::server
