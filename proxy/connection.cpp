// One accepted client connection: TLS handshake with SNI, then HTTP/1.1 or HTTP/2 as ALPN chose.
#include "proxy/connection.hpp"

#include <algorithm>
#include <array>

#include "metrics/registry.hpp"
#include "proxy/h1/connection.hpp"
#include "proxy/h2/connection.hpp"
#include "proxy/io/log.hpp"
#include "routing/proxy_protocol.hpp"
#include "tls/server_context.hpp"

namespace proxy {
namespace {

/// How a connection ends (close_connection).
enum class close_how {
  normal,          ///< TLS close_notify (bounded), then close
  refused,         ///< mapigate refused a request whose bytes may still come: linger_time
  protocol_error,  ///< HTTP/2 GOAWAY for a connection error sent: close_notify, then error_linger
};
constexpr auto linger_time = std::chrono::seconds(2);  ///< lingering close: at most this long
constexpr auto error_linger = std::chrono::milliseconds(200);  ///< after an HTTP/2 error GOAWAY
constexpr std::size_t linger_bytes = 1024 * 1024;              ///< and at most this much discarded
/// Ends a connection. Normally: TLS close_notify (bounded), then close. After a refusal the
/// client may still be sending what was refused (a 64 MiB body, the rest of a huge head);
/// closing at once would make the kernel answer it with a reset that can destroy the error
/// response before the client reads it. So, as nginx's lingering_close does, half-close and read
/// and discard for a bounded time and amount first. After an HTTP/2 connection error the same,
/// but short and after close_notify: the GOAWAY that says why must reach the client, and a
/// client that stays silent must not keep the connection.
template <class Stream>
awaitable<void> close_connection(Stream& s, close_how how) {
  auto& tcp = beast::get_lowest_layer(s);
  error_code ignored;
  if constexpr (std::is_same_v<Stream, tls_conn>) {
    if (how != close_how::refused) {
      // Errors are expected here (the peer may be gone) and carry no news.
      tcp.expires_after(std::chrono::seconds(1));
      co_await s.async_shutdown(use_nothrow);
    }
  }
  if (how != close_how::normal) {
    tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp.expires_after(how == close_how::refused ? std::chrono::milliseconds(linger_time)
                                                : error_linger);
    std::array<char, 4096> scratch;
    for (std::size_t drained = 0; drained < linger_bytes;) {
      // Raw TCP bytes: the connection is over, there is no TLS record worth decoding.
      auto [ec, n] = co_await tcp.async_read_some(net::buffer(scratch), use_nothrow);
      if (ec) break;
      drained += n;
    }
  }
  tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp.close();
}

/// The PROXY protocol header a listener requires, read before any other byte (TLS included) and
/// never past its end: from a trusted source only, within timeouts.handshake; its source
/// becomes the connection's client address. False: close without a byte read as HTTP (logged,
/// counted; not a connection closed before sending anything, as a TCP health check does).
awaitable<bool> accept_proxy_header(tcp_conn& tcp_s, conn_ctx& conn, const tcp::endpoint& peer) {
  const auto& l = conn.rt->cfg->listeners[conn.listener];
  const auto& trusted = conn.rt->trusted_sources[conn.listener];
  auto refuse = [&](metrics::proxy_refusal why, std::string_view detail) {
    conn.rt->metrics->proxy_protocol_refused(why);
    log_client_caused(log_level::info, "c", conn.id, " ", peer.address().to_string(),
                      " connection closed: ", detail);
    return false;
  };
  const auto from = peer.address().to_string();
  if (std::none_of(trusted.begin(), trusted.end(),
                   [&](const routing::cidr& n) { return routing::contains(n, from); }))
    co_return refuse(metrics::proxy_refusal::untrusted,
                     "PROXY header expected from an untrusted source");
  const auto versions = l.proxy_protocol == config::proxy_protocol::v1 ? routing::proxy_versions::v1
                        : l.proxy_protocol == config::proxy_protocol::v2
                            ? routing::proxy_versions::v2
                            : routing::proxy_versions::any;
  std::array<char, routing::proxy_header_max> buf;
  std::size_t have = 0;
  routing::proxy_header header;
  for (;;) {
    const auto r = routing::parse_proxy_header({buf.data(), have}, versions, header);
    if (r.st == routing::proxy_parse::status::complete) break;
    if (r.st == routing::proxy_parse::status::invalid)
      co_return refuse(have == 0 || r.why == "no PROXY protocol header"
                           ? metrics::proxy_refusal::missing
                           : metrics::proxy_refusal::malformed,
                       r.why);
    if (have + r.want > buf.size())
      co_return refuse(metrics::proxy_refusal::malformed, "PROXY header too long");
    arm_deadline(tcp_s, conn.rt->cfg->timeouts.handshake);
    auto [ec, n] =
        co_await net::async_read(tcp_s, net::buffer(buf.data() + have, r.want), use_nothrow);
    have += n;
    // Connected and closed without a byte: a balancer's TCP health check, not a refusal.
    if (ec == net::error::eof && have == 0) co_return false;
    if (ec)
      co_return refuse(
          have == 0 ? metrics::proxy_refusal::missing : metrics::proxy_refusal::malformed,
          "PROXY header incomplete: " + ec.message());
  }
  if (!header.local) conn.client_ip = header.source;
  co_return true;
}

/// close_how for a connection serve_h1 ended: `linger` after a refusal.
close_how after_h1(bool linger) noexcept {
  return linger ? close_how::refused : close_how::normal;
}

}  // namespace

awaitable<void> serve_connection(runtime_ptr rt, worker_state& worker, tcp::socket socket,
                                 std::size_t listener) {
  // First: the accept loop reserved this connection's process-wide slot; every way out of this
  // coroutine gives it back.
  ++worker.active_connections;
  struct on_exit {
    worker_state& worker;
    ~on_exit() {
      --worker.active_connections;
      --worker.process_connections;
    }
  } guard{worker};
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // PENDING chunks must not wait for Nagle
  const auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;  // reset before we looked
  conn_ctx conn{
      std::move(rt), worker, listener, worker.next_connection++, peer.address().to_string(), {},
      false};

  tcp_conn tcp_s(std::move(socket));
  if (conn.rt->cfg->listeners[listener].proxy_protocol != config::proxy_protocol::off &&
      !co_await accept_proxy_header(tcp_s, conn, peer)) {
    beast::get_lowest_layer(tcp_s).close();
    co_return;
  }
  if (!conn.rt->listener_ssl[listener]) {
    const bool linger = co_await serve_h1(tcp_s, conn);
    co_await close_connection(tcp_s, after_h1(linger));
    co_return;
  }
  tls_conn tls_s(std::move(tcp_s), *conn.rt->listener_ssl[listener]);
  conn.tls = true;
  arm_deadline(tls_s, conn.rt->cfg->timeouts.handshake);
  auto [hec] = co_await tls_s.async_handshake(ssl::stream_base::server, use_nothrow);
  conn.rt->metrics->tls_handshake(!hec, hec ? "unknown" : SSL_get_version(tls_s.native_handle()));
  if (hec) {
    log(log_level::debug, "c", conn.id, " ", conn.client_ip,
        " TLS handshake failed: ", hec.message());
    beast::get_lowest_layer(tls_s).close();
    co_return;
  }
  conn.sni = std::string(tls::server_context::server_name(tls_s.native_handle()));
  if (tls::server_context::alpn(tls_s.native_handle()) == "h2") {
    const bool error = co_await serve_h2(tls_s, conn);
    co_await close_connection(tls_s, error ? close_how::protocol_error : close_how::normal);
    co_return;
  }
  const bool linger = co_await serve_h1(tls_s, conn);
  co_await close_connection(tls_s, after_h1(linger));
}

}  // namespace proxy
