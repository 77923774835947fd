// Backend connections: connect (plain or TLS bridging) and a per-worker keep-alive pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <variant>
#include <vector>

#include "proxy/io/net.hpp"
#include "proxy/state/runtime.hpp"

namespace proxy {

/// One HTTP/1.1 connection to one backend. Owned by exactly one client exchange at a time, or
/// by the pool while idle. Executor affinity: the worker that created it.
struct upstream_conn {
  std::size_t backend = 0;         ///< index into owner's backends
  const runtime* owner = nullptr;  ///< the runtime whose backend index this is
  std::variant<tcp_conn, tls_conn> stream;
  beast::flat_buffer buffer;  ///< bytes read past the previous response (normally none)
  std::chrono::steady_clock::time_point idle_since{};
  std::size_t requests = 0;

  upstream_conn(std::size_t b, tcp_conn s) : backend(b), stream(std::move(s)) {}
  upstream_conn(std::size_t b, tls_conn s) : backend(b), stream(std::move(s)) {}
  ~upstream_conn() {
    if (open_gauge_) open_gauge_->fetch_sub(1, std::memory_order_relaxed);
  }
  upstream_conn(const upstream_conn&) = delete;
  upstream_conn& operator=(const upstream_conn&) = delete;

  /// Counts this connection in `gauge` until it is destroyed (once; later calls are ignored).
  void track(std::atomic<std::size_t>& gauge) noexcept {
    if (open_gauge_) return;
    open_gauge_ = &gauge;
    gauge.fetch_add(1, std::memory_order_relaxed);
  }

  tcp::socket& socket() noexcept;
  stream_detail::core& core() noexcept;  ///< of the TCP connection under the stream

  /// Starts the connection's idle time (pooled, or pinned between a client's requests) and
  /// watches it meanwhile: a wait for the socket to turn readable, so that a backend closing
  /// the connection (its own idle timeout, a restart) or sending anything unasked is seen by
  /// the worker's event loop, instead of being probed for before every reuse. The wait stays
  /// queued after unpark(): the relay's wait for the response then queues behind it, and the
  /// poller is not asked again (one system call per request fewer than a peek at each reuse).
  void park(std::chrono::steady_clock::time_point now);
  /// Ends the idle time. False when the connection must not carry another request: closed,
  /// bytes left over from the previous response, or the backend closed it or sent something
  /// while it was idle. A peek (non-blocking, consumes nothing) decides when the watch woke, or
  /// when the connection idled for `recheck_after` or longer (when backends' own idle timeouts
  /// close connections, so a close may have come in the event loop's current turn, which the
  /// watch has not seen yet).
  bool unpark(std::chrono::steady_clock::time_point now) noexcept;
  /// Whether the watch woke while the connection was idle. Not proof: asio may complete a wait
  /// with readiness it saw before the wait began (the end of the previous response).
  bool woke_while_idle() const noexcept { return watch_ && watch_->woke; }
  /// The peek: true when the backend closed the connection or sent something on it.
  bool backend_spoke() noexcept;
  static constexpr std::chrono::seconds recheck_after{1};
  /// Closes the TCP socket at once (no TLS close_notify): used on errors and cancellation.
  void abort() noexcept;

 private:
  /// Shared with the watch's completion handler, which may run after the connection is gone
  /// (closing the socket completes it with operation_aborted).
  struct idle_watch {
    std::uint64_t generation = 0;  ///< of the park() whose wait counts
    bool parked = false;
    bool woke = false;  ///< the wait completed while parked
  };

  std::atomic<std::size_t>* open_gauge_ = nullptr;
  std::shared_ptr<idle_watch> watch_;
};

using upstream_ptr = std::unique_ptr<upstream_conn>;

/// Connects to backend `b` of `rt`: TCP connect, Nagle off, and for a TLS backend the handshake
/// with SNI and verification; the whole thing under timeouts.upstream_connect.
/// Returns null and sets `ec` on failure. Supported cancellation: none (bounded by the deadline).
awaitable<upstream_ptr> connect_upstream(const runtime& rt, std::size_t b, error_code& ec);

/// Idle keep-alive connections per backend of one runtime, for one worker (no locking:
/// worker-local). A reload gives the worker a new pool; connections of another runtime that come
/// back are closed, since backend indexes differ between runtimes.
class upstream_pool {
 public:
  /// Sized for `rt`'s backends; limits.upstream_idle_per_backend and timeouts.upstream_keepalive.
  explicit upstream_pool(const runtime& rt);

  /// Whether this pool holds connections for `rt`'s backends (backend indexes are per runtime).
  bool serves(const runtime* rt) const noexcept { return rt == rt_; }

  /// A live idle connection to `b`, most recently used first, or null. Connections that the
  /// backend closed meanwhile or that idled too long are dropped here.
  upstream_ptr take(std::size_t b);

  /// Returns a connection after a complete exchange that left it reusable.
  void give_back(upstream_ptr c);

  /// Closes connections idle longer than the keep-alive time, and those the backend closed or
  /// spoke on while idle (called periodically).
  void prune();

  std::size_t idle_count() const noexcept;

  /// Closes every idle connection (worker shutdown, before its io_context goes).
  void clear();

 private:
  const runtime* rt_;
  std::vector<std::deque<upstream_ptr>> idle_;
  std::size_t max_idle_;
  std::chrono::milliseconds keepalive_;
};

}  // namespace proxy
