// The data plane's owner: runtime, workers, listeners, signal-driven stop.
#include "proxy/server.hpp"

#include <thread>
#include <vector>

#include "proxy/log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker.hpp"

namespace proxy {

struct server::impl {
  std::atomic<std::size_t> connections{0};  ///< client connections across workers
  runtime_ptr rt;
  std::vector<std::unique_ptr<worker>> workers;
  std::vector<std::uint16_t> ports;
  bool stopped = false;
};

server::server(config::snapshot_ptr cfg) : impl_(std::make_unique<impl>()) {
  impl_->rt = std::make_shared<const runtime>(std::move(cfg));
  const auto& c = *impl_->rt->cfg;
  unsigned n = c.workers ? c.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i)
    impl_->workers.push_back(std::make_unique<worker>(i, impl_->rt, impl_->connections));
  for (std::size_t l = 0; l < c.listeners.size(); ++l) {
    const auto& at = c.listeners[l].address;
    tcp::endpoint ep(net::ip::make_address(at.host), at.port);
    // The first worker resolves port 0 to an ephemeral port; the others join it there.
    for (auto& w : impl_->workers)
      ep.port(w->listen(l, ep));
    impl_->ports.push_back(ep.port());
  }
}

server::~server() {
  if (impl_) stop(std::chrono::milliseconds(0));
}

void server::start() {
  for (auto& w : impl_->workers)
    w->start();
  const auto& c = *impl_->rt->cfg;
  for (std::size_t l = 0; l < c.listeners.size(); ++l)
    log(log_level::info, "listener ", c.listeners[l].name, " on ", c.listeners[l].address.host, ":",
        impl_->ports[l], c.listeners[l].tls ? " (TLS)" : " (plain HTTP)", ", ",
        impl_->workers.size(), " workers");
}

std::uint16_t server::port(std::size_t index) const {
  return impl_->ports.at(index);
}

std::size_t server::active_requests() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().active_requests.load(std::memory_order_relaxed);
  return n;
}

std::size_t server::pinned_connections() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().pinned_connections.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t server::affinity_count(int outcome) const {
  std::uint64_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().affinity_outcomes.at(std::size_t(outcome)).load(std::memory_order_relaxed);
  return n;
}

void server::stop(std::chrono::milliseconds grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (auto& w : impl_->workers)
    w->begin_drain();
  // Poll on the control thread (workers never block on it), each wait bounded.
  const auto accept_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  auto accepting = [&] {
    for (const auto& w : impl_->workers)
      if (w->accepting()) return true;
    return false;
  };
  while (accepting() && std::chrono::steady_clock::now() < accept_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  log(log_level::info, "draining: listeners closed, ", active_requests(),
      " request(s) in flight, waiting up to ", grace.count(), " ms");
  const auto until = std::chrono::steady_clock::now() + grace;
  while (active_requests() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (auto& w : impl_->workers)
    w->stop();
  impl_->workers.clear();
}

void server::run_until_signal(std::chrono::milliseconds grace) {
  net::io_context control;
  net::signal_set signals(control, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](error_code ec, int sig) {
    if (!ec) received = sig;
  });
  control.run();
  log(log_level::info, "signal ", received, " received");
  stop(grace);
  log(log_level::info, "stopped");
}

}  // namespace proxy
