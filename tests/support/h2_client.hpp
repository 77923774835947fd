// An HTTP/2 test client: nghttp2's own client session over TLS (ALPN h2) on 127.0.0.1, every
// wait bounded by a deadline. Single-threaded: drive it with run_until().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/client.hpp"

namespace testing_support {

class h2_test_client {
 public:
  struct response {
    int status = 0;            ///< the final response's
    std::vector<int> interim;  ///< informational (1xx) responses before it, in order
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::vector<chunk_arrival> chunks;  ///< one per DATA frame
    bool done = false;                  ///< the stream closed (normally or reset)
    std::uint32_t error_code = 0;       ///< RST_STREAM / close code (0: none)
    bool reset_received = false;        ///< the server sent RST_STREAM (any code, NO_ERROR too)
    std::string header(std::string_view name) const;
  };

  /// Connects, negotiates h2 (throws client_error when the server does not select it).
  /// `source`: the client's own address on the loopback network (e.g. "127.0.0.7").
  /// `preamble`: bytes sent before the TLS handshake (a PROXY protocol header).
  h2_test_client(std::uint16_t port, const std::string& sni, const std::string& ca_file,
                 std::chrono::milliseconds timeout = 5s, const std::string& source = {},
                 const std::string& preamble = {});
  ~h2_test_client();
  h2_test_client(const h2_test_client&) = delete;
  h2_test_client& operator=(const h2_test_client&) = delete;

  /// Submits a request (a body makes it a DATA-carrying stream); returns the stream id.
  /// `hold_body`: announce the body (content-length) but never send it, as a stalled client.
  std::int32_t request(const std::string& method, const std::string& path,
                       const std::string& authority,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       const std::string& body = {}, bool hold_body = false);
  /// A request whose framing the test chooses. `body`: nullopt sends END_STREAM on HEADERS;
  /// otherwise DATA frames carry it, each at most the data frame size (an empty body is one
  /// empty DATA frame with END_STREAM). `content_length`: that field's value exactly as sent,
  /// or no such field.
  std::int32_t request_framed(const std::string& method, const std::string& path,
                              const std::string& authority,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::optional<std::string> body,
                              std::optional<std::string> content_length);

  /// How the client's frames go on the wire from now on: everything pending in one write (one
  /// TLS record, so the server reads HEADERS and DATA together), a write per frame, or a write
  /// per byte; each write is its own TLS record.
  enum class split { whole, per_frame, per_byte };
  void set_split(split s);
  /// Largest DATA frame payload the client sends (default 16384).
  void set_data_frame_size(std::size_t n);

  /// How much response data the server may send before this client reads (each stream's window
  /// and the connection's), instead of 64 KiB: with a wide window a response the client does
  /// not read stalls at the socket, not at flow control.
  void set_receive_window(std::int32_t bytes);

  /// Starts sending the body a request(..., hold_body = true) held back.
  void release_body(std::int32_t stream);
  /// RST_STREAM with `code` (CANCEL by default).
  void reset(std::int32_t stream, std::uint32_t code = 0x8);
  /// Does I/O until `pred` holds or `timeout` passes; returns pred().
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);
  /// Writes raw bytes after everything queued (hand-made frames for abuse tests).
  void send_raw(const std::string& bytes);
  /// A PING round trip: once its ACK is back, the server has read and processed everything
  /// this client sent before (the SETTINGS exchange included). False on the deadline.
  bool ping(std::chrono::milliseconds timeout = 5s);
  /// run_until everything submitted so far is on the wire.
  bool flush(std::chrono::milliseconds timeout = 5s);
  /// run_until the stream is done; throws client_error on the deadline.
  const response& wait(std::int32_t stream, std::chrono::milliseconds timeout = 5s);

  const response& get(std::int32_t stream) const;
  bool goaway_received() const noexcept;
  std::uint32_t goaway_code() const noexcept;
  /// The last-stream-id of every GOAWAY received, in order.
  const std::vector<std::int32_t>& goaway_last_streams() const noexcept;
  bool connection_closed() const noexcept;  ///< the server closed the TCP/TLS connection

  /// A MAPI request's headers (as mapi_request() sends them), lower-case for HTTP/2.
  static std::vector<std::pair<std::string, std::string>> mapi_headers(
      std::string_view request_type, std::string_view extra_cookie = {},
      std::string_view authorization = {});

 private:
  std::int32_t request_framed(const std::string& method, const std::string& path,
                              const std::string& authority,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::optional<std::string> body,
                              std::optional<std::string> content_length, bool hold_body);
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace testing_support
