// A worker: accept loops, sessions and upstream pool on one io_context and one thread.
#include "proxy/worker.hpp"

#include <sys/socket.h>

#include "proxy/connection.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/context.hpp"

namespace proxy {

worker::worker(unsigned id, runtime_ptr rt, const process_services& shared)
    : state_(id, std::move(rt), shared) {}

worker::~worker() {
  stop();
}

std::uint16_t worker::listen(std::size_t index, const tcp::endpoint& at) {
  auto acc = std::make_unique<tcp::acceptor>(ioc_);
  acc->open(at.protocol());
  acc->set_option(tcp::acceptor::reuse_address(true));
  const int one = 1;
  if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw boost::system::system_error(error_code(errno, boost::system::system_category()),
                                      "SO_REUSEPORT");
  acc->bind(at);
  acc->listen(net::socket_base::max_listen_connections);
  const auto port = acc->local_endpoint().port();
  acceptors_.emplace_back(index, std::move(acc));
  return port;
}

void worker::start() {
  for (auto& [index, acc] : acceptors_) {
    net::co_spawn(ioc_, accept_loop(*acc, index), net::detached);
  }
  net::co_spawn(ioc_, maintain(), net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

awaitable<void> worker::accept_loop(tcp::acceptor& acceptor, std::size_t listener) {
  net::steady_timer pause(ioc_);
  for (;;) {
    // At the limit, stop accepting: new connections wait in the kernel's listen backlog (as
    // HAProxy's maxconn does) instead of being refused. Re-checked every 10 ms.
    // Read per connection: a reload may change the limit.
    const std::size_t max_connections = state_.current->cfg->limits.max_client_connections;
    while (state_.process_connections.load(std::memory_order_relaxed) >= max_connections) {
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(use_nothrow);
      if (!acceptor.is_open()) co_return;
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE/ENFILE and friends: back off instead of spinning on a full descriptor table.
      log(log_level::warn, "w", state_.id, " accept: ", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    // Every worker may have been parked in accept when the last slot went: reserve a slot
    // atomically, holding this one socket (its client just waits) until one is free.
    for (;;) {
      auto n = state_.process_connections.load();
      while (n < max_connections && !state_.process_connections.compare_exchange_weak(n, n + 1)) {
      }
      if (n < max_connections) break;
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(use_nothrow);
      if (!acceptor.is_open()) co_return;  // the socket closes with this frame
    }
    net::co_spawn(ioc_, serve_connection(state_.current, state_, std::move(socket), listener),
                  on_coroutine_exit{state_.current, false, state_.id});
  }
}

awaitable<void> worker::maintain() {
  net::steady_timer tick(ioc_);
  while (!state_.draining) {
    tick.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await tick.async_wait(use_nothrow);
    if (ec) co_return;
    state_.pool.prune();
    state_.tls_buffers.tick();
  }
}

void worker::set_runtime(runtime_ptr rt) {
  net::post(ioc_, [this, rt = std::move(rt)]() mutable {
    state_.pool.clear();
    state_.pool = upstream_pool(*rt);
    state_.current = std::move(rt);
  });
}

void worker::begin_drain() {
  net::post(ioc_, [this] {
    state_.draining = true;
    // Connections waiting for their next request: wake them, so that they wait again under
    // the drain's shorter deadline and then close cleanly (TLS close_notify), instead of being
    // reset when the worker stops.
    for (auto* s : state_.idle)
      s->cancel();
  });
}

void worker::close_listeners() {
  net::post(ioc_, [this] {
    for (auto& [index, acc] : acceptors_) {
      error_code ignored;
      acc->close(ignored);
    }
    accepting_.store(false, std::memory_order_release);
  });
}

void worker::stop() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
  state_.pool.clear();
  for (auto& [index, acc] : acceptors_) {
    error_code ignored;
    acc->close(ignored);
  }
}

}  // namespace proxy
