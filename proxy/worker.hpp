// A worker: one io_context on one thread, its own SO_REUSEPORT acceptors and upstream pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "proxy/io/net.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/worker_state.hpp"

namespace proxy {

/// Contract: constructed and started by the control thread; afterwards only stop() and the
/// atomic counters in state() may be touched from other threads. A connection lives and dies on
/// the worker that accepted it, so sessions need no strands or locks.
class worker {
 public:
  /// Everything `shared` refers to must outlive this worker.
  worker(unsigned id, runtime_ptr rt, const process_services& shared);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Opens an acceptor for listener `index` on `at` with SO_REUSEPORT (so every worker can bind
  /// the same address) and returns the bound port. Throws boost::system::system_error.
  std::uint16_t listen(std::size_t index, const tcp::endpoint& at);

  /// Starts the accept loops and the once-a-second maintenance, then the thread.
  void start();

  /// Marks the worker draining (from any thread; asynchronous): every response from now on
  /// says Connection: close (HTTP/2: GOAWAY), and connections waiting for their next request
  /// wait at most drain_idle_window more, so a request already on its way is still answered.
  /// The acceptors stay open (the instance's health check answers 503 meanwhile).
  void begin_drain();

  /// Closes the acceptors (from any thread). Asynchronous: accepting() turns false once the
  /// worker has done it.
  void close_listeners();

  /// Makes `rt` the runtime for new connections, and for new requests on connections that hold
  /// no NTLM/Negotiate-pinned backend connection (from any thread; asynchronous). The idle pool
  /// of the previous runtime is closed.
  void set_runtime(runtime_ptr rt);
  bool accepting() const noexcept { return accepting_.load(std::memory_order_acquire); }

  /// Stops the io_context and joins the thread; idle upstream connections are closed first.
  void stop();

  const worker_state& state() const noexcept { return state_; }

 private:
  awaitable<void> accept_loop(tcp::acceptor& acceptor, std::size_t listener);
  /// Once a second until draining: prunes the idle pool, ends a period of the TLS buffer rule.
  awaitable<void> maintain();

  worker_state state_;  // declared before ioc_: session frames destroyed with ioc_ touch it
  /// One thread runs it, and only that thread touches the worker's sockets (other threads post
  /// to it, and listen() registers acceptors before start()): the reactor's per-descriptor
  /// locks are left out, scheduler and registration locking stay.
  net::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::pair<std::size_t, std::unique_ptr<tcp::acceptor>>> acceptors_;
  std::thread thread_;
  std::atomic<bool> accepting_{true};
};

}  // namespace proxy
