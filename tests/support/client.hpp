// A test HTTP/1.1 client over TLS or plain TCP, sending raw bytes and parsing responses with
// hard deadlines. Records when each response chunk arrives, for streaming assertions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

typedef struct ssl_session_st SSL_SESSION;

namespace testing_support {

using namespace std::chrono_literals;

struct chunk_arrival {
  std::chrono::steady_clock::time_point at;  ///< when its first byte was parsed
  std::string data;
};

struct http_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as received
  std::string body;                                          ///< chunks joined
  std::vector<chunk_arrival> chunks;                         ///< chunked responses only
  bool keep_alive = false;

  /// First value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
};

/// Thrown when a deadline passes or the peer closes before a complete response.
struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class test_client {
 public:
  /// TLS to 127.0.0.1:port with SNI `sni` (empty: none), verifying against `ca_file`.
  /// `source`: the client's own address (e.g. "127.0.0.7"), for tests of per-address rules.
  /// `preamble`: bytes sent before the TLS handshake (a PROXY protocol header).
  /// `resume`: a session of an earlier connection to offer (TLS resumption).
  /// `session_ids_only`: TLS 1.2 without session tickets, so that only the server's session
  /// cache can resume (by session ID), as Windows' SChannel clients often do.
  static test_client tls(std::uint16_t port, const std::string& sni, const std::string& ca_file,
                         const std::string& source = {}, const std::string& preamble = {},
                         SSL_SESSION* resume = nullptr, bool session_ids_only = false);
  /// The TLS session to resume later (after a response: TLS 1.3 tickets come after the
  /// handshake), and whether this connection resumed one. A session stays resumable only if
  /// the connection ends with close_gracefully() (OpenSSL drops sessions of connections that
  /// end without close_notify).
  std::shared_ptr<SSL_SESSION> session() const;
  bool resumed() const;
  static test_client plain(std::uint16_t port);

  test_client(test_client&&) noexcept;
  test_client& operator=(test_client&&) noexcept;
  ~test_client();

  void send(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
  /// Sends each piece with its own write (over TLS: its own record), corked (TCP_CORK), so that
  /// all of them reach the server in one TCP segment, as a client's pipelined requests may.
  void send_corked(const std::vector<std::string>& pieces);
  http_response read_response(std::chrono::milliseconds timeout = 5s);
  /// Reads the response to a HEAD request (a head with Content-Length but no body).
  http_response read_response_to_head(std::chrono::milliseconds timeout = 5s);
  /// Reads and discards until the server closes; true if it did so within `timeout`.
  /// Raw bytes, for responses that stream for hours (Outlook Anywhere's 1 GiB): everything up
  /// to and including `delimiter`, or exactly `n` bytes. Throw at the deadline.
  std::string read_until(std::string_view delimiter, std::chrono::milliseconds timeout = 5s);
  std::string read_exactly(std::size_t n, std::chrono::milliseconds timeout = 5s);
  bool wait_closed(std::chrono::milliseconds timeout);
  /// Closes the TCP connection at once (no TLS close_notify), as a vanished laptop would.
  void abort();
  /// Sends a TCP FIN (no TLS close_notify) and keeps the socket open, unread bytes and all.
  void shutdown_send();
  /// Bytes the server sent that wait unread in this socket's receive queue (TLS records).
  std::size_t unread_bytes();
  /// Sends TLS close_notify (when TLS) and closes, as a polite client would.
  void close_gracefully();
  /// DNS names in the server certificate presented on this connection.
  std::vector<std::string> peer_certificate_names() const;

 private:
  struct impl;
  explicit test_client(std::unique_ptr<impl> p);
  http_response read(std::chrono::milliseconds timeout, bool head_request);
  std::unique_ptr<impl> impl_;
};

/// A MAPI/HTTP request as Outlook sends it. `extra` is inserted as raw header lines
/// ("Name: value\r\n" each).
std::string mapi_request(std::string_view host, std::string_view vdir, std::string_view mailbox,
                         std::string_view request_type, std::string_view body,
                         std::string_view extra = {},
                         std::string_view request_id = "{C715155F-2BE8-44E0-BD34-2960065754C8}:1");

/// Polls `pred` every 5 ms until it holds or `timeout` passes; returns its last value. For state
/// the server updates just after the client has seen a response.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 2s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// "name=value; name2=value2" from a response's Set-Cookie headers (attributes dropped).
std::string cookies_from(const http_response& r);

}  // namespace testing_support
