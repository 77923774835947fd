// Test-side HTTP/1.1 client (plain or TLS) with a deadline on every read, plus request builders.
//
// Contract: one client per test thread; every call blocks the caller until done or until its
// deadline (then throws std::runtime_error). Reads are incremental so a test can observe a
// streamed response chunk by chunk. No Asio types leak into this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace simtest {

using namespace std::chrono_literals;

struct response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;
  std::vector<std::string> chunks;  ///< chunk payloads in order, without the last (empty) chunk
  std::string body;                 ///< de-chunked body

  std::string header(std::string_view name) const;  ///< first match, case-insensitive; "" if none
  std::vector<std::string> all(std::string_view name) const;
  int response_code() const;  ///< X-ResponseCode header, -1 when absent
};

class client {
 public:
  /// Connects to 127.0.0.1:port (TLS without certificate verification when `tls`).
  explicit client(std::uint16_t port, bool tls = false);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void send(std::string_view bytes);
  /// Status line and headers only; the body stays unread.
  response read_head(std::chrono::milliseconds timeout = 5s);
  /// Next chunk payload of a chunked body; "" for the last chunk (its trailer is consumed too).
  std::string read_chunk(std::chrono::milliseconds timeout = 5s);
  /// A whole response: head, then body by Content-Length or chunked framing.
  response read_response(std::chrono::milliseconds timeout = 5s);
  response request(std::string_view raw, std::chrono::milliseconds timeout = 5s) {
    send(raw);
    return read_response(timeout);
  }
  /// True when the server closes (EOF or reset) within `timeout`; discards data meanwhile.
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();  ///< abrupt: the socket just goes away
  /// Polite end: TLS close_notify (or TCP FIN), then close.
  void close_gracefully();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A MAPI POST. `cookie` empty → no Cookie header. `extra` holds complete header lines.
std::string mapi_request(std::string_view endpoint, std::string_view type,
                         std::string_view request_id, std::string_view cookie = {},
                         std::string_view extra = {}, std::string_view body = "\x01\x02\x03\x04");

/// Cookies a client keeps for one Session Context (name → value, from Set-Cookie).
class cookie_jar {
 public:
  void update(const response& r);  ///< applies Set-Cookie (expired ones are removed)
  std::string header() const;      ///< "a=1; b=2"
  std::string get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> cookies_;
};

/// Self-signed EC P-256 certificate for "localhost" written as PEM into a fresh temp directory
/// (removed by the destructor).
class temp_certificate {
 public:
  temp_certificate();
  ~temp_certificate();
  const std::string& cert_file() const { return cert_; }
  const std::string& key_file() const { return key_; }

 private:
  std::string dir_, cert_, key_;
};

}  // namespace simtest
