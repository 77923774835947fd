// The admin listener: a small plain-HTTP/1.1 server on its own thread (never a data worker's),
// loopback by default, and the JSON documents it serves. Asio-free header (pimpl).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace proxy {

struct admin_request {
  std::string method;  ///< "GET", "HEAD", "POST", ...
  std::string target;  ///< origin-form, as sent
  std::string authorization;
  std::string accept_encoding;
};

struct admin_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// One backend as GET /backends reports it: a snapshot of its configuration and live state.
struct backend_status {
  std::string name;
  std::string address;  ///< "host:port"
  bool tls = false;
  bool draining = false;  ///< `state: draining` in the configuration
  bool cordoned = false;  ///< cordoned by the admin (POST /backends/<name>/cordon)
  bool check_up = true;   ///< active checks pass
  bool reachable = true;  ///< active checks connect
  bool ejected = false;   ///< passively ejected: no new sessions for now
  bool down = false;      ///< cannot be reached: its sessions are lost
  bool usable = true;     ///< takes new sessions first
  std::size_t upstream_connections = 0;
  std::size_t requests_in_flight = 0;
  std::size_t sessions = 0;  ///< held NotificationWaits: about one per Outlook session
  /// The published vdirs besides /mapi, in config::vdir_id order.
  struct vdir {
    std::string name;       ///< its config key ("ews")
    bool check_up = true;   ///< its own check passes (or it has none)
    bool cordoned = false;  ///< cordoned for this workload alone
    bool ready = true;      ///< takes this workload's new requests
  };
  std::vector<vdir> vdirs;
};

/// The body of GET /backends (Boost.JSON, compact, then a newline):
///   {"backends":[{"name":…,"address":…,"tls":…,"config_state":"active"|"draining",
///     "cordoned":…,"health":"up"|"down","reachable":…,"ejected":…,"down":…,"usable":…,
///     "upstream_connections":…,"requests_in_flight":…,"sessions":…,
///     "vdirs":{"<vdir>":{"health":"up"|"down","cordoned":…,"ready":…},…}},…]}
/// keys in that order, backends in the order given. Strings are escaped as JSON requires;
/// contract: they are UTF-8 (the configuration allows only ASCII in names and hosts).
std::string backends_json(std::span<const backend_status> backends);

/// Contract: the handler runs on the admin thread, one request at a time (so it may keep
/// scrape state without locking), and must not block for long. Requests have a 8 KiB head
/// limit, no body beyond 64 KiB, and a 10 s deadline per request; at most 32 connections.
class admin_server {
 public:
  using handler = std::function<admin_response(const admin_request&)>;

  /// Binds `at` (throws boost::system::system_error naming the address on failure).
  admin_server(const config::endpoint& at, handler h);
  ~admin_server();  ///< stop()
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  std::uint16_t port() const noexcept;
  void start();
  /// Closes the listener and every admin connection, joins the thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace proxy
