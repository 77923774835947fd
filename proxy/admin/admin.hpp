// The admin listener: a small plain-HTTP/1.1 server on its own thread (never a data worker's),
// loopback by default. Asio-free header (pimpl).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace proxy {

struct admin_request {
  std::string method;  ///< "GET", "HEAD", "POST", ...
  std::string target;  ///< origin-form, as sent
  std::string authorization;
};

struct admin_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

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
