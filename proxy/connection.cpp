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

/// One client connection's state, on the heap for as long as the connection lives, so that a
/// connection waiting for its next HTTP/1.1 request holds no coroutine frame: the wait's
/// handler owns its session meanwhile (parked, see h1_loop).
struct session {
  explicit session(runtime_ptr rt, worker_state& w, std::size_t listener)
      : slot{w}, conn{std::move(rt), w, listener, 0, {}, {}, false} {}
  ~session() {
    if (auto* c = plain ? &*plain : tls ? &tls->next_layer() : nullptr) conn.worker.idle.erase(c);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// The accept loop reserved this connection's process-wide slot: given back with the session.
  struct counted {
    worker_state& worker;
    explicit counted(worker_state& w) : worker(w) { ++worker.active_connections; }
    ~counted() {
      --worker.active_connections;
      --worker.process_connections;
    }
  } slot;
  conn_ctx conn;
  std::optional<tcp_conn> plain;  ///< the connection, until TLS takes it over
  std::optional<tls_conn> tls;
  h1_loop h1;
};
using session_ptr = std::unique_ptr<session>;

template <class Stream>
Stream& stream_of(session& s) {
  if constexpr (std::is_same_v<Stream, tls_conn>)
    return *s.tls;
  else
    return *s.plain;
}

template <class Stream>
awaitable<void> run_h1(session_ptr s);

/// Starts a coroutine that serves HTTP/1.1 on the session's connection. Its own, not one
/// awaited by the coroutine that accepted the connection: that one's frame (the handshake's)
/// would stay for as long as the connection is served (a long-poll: minutes).
template <class Stream>
void start_h1(session_ptr s) {
  const auto ex = stream_of<Stream>(*s).get_executor();
  on_coroutine_exit on_exit{s->conn.rt, false, s->conn.worker.id};
  net::co_spawn(ex, run_h1<Stream>(std::move(s)), std::move(on_exit));
}

/// Parks a connection waiting for its next request: a socket wait (under the deadline
/// serve_h1 set) owns the session; when it completes, a new coroutine goes on serving.
template <class Stream>
void park(session_ptr s) {
  auto& client = stream_of<Stream>(*s);
  const auto wait = s->h1.wait;
  client.async_wait(wait, [s = std::move(s)](error_code ec) mutable {
    s->h1.woke = ec;
    start_h1<Stream>(std::move(s));
  });
}

/// Serves HTTP/1.1 on the session's connection until it parks or closes.
template <class Stream>
awaitable<void> run_h1(session_ptr s) {
  auto& client = stream_of<Stream>(*s);
  const auto end = co_await serve_h1(client, s->conn, s->h1);
  if (end == h1_end::park) {
    park<Stream>(std::move(s));
    co_return;
  }
  co_await close_connection(client, end == h1_end::linger ? close_how::refused : close_how::normal);
}

}  // namespace

awaitable<void> serve_connection(runtime_ptr rt, worker_state& worker, tcp::socket socket,
                                 std::size_t listener) {
  // First: every way out of here (or out of the session's later coroutines) gives back the
  // connection's slot, with the session.
  auto s = std::make_unique<session>(std::move(rt), worker, listener);
  auto& conn = s->conn;
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // PENDING chunks must not wait for Nagle
  const auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;  // reset before we looked
  conn.id = worker.next_connection++;
  conn.client_ip = peer.address().to_string();

  auto& tcp_s = s->plain.emplace(std::move(socket));
  if (conn.rt->cfg->listeners[listener].proxy_protocol != config::proxy_protocol::off &&
      !co_await accept_proxy_header(tcp_s, conn, peer)) {
    tcp_s.close();
    co_return;
  }
  if (!conn.rt->listener_ssl[listener]) {
    start_h1<tcp_conn>(std::move(s));
    co_return;
  }
  auto& tls_s = s->tls.emplace(std::move(tcp_s), *conn.rt->listener_ssl[listener]);
  s->plain.reset();
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
  start_h1<tls_conn>(std::move(s));
}

}  // namespace proxy
