// Byte transport of one accepted connection (plain TCP or TLS) with deadlines and peer-close watch.
#include "tools/sim/transport.hpp"

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <type_traits>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

namespace sim::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using namespace net::experimental::awaitable_operators;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
/// Beyond this many buffered-but-unparsed bytes the peer watch stops reading (header + body
/// limits of one request, plus slack).
constexpr std::size_t watch_buffer_cap = 9 * 1024 * 1024;
constexpr std::chrono::seconds shutdown_budget{1};

enum class peek_result { data, closed, nothing };

/// Non-blocking MSG_PEEK of one byte: tells EOF (0) from data without consuming anything.
peek_result peek(net::ip::tcp::socket& socket) {
  char byte = 0;
  for (;;) {
    ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return peek_result::data;
    if (n == 0) return peek_result::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return peek_result::nothing;
    return peek_result::closed;
  }
}

template <class Stream>
class stream_transport final : public transport {
 public:
  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  explicit stream_transport(std::chrono::milliseconds idle_timeout, Args&&... args)
      : stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()),
        idle_timeout_(idle_timeout) {}

  net::awaitable<error_code> handshake() override {
    if constexpr (is_tls) {
      lowest().expires_after(idle_timeout_);
      auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, use_tuple);
      co_return ec;
    } else {
      co_return error_code{};
    }
  }

  net::awaitable<error_code> read_header(request_parser& parser) override {
    lowest().expires_after(idle_timeout_);
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, use_tuple);
    co_return ec;
  }

  net::awaitable<error_code> read_body(request_parser& parser) override {
    lowest().expires_after(idle_timeout_);
    auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, use_tuple);
    co_return ec;
  }

  net::awaitable<error_code> read_body_some(request_parser& parser) override {
    lowest().expires_after(idle_timeout_);
    auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser, use_tuple);
    co_return ec;
  }

  net::awaitable<error_code> write(std::string_view data) override {
    lowest().expires_after(idle_timeout_);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(data), use_tuple);
    co_return ec;
  }

  net::awaitable<wait_outcome> wait_until(std::chrono::steady_clock::time_point until) override {
    auto& socket = lowest().socket();
    for (;;) {
      if (!socket.is_open()) co_return wait_outcome::peer_closed;
      if (std::chrono::steady_clock::now() >= until) co_return wait_outcome::elapsed;
      timer_.expires_at(until);
      if (buffer_.size() >= watch_buffer_cap) {
        // The peer keeps sending without reading; stop pulling its bytes, only keep time.
        auto [ec] = co_await timer_.async_wait(use_tuple);
        co_return ec ? wait_outcome::peer_closed : wait_outcome::elapsed;
      }
      auto raced = co_await (timer_.async_wait(use_tuple) ||
                             socket.async_wait(net::socket_base::wait_read, use_tuple));
      if (raced.index() == 0) {
        auto [ec] = std::get<0>(raced);
        // A cancelled timer here means close() was called.
        co_return ec ? wait_outcome::peer_closed : wait_outcome::elapsed;
      }
      if (auto [ec] = std::get<1>(raced); ec) co_return wait_outcome::peer_closed;
      switch (peek(socket)) {
        case peek_result::closed:
          co_return wait_outcome::peer_closed;
        case peek_result::nothing:
          continue;
        case peek_result::data:
          break;
      }
      // Pull what arrived into the request buffer: for TLS this may be a close_notify alert
      // (read fails with eof/stream_truncated) or a record still arriving (raced with the timer).
      lowest().expires_never();
      auto read = co_await (timer_.async_wait(use_tuple) ||
                            stream_.async_read_some(buffer_.prepare(16 * 1024), use_tuple));
      if (read.index() == 0) {
        auto [ec] = std::get<0>(read);
        co_return ec ? wait_outcome::peer_closed : wait_outcome::elapsed;
      }
      auto [ec, n] = std::get<1>(read);
      if (ec) co_return wait_outcome::peer_closed;
      buffer_.commit(n);
    }
  }

  net::awaitable<void> shutdown() override {
    auto& socket = lowest().socket();
    if (!socket.is_open()) co_return;
    lowest().expires_after(shutdown_budget);
    if constexpr (is_tls) {
      // Sends close_notify and waits (bounded) for the peer's; that also drains its data.
      co_await stream_.async_shutdown(use_tuple);
    } else {
      error_code ignored;
      socket.shutdown(net::socket_base::shutdown_send, ignored);
      char scratch[4096];
      for (;;) {
        auto [ec, n] = co_await lowest().async_read_some(net::buffer(scratch), use_tuple);
        if (ec) break;
      }
    }
    close();
  }

  void close() override {
    timer_.cancel();
    lowest().close();
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::chrono::milliseconds idle_timeout_;
};

}  // namespace

std::unique_ptr<transport> make_transport(net::ip::tcp::socket socket, ssl::context* tls,
                                          std::chrono::milliseconds idle_timeout) {
  if (tls != nullptr) {
    return std::make_unique<stream_transport<ssl::stream<beast::tcp_stream>>>(
        idle_timeout, std::move(socket), *tls);
  }
  return std::make_unique<stream_transport<beast::tcp_stream>>(idle_timeout, std::move(socket));
}

}  // namespace sim::detail
