// The data plane's owner: runtime, workers, listeners, signal-driven stop.
#include "proxy/server.hpp"

#include <openssl/crypto.h>

#include <boost/version.hpp>
#include <thread>
#include <vector>

#include "accesslog/writer.hpp"
#include "proxy/admin.hpp"
#include "proxy/log.hpp"
#include "proxy/request_facts.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker.hpp"

#ifndef MAPIGATE_VERSION
#define MAPIGATE_VERSION "0.0.0"
#endif

namespace proxy {
namespace {

metrics::build_info build() {
  return {MAPIGATE_VERSION, BOOST_LIB_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING)};
}

/// "0.1.0" → {0, 1, 0, 0}: the HttpProxy log's version columns.
accesslog::version_numbers version_numbers() {
  accesslog::version_numbers v;
  std::uint32_t* parts[] = {&v.major, &v.minor, &v.build};
  std::size_t i = 0;
  for (const char* p = MAPIGATE_VERSION; *p && i < 3; ++p) {
    if (*p == '.') {
      ++i;
    } else if (*p >= '0' && *p <= '9') {
      *parts[i] = *parts[i] * 10 + std::uint32_t(*p - '0');
    }
  }
  return v;
}

std::unique_ptr<accesslog::writer> make_writer(const config::snapshot& c) {
  if (!c.logs) return nullptr;
  accesslog::writer_options o;
  o.directory = c.logs->directory;
  o.version = version_numbers();
  o.max_file_bytes = c.logs->max_file_bytes;
  o.max_dir_bytes = c.logs->max_directory_bytes;
  o.max_age = c.logs->max_age;
  o.queue_capacity = c.logs->queue_records;
  return std::make_unique<accesslog::writer>(std::move(o));
}

}  // namespace

struct server::impl {
  // Declared first, destroyed last: workers' frames and the admin thread use them to the end.
  metrics::registry registry{build()};
  std::unique_ptr<accesslog::writer> access_log;
  std::unique_ptr<std::atomic<bool>[]> backend_reachable;
  std::atomic<std::size_t> connections{0};  ///< client connections across workers
  runtime_ptr rt;
  std::vector<std::unique_ptr<worker>> workers;
  std::vector<std::uint16_t> ports;
  std::unique_ptr<admin_server> admin;
  bool stopped = false;

  admin_response handle_admin(const admin_request& r);
  std::string scrape();
};

std::string server::impl::scrape() {
  metrics::registry::process_view v;
  v.client_connections = connections.load(std::memory_order_relaxed);
  const std::size_t backends = rt->cfg->backends.size();
  std::vector<std::size_t> open(backends, 0);
  for (const auto& w : workers) {
    const auto& s = w->state();
    v.pinned += s.pinned_connections.load(std::memory_order_relaxed);
    v.in_flight += s.active_requests.load(std::memory_order_relaxed);
    v.notification_waits += s.notification_waits.load(std::memory_order_relaxed);
    // affinity_outcomes is indexed by routing::affinity_outcome; its "none" slot holds misses.
    for (std::size_t i = 0; i < v.affinity.size(); ++i)
      v.affinity[i] += s.affinity_outcomes[i].load(std::memory_order_relaxed);
    for (std::size_t b = 0; b < backends; ++b)
      open[b] += s.upstream_open[b].load(std::memory_order_relaxed);
  }
  if (access_log) {
    v.log_written = access_log->records_written();
    v.log_dropped = access_log->records_dropped();
    v.log_errors = access_log->write_errors();
  }
  registry.set_process(v);
  for (std::size_t b = 0; b < backends; ++b)
    rt->metrics->set_backend(b, backend_reachable[b].load(std::memory_order_relaxed), open[b]);
  return registry.serialize();
}

admin_response server::impl::handle_admin(const admin_request& r) {
  const std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
  if (path != "/metrics") return {404, "text/plain; charset=utf-8", "not found\n"};
  if (r.method != "GET" && r.method != "HEAD")
    return {405, "text/plain; charset=utf-8", "use GET\n"};
  return {200, "text/plain; version=0.0.4; charset=utf-8", scrape()};
}

server::server(config::snapshot_ptr cfg) : impl_(std::make_unique<impl>()) {
  impl_->rt = std::make_shared<const runtime>(std::move(cfg), impl_->registry);
  const auto& c = *impl_->rt->cfg;
  impl_->registry.config_loaded(true, unix_now());
  impl_->access_log = make_writer(c);
  impl_->backend_reachable = std::make_unique<std::atomic<bool>[]>(c.backends.size());
  for (std::size_t b = 0; b < c.backends.size(); ++b)
    impl_->backend_reachable[b] = true;
  const process_services shared{impl_->connections, impl_->access_log.get(),
                                impl_->backend_reachable.get()};
  unsigned n = c.workers ? c.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i)
    impl_->workers.push_back(std::make_unique<worker>(i, impl_->rt, shared));
  for (std::size_t l = 0; l < c.listeners.size(); ++l) {
    const auto& at = c.listeners[l].address;
    tcp::endpoint ep(net::ip::make_address(at.host), at.port);
    // The first worker resolves port 0 to an ephemeral port; the others join it there.
    for (auto& w : impl_->workers)
      ep.port(w->listen(l, ep));
    impl_->ports.push_back(ep.port());
  }
  if (c.admin)
    impl_->admin = std::make_unique<admin_server>(
        c.admin->address, [this](const admin_request& r) { return impl_->handle_admin(r); });
}

server::~server() {
  if (impl_) stop(std::chrono::milliseconds(0));
}

void server::start() {
  for (auto& w : impl_->workers)
    w->start();
  if (impl_->admin) {
    impl_->admin->start();
    log(log_level::info, "admin listener on ", impl_->rt->cfg->admin->address.host, ":",
        impl_->admin->port(), " (GET /metrics)");
  }
  const auto& c = *impl_->rt->cfg;
  for (std::size_t l = 0; l < c.listeners.size(); ++l)
    log(log_level::info, "listener ", c.listeners[l].name, " on ", c.listeners[l].address.host, ":",
        impl_->ports[l], c.listeners[l].tls ? " (TLS)" : " (plain HTTP)", ", ",
        impl_->workers.size(), " workers");
}

std::uint16_t server::port(std::size_t index) const {
  return impl_->ports.at(index);
}

std::uint16_t server::admin_port() const {
  return impl_->admin ? impl_->admin->port() : 0;
}

std::string server::scrape() {
  return impl_->scrape();
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
  // The admin thread reads worker state: it goes first.
  if (impl_->admin) impl_->admin->stop();
  for (auto& w : impl_->workers)
    w->stop();
  impl_->workers.clear();
  // Everything the workers queued (including requests cut short just now) reaches the files.
  if (impl_->access_log) impl_->access_log->stop();
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
