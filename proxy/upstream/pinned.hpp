// Backend connections that NTLM or Negotiate bound to one client connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

#include "proxy/upstream/pool.hpp"

namespace proxy {

/// Backend connections that belong to one client connection alone, because NTLM or Negotiate
/// authenticated them: never pooled, never used for another client, closed with this one.
/// Keeps the worker's pinned-connection gauge exact.
class pinned_connections {
 public:
  explicit pinned_connections(std::atomic<std::size_t>& gauge) : gauge_(gauge) {}
  ~pinned_connections() { gauge_.fetch_sub(conns_.size(), std::memory_order_relaxed); }
  pinned_connections(const pinned_connections&) = delete;
  pinned_connections& operator=(const pinned_connections&) = delete;

  /// The connection pinned to backend `b`, moved out (null when none).
  upstream_ptr take(std::size_t b);
  /// Pins `c` (one per backend; a previous one for the same backend is closed).
  void put(upstream_ptr c);
  std::size_t size() const noexcept { return conns_.size(); }

 private:
  std::vector<upstream_ptr> conns_;
  std::atomic<std::size_t>& gauge_;
};

}  // namespace proxy
