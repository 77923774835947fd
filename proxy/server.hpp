// The mapigate process's data plane: runtime state, workers and their listeners.
// Asio-free header (pimpl) so that tools and tests can embed a server cheaply.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace proxy {

class server {
 public:
  /// Builds TLS contexts and binds every listener on every worker. Throws (tls::tls_error,
  /// boost::system::system_error) with a message naming what failed: nothing is left running.
  explicit server(config::snapshot_ptr cfg);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Starts the worker threads; returns at once.
  void start();

  /// The port listener `index` is bound to (the ephemeral port when the config says 0).
  std::uint16_t port(std::size_t index) const;

  /// Drains: from now on every response closes its connection (HTTP/2: GOAWAY) and the health
  /// checks answer 503; after `accept_grace` (while balancers notice) the listeners close;
  /// connections waiting for a request get drain_idle_window to send one; requests in flight
  /// get at most `grace` to finish. Then stops the workers and closes what is left. A second
  /// signal (abort_drain) cuts every wait short. Idempotent; call from the controlling thread.
  void stop(std::chrono::milliseconds grace,
            std::chrono::milliseconds accept_grace = std::chrono::milliseconds(0));

  /// Reads `file` (with `over` applied) and, when it is valid (certificates and keys included) and
  /// names the same listeners, makes it the configuration new connections and requests use;
  /// requests in flight finish on the previous one, and listening sockets stay open throughout.
  /// Otherwise logs every diagnostic, counts the failure and keeps serving the previous
  /// configuration. Call from the controlling thread. Returns whether the new configuration is in
  /// effect.
  bool reload(const std::string& file, const config::overrides& over = {});

  /// Blocks until SIGINT or SIGTERM, then stop() with the current configuration's
  /// timeouts.drain and timeouts.accept_grace; a second signal ends the drain at once.
  /// SIGHUP reloads `config_file` with `over` (ignored when empty). Notifies systemd (READY once
  /// the signal handlers are in place, RELOADING, STOPPING) when run under Type=notify. For the
  /// mapigate executable.
  void run_until_signal(const std::string& config_file = {}, const config::overrides& over = {});

  /// The admin listener's port (0 when the config disables it).
  std::uint16_t admin_port() const;

  /// What GET /metrics on the admin listener returns. Call from one thread at a time and not
  /// while the admin listener serves a scrape (tests without an admin listener).
  std::string scrape();

  /// Requests in flight across workers (relaxed read, for draining and tests).
  std::size_t active_requests() const;

  /// Backend connections bound to one client connection by NTLM/Negotiate, across workers.
  std::size_t pinned_connections() const;

  /// Requests whose affinity token had outcome `outcome` (a routing::affinity_outcome value).
  std::uint64_t affinity_count(int outcome) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace proxy
