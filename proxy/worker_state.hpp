// What the sessions of one worker share: the upstream pool and counters. Worker-local.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "proxy/upstream.hpp"

namespace proxy {

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
  std::atomic<std::size_t> active_requests = 0;
  std::atomic<std::size_t> pinned_connections = 0;  ///< NTLM/Negotiate-bound backend connections
  /// Requests per routing::affinity_outcome (indexed by its value): hits and every reason a
  /// token was ignored.
  std::array<std::atomic<std::uint64_t>, 8> affinity_outcomes{};
  std::uint64_t next_connection = 1;

  worker_state(unsigned worker_id, std::size_t backends, std::size_t max_idle,
               std::chrono::milliseconds keepalive, std::atomic<std::size_t>& process)
      : id(worker_id), pool(backends, max_idle, keepalive), process_connections(process) {}
};

}  // namespace proxy
