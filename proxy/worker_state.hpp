// What the sessions of one worker share: the upstream pool and counters. Worker-local.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxy/upstream.hpp"

namespace accesslog {
class writer;
}

namespace proxy {

/// What the server shares with every worker. Everything pointed to outlives the workers.
struct process_services {
  /// Client connections across all workers: limits.max_client_connections is per process.
  std::atomic<std::size_t>& connections;
  accesslog::writer* access_log = nullptr;  ///< null: no HttpProxy logs
  /// Per backend index: false once a connect to it failed, true again when one succeeds.
  std::atomic<bool>* backend_reachable = nullptr;
};

/// Executor affinity: written only from its worker's thread, so no locking. The counters are
/// atomics only so that the control thread may read them (relaxed) while draining.
struct worker_state {
  unsigned id = 0;
  upstream_pool pool;
  bool draining = false;  ///< stop: finish the current request, then close
  std::atomic<std::size_t> active_connections = 0;  ///< this worker's client connections
  /// Client connections across all workers (owned by the server): limits.max_client_connections
  /// is a per-process limit.
  std::atomic<std::size_t>& process_connections;
  accesslog::writer* const access_log;
  std::atomic<bool>* const backend_reachable;
  /// Open backend connections per backend index (busy, idle and pinned): upstream_conn keeps it.
  std::unique_ptr<std::atomic<std::size_t>[]> upstream_open;
  std::atomic<std::size_t> notification_waits = 0;  ///< NotificationWait requests in flight
  std::atomic<std::size_t> active_requests = 0;
  std::atomic<std::size_t> pinned_connections = 0;  ///< NTLM/Negotiate-bound backend connections
  /// Requests per routing::affinity_outcome (indexed by its value): hits and every reason a
  /// token was ignored.
  std::array<std::atomic<std::uint64_t>, 8> affinity_outcomes{};
  std::uint64_t next_connection = 1;

  worker_state(unsigned worker_id, std::size_t backends, std::size_t max_idle,
               std::chrono::milliseconds keepalive, const process_services& shared)
      : id(worker_id),
        pool(backends, max_idle, keepalive),
        process_connections(shared.connections),
        access_log(shared.access_log),
        backend_reachable(shared.backend_reachable),
        upstream_open(std::make_unique<std::atomic<std::size_t>[]>(backends)) {}
};

}  // namespace proxy
