// What the sessions of one worker share: the upstream pool and counters. Worker-local.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "proxy/field_arena.hpp"
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
  std::atomic<std::size_t> notification_waits = 0;  ///< NotificationWait requests in flight
  /// The runtime new connections and requests use (a reload replaces it). Worker thread only.
  runtime_ptr current;
  /// Client connections waiting for the first byte of their next request (worker thread only):
  /// draining wakes them so they close at once.
  std::unordered_set<plain_stream*> idle;
  std::atomic<std::size_t> active_requests = 0;
  std::atomic<std::size_t> pinned_connections = 0;  ///< NTLM/Negotiate-bound backend connections
  /// Requests per routing::affinity_outcome (indexed by its value): hits and every reason a
  /// token was ignored.
  std::array<std::atomic<std::uint64_t>, 8> affinity_outcomes{};
  std::uint64_t next_connection = 1;
  /// Byte buffers for framing relayed messages, reused across requests (see wire_lease): a
  /// fresh large buffer per request would cost a malloc, a zero-fill and the allocator's trims.
  std::vector<beast::flat_buffer> spare_buffers;
  /// The blocks the header fields of each request start in (see field_arena).
  field_blocks field_arena_blocks;

  worker_state(unsigned worker_id, runtime_ptr rt, const process_services& shared)
      : id(worker_id),
        pool(*rt),
        process_connections(shared.connections),
        access_log(shared.access_log),
        current(std::move(rt)) {}
};

/// Gives empty `b` the storage of one of the worker's spare buffers, when it has none.
inline void take_spare(worker_state& ws, beast::flat_buffer& b) {
  if (b.capacity() != 0 || ws.spare_buffers.empty()) return;
  b = std::move(ws.spare_buffers.back());
  ws.spare_buffers.pop_back();
}

/// Hands the storage of `b` (whose bytes are all consumed) to the worker's spare buffers; `b`
/// is left without any. Keeps at most 64 spares of at most 128 KiB; frees the others.
inline void give_spare(worker_state& ws, beast::flat_buffer& b) {
  if (b.capacity() == 0) return;
  b.clear();
  if (b.capacity() <= 128 * 1024 && ws.spare_buffers.size() < 64)
    ws.spare_buffers.push_back(std::move(b));
  b.shrink_to_fit();  // a moved-from buffer has none already
}

}  // namespace proxy
