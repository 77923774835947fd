// Active backend health checks: by default GET /mapi/healthcheck.htm on each backend over its
// own transport (TLS when the backend is TLS), as Exchange's load-balancing guidance does; path,
// expected status and body text per backend (backends[].health_check). Asio-free header (pimpl).
#pragma once

#include <memory>

#include "proxy/state/runtime.hpp"

namespace proxy {

/// Checks every backend of one runtime whose check is enabled, every health.interval, on a
/// private thread, and keeps two states in runtime::live[b]: check_up (the answer was the
/// expected one) and reachable (the check could connect); `fall` results in a row change
/// either, `rise` bring it back. A failing check drains a backend, an unreachable one is down
/// (backend_live). Transitions are logged; every check is counted. A reload makes a new checker
/// for the new runtime (state carries over by backend name) and destroys the old one.
class health_checker {
 public:
  /// Starts at once (first checks immediately) unless health.active is false.
  explicit health_checker(runtime_ptr rt);
  ~health_checker();  ///< stop()
  health_checker(const health_checker&) = delete;
  health_checker& operator=(const health_checker&) = delete;

  /// Cancels the checks and joins the thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace proxy
