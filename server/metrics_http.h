// MetricsHttpServer: serves a Prometheus registry as text exposition (format 0.0.4) at
// GET /metrics over plain HTTP/1.x, one connection at a time on its own thread. Anything else is
// 404 (or 405 for other methods). Scrapes are rare and small, so one thread is enough.
//
// (prometheus-cpp's own exposer embeds civetweb, which fails to start in a process that also
// loads cuBLAS; this server has no such dependency and stops at once.)
//
// Ownership: shares the registry.
// Errors: Start returns Unavailable naming the address when it cannot listen.
// Thread safety: Start and the destructor from one thread; serving runs on its own thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace prometheus {
class Registry;
}

namespace hymba::server {

class MetricsHttpServer {
 public:
  // Listens on host:port (port 0: any free port, see port()).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsHttpServer();  // stops accepting and joins the thread

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  void Serve();
  void Answer(int fd);

  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: writing to it stops Serve
  int port_ = 0;
  std::thread thread_;
};

}  // namespace hymba::server
