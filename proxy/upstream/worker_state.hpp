// What the sessions of one worker share: the upstream pool and counters. Worker-local.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "proxy/io/buffers.hpp"
#include "proxy/io/field_arena.hpp"
#include "proxy/io/tls_buffers.hpp"
#include "proxy/upstream/pool.hpp"

namespace accesslog {
class writer;
}

namespace proxy {

/// What the server shares with every worker. Everything pointed to outlives the workers.
struct process_services {
  /// Client connections across all workers: limits.max_client_connections is per process.
  std::atomic<std::size_t>& connections;
  accesslog::writer* access_log = nullptr;  ///< null: no HttpProxy logs
};

/// While the instance drains, a client connection waiting for its next request waits at most
/// this long more (HTTP/1.1; HTTP/2 has its GOAWAY notice): long enough for a request already
/// on its way, with any balancer's RTT, to arrive and be answered with Connection: close.
inline constexpr std::chrono::milliseconds drain_idle_window{1000};

/// Executor affinity: written only from its worker's thread, so no locking. The counters are
/// atomics only so that the control thread may read them (relaxed) while draining.
struct worker_state {
  unsigned id = 0;
  /// The busy TLS connections keeping OpenSSL's record buffers. Before the pool: destroyed
  /// after the pooled connections it may keep.
  tls_buffer_keeper tls_buffers;
  upstream_pool pool;
  bool draining = false;  ///< stop: finish the current request, then close
  std::atomic<std::size_t> active_connections = 0;  ///< this worker's client connections
  /// Client connections across all workers (owned by the server): limits.max_client_connections
  /// is a per-process limit.
  std::atomic<std::size_t>& process_connections;
  accesslog::writer* const access_log;
  std::atomic<std::size_t> notification_waits = 0;  ///< NotificationWait requests in flight
  /// The runtime new connections and requests use (a reload replaces it). Worker thread only.
  runtime_ptr current;
  /// Client connections waiting for the first byte of their next request (worker thread only):
  /// draining wakes them so that they wait under drain_idle_window instead.
  std::unordered_set<tcp_conn*> idle;
  std::atomic<std::size_t> active_requests = 0;
  std::atomic<std::size_t> pinned_connections = 0;  ///< NTLM/Negotiate-bound backend connections
  /// Requests per routing::affinity_outcome (indexed by its value): hits and every reason a
  /// token was ignored.
  std::array<std::atomic<std::uint64_t>, 8> affinity_outcomes{};
  std::uint64_t next_connection = 1;
  /// Byte buffers for reading and framing relayed messages, reused across requests.
  spare_buffers spares;
  /// The blocks the header fields of each request start in (see field_arena).
  field_blocks field_arena_blocks;

  worker_state(unsigned worker_id, runtime_ptr rt, const process_services& shared)
      : id(worker_id),
        pool(*rt),
        process_connections(shared.connections),
        access_log(shared.access_log),
        current(std::move(rt)) {}
};

}  // namespace proxy
