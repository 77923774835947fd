// Byte transport of one accepted connection (plain TCP or TLS) with deadlines and peer-close watch.
//
// Internal header (Asio/Beast allowed here, never in mapi_sim.hpp). A transport is owned by its
// connection coroutine and used only on the server's io thread. Every operation has a deadline:
// reads and writes use the idle timeout, waits use the caller's time point.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

namespace sim::detail {

using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

enum class wait_outcome { elapsed, peer_closed };

class transport {
 public:
  virtual ~transport() = default;

  /// TLS server handshake (no-op for plain TCP).
  virtual boost::asio::awaitable<boost::system::error_code> handshake() = 0;
  /// Reads the request head into `parser` (may buffer body bytes).
  virtual boost::asio::awaitable<boost::system::error_code> read_header(request_parser& parser) = 0;
  /// Reads the rest of the message (the body) into `parser`.
  virtual boost::asio::awaitable<boost::system::error_code> read_body(request_parser& parser) = 0;
  /// Reads what has arrived of the body into `parser` (appended to its body string; at least
  /// one byte unless the body is done): for bodies streamed for hours (RPC_IN_DATA).
  virtual boost::asio::awaitable<boost::system::error_code> read_body_some(
      request_parser& parser) = 0;
  /// Writes all of `data` (which must stay alive until completion); TCP_NODELAY makes it leave
  /// at once.
  virtual boost::asio::awaitable<boost::system::error_code> write(std::string_view data) = 0;
  /// Waits until `until` while watching the socket: returns peer_closed within milliseconds when
  /// the peer closes or resets the connection (or close() is called). Bytes the peer sends
  /// meanwhile (a pipelined request) are kept for the next read_header.
  virtual boost::asio::awaitable<wait_outcome> wait_until(
      std::chrono::steady_clock::time_point until) = 0;
  /// Graceful end: TLS close_notify, FIN, a short drain of what the peer still sends (so the
  /// last response is not destroyed by an RST), then close. Bounded by one second.
  virtual boost::asio::awaitable<void> shutdown() = 0;
  /// Immediate close; cancels every pending operation. Idempotent.
  virtual void close() = 0;
};

/// `tls` null → plain TCP. The socket should already have TCP_NODELAY set. `tls` must outlive
/// the transport.
std::unique_ptr<transport> make_transport(boost::asio::ip::tcp::socket socket,
                                          boost::asio::ssl::context* tls,
                                          std::chrono::milliseconds idle_timeout);

}  // namespace sim::detail
