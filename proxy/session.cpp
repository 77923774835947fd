// One client connection: TLS handshake with SNI, then the strict HTTP/1.1 request loop.
#include "proxy/session.hpp"

#include <array>
#include <string_view>

#include "accesslog/format.hpp"
#include "metrics/registry.hpp"
#include "proxy/h1_head.hpp"
#include "proxy/h2_connection.hpp"
#include "proxy/local_reply.hpp"
#include "proxy/log.hpp"
#include "proxy/pipeline.hpp"
#include "proxy/request_facts.hpp"
#include "routing/auth_policy.hpp"
#include "routing/credentials.hpp"

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
constexpr std::size_t head_read_size = 4096;  ///< most bytes of a head read at once

enum class head_status { complete, closed, timeout, too_large, bad };

/// What a scan decided about the head: none while more bytes are needed.
std::optional<head_status> decided(const head_scan& scan) noexcept {
  switch (scan.result) {
    case head_scan::state::complete:
      return head_status::complete;
    case head_scan::state::too_large:
      return head_status::too_large;
    case head_scan::state::bad:
      return head_status::bad;
    case head_scan::state::need_more:
      break;
  }
  return std::nullopt;
}

std::string_view bytes_of(const beast::flat_buffer& b) noexcept {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

/// Reads until `cbuf` holds a complete, strictly framed request head. Called once the head has
/// begun to arrive (serve_h1 waits for its first bytes): from then on the whole head must
/// arrive within header_read, so a trickling client cannot hold a connection.
template <class Stream>
awaitable<head_status> read_head(Stream& client, beast::flat_buffer& cbuf, head_scan& scan,
                                 conn_ctx& cx) {
  const auto& cfg = *cx.rt->cfg;
  arm_deadline(client, cfg.timeouts.header_read);
  for (;;) {
    scan = scan_request_head(bytes_of(cbuf), cfg.limits.header_bytes);
    if (const auto st = decided(scan)) co_return *st;
    auto [ec, n] = co_await read_some_lazily(client, cbuf, head_read_size, cx.ws);
    if (ec == beast::error::timeout) co_return head_status::timeout;
    if (ec) co_return head_status::closed;
  }
}

/// Makes `t` the connection's current request for as long as this lives; then finishes it
/// (metrics, log record), however the request ended, including the worker shutting down.
struct trace_scope {
  conn_ctx& cx;
  request_trace& t;
  trace_scope(conn_ctx& c, request_trace& tr) : cx(c), t(tr) {
    cx.trace = &t;
    start_trace(t, cx);
  }
  ~trace_scope() {
    cx.trace = nullptr;
    t.finish(*cx.rt->metrics, cx.ws.access_log);
  }
  trace_scope(const trace_scope&) = delete;
  trace_scope& operator=(const trace_scope&) = delete;
};

/// Answers one request whose head read_head has finished reading (or refused): every request
/// that gets here gets an answer, a log record and its metrics. Its own coroutine, so that the
/// parser, the trace and the routing decision exist only while a request does, not in the
/// frame of every idle keep-alive connection.
template <class Stream>
awaitable<request_end> serve_request(Stream& client, beast::flat_buffer& cbuf, head_status status,
                                     const head_scan& scan, std::size_t served, conn_ctx& cx) {
  const auto& cfg = *cx.rt->cfg;
  // From here on every request gets an answer, a log record and its metrics.
  request_trace trace;
  trace_scope scope{cx, trace};
  switch (status) {
    case head_status::complete:
    case head_status::closed:
    case head_status::timeout:
      break;
    case head_status::too_large:
      log(log_level::info, "c", cx.id, " ", cx.client_ip, " request head too large (431)");
      trace.add_error("request header fields too large");
      co_await write_local_made(
          client, cx, [] { return make_error(431, "request header fields too large", true); });
      co_return request_end::linger;
    case head_status::bad:
      log(log_level::info, "c", cx.id, " ", cx.client_ip, " bad request head: ", scan.reason);
      trace.add_error(scan.reason);
      co_await write_local_made(client, cx, [&] { return make_error(400, scan.reason, true); });
      co_return request_end::linger;
  }

  // The fields of this request and its response: one arena, released when the request ends (a
  // held response's request gives it back once sent, and its own fields use the heap: see
  // forward_request).
  field_arena arena(cx.ws.field_arena_blocks);
  // Optional: forward_request ends it early once the request is sent (see there).
  std::optional<request_parser> parser;
  auto& p = parser.emplace(std::piecewise_construct, std::make_tuple(),
                           std::make_tuple(arena.allocator()));
  p.header_limit(static_cast<std::uint32_t>(cfg.limits.header_bytes));
  p.body_limit(boost::none);  // checked below, once the vdir is known (MAPI answers differ)
  error_code ec;
  // From the request line on: an empty line before it (scan.start) is ignored.
  const std::size_t head_length = scan.length - scan.start;
  const auto* head = static_cast<const char*>(cbuf.data().data()) + scan.start;
  const std::size_t used = p.put(net::buffer(head, head_length), ec);
  if (ec || !p.is_header_done() || used != head_length) {
    log(log_level::info, "c", cx.id, " ", cx.client_ip,
        " rejected request: ", ec ? ec.message() : "incomplete head");
    trace.add_error("malformed request head");
    co_await write_local_made(client, cx, [&] {
      return make_error(400, ec ? ec.message() : "malformed request head", true);
    });
    co_return request_end::linger;
  }
  cbuf.consume(scan.length);
  trace.rec.request_bytes = scan.length;
  auto& req = p.get();

  const auto facts = read_request_facts(req, cx.rt->cookie_name);
  describe_request(trace, req, facts, cx);
  if (facts.hosts > 1) {
    trace.add_error("more than one Host header");
    co_await write_local_made(client, cx,
                              [] { return make_error(400, "more than one Host header", true); });
    co_return request_end::linger;
  }
  std::optional<std::string_view> sni;
  if (!cx.sni.empty()) sni = cx.sni;
  const auto d =
      cx.rt->routes.decide({req.method_string(), req.target(), facts.host, sni, facts.request_type,
                            facts.authorization, facts.token, unix_now()},
                           health_now(cx));
  describe_decision(trace, d, facts.request_type, request_trace::clock::now());
  count_affinity(d, cx);
  const bool has_body = !p.is_done();
  const bool last = served + 1 >= cfg.limits.max_requests_per_connection;
  const bool keep_alive = req.keep_alive() && !last && !cx.ws.draining;
  const bool mapi = d.vdir == routing::vdir_kind::emsmdb || d.vdir == routing::vdir_kind::nspi;

  // Answers mapigate gives itself. On the MAPI vdirs a refusal that has an X-ResponseCode is
  // written the protocol's way. An unread body would be parsed as the next request: close then.
  auto refuse = [&](int status_code, int code, std::string_view reason, bool close) {
    return refusal(cx, trace, req, facts, mapi, status_code, code, reason, close || !keep_alive);
  };

  switch (d.act) {
    case routing::decision::action::reject: {
      // A small body is read and dropped first, so the connection survives the refusal. A
      // client waiting for 100 Continue sends none: close instead of waiting for it.
      const bool expects_continue = req.find(http::field::expect) != req.end();
      bool drained = p.is_done();
      if (!expects_continue) drained = co_await discard_body(client, cbuf, p, cx);
      bool close = false;
      co_await write_local_made(client, cx, [&] {
        auto res = refuse(d.status, d.mapi_code, d.reason, !drained);
        close = !res.keep_alive();
        return res;
      });
      if (close) co_return drained ? request_end::close : request_end::linger;
      co_return request_end::next;
    }
    case routing::decision::action::healthcheck: {
      co_await write_local_made(client, cx, [&] {
        return health_reply(cx, trace, req.method() == http::verb::head, !keep_alive || has_body);
      });
      if (!keep_alive || has_body) co_return has_body ? request_end::linger : request_end::close;
      co_return request_end::next;
    }
    case routing::decision::action::proxy:
      break;
  }

  // The one body rule (refuse_framing): a chunked body (the only transfer coding the head
  // scan lets through) has no declared length. Its bytes are unread: close after the answer.
  if (const auto r = refuse_framing(h1_body_framing(p), cfg.limits.mapi_body_bytes)) {
    co_await write_local_made(client, cx,
                              [&] { return refuse(r->status, r->mapi_code, r->reason, true); });
    co_return request_end::linger;
  }
  if (auto it = req.find(http::field::expect); it != req.end()) {
    if (!beast::iequals(it->value(), "100-continue")) {
      co_await write_local_made(client, cx, [&] {
        return refuse(417, routing::mapi_code::invalid_header, "unsupported expectation", true);
      });
      co_return request_end::linger;
    }
    if (has_body) {
      static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
      arm_deadline(client, cfg.timeouts.client_write);
      auto [wec, wn] = co_await net::async_write(client, net::buffer(cont), use_nothrow);
      if (wec) co_return request_end::close;
    }
  }
  if (!keep_alive) req.keep_alive(false);
  if (facts.cookies_changed) rewrite_cookies(req, facts);

  ++cx.ws.active_requests;
  const auto end = co_await forward_request(client, cbuf, parser, arena, d, cx);
  // Nothing of the request (req, p, facts) is used from here on: forward_request may have ended it.
  --cx.ws.active_requests;
  if (end == request_end::next && !keep_alive) co_return request_end::close;
  co_return end;
}

/// The HTTP/1.1 request loop. Returns when the connection should close: true when mapigate
/// refused a request whose remaining bytes the client may still be sending (close lingering).
template <class Stream>
awaitable<bool> serve_h1(Stream& client, conn_ctx& cx) {
  beast::flat_buffer cbuf;
  for (std::size_t served = 0;; ++served) {
    if (cx.ws.draining) co_return false;
    if (cbuf.size() == 0) {
      // Idle until the next request begins: the first request may take header_read to start,
      // later ones keepalive_idle. The wait is written out here, in this frame, not left to
      // read_head and read_some_lazily: an idle keep-alive connection then holds no frames of
      // theirs (about 600 bytes of each idle connection's memory). Draining wakes the wait
      // (operation_aborted) to close.
      const auto& t = cx.rt->cfg->timeouts;
      arm_deadline(client, served == 0 ? t.header_read : t.keepalive_idle);
      auto* idle = &beast::get_lowest_layer(client);
      error_code ec;
      read_arrived(client, cbuf, head_read_size, cx.ws, ec);
      while (const auto w = wait_before_retry(ec)) {
        cx.ws.idle.insert(idle);
        std::tie(ec) = co_await client.async_wait(*w, use_nothrow);
        cx.ws.idle.erase(idle);
        if (!ec) read_arrived(client, cbuf, head_read_size, cx.ws, ec);
      }
      if (ec) co_return false;  // closed, reset, idle too long or drained: no one to answer
    }
    // The request that begins now uses the newest configuration (a reload during the idle wait
    // included), unless NTLM/Negotiate pinned backend connections to this connection (their
    // backend indexes belong to the configuration they were made with).
    if (!cx.auth_bound && cx.rt != cx.ws.current) cx.rt = cx.ws.current;
    // Usually the whole head has arrived by now: scanned here, without starting read_head.
    head_scan scan = scan_request_head(bytes_of(cbuf), cx.rt->cfg->limits.header_bytes);
    head_status status;
    if (const auto seen = decided(scan))
      status = *seen;
    else
      status = co_await read_head(client, cbuf, scan, cx);
    switch (status) {
      case head_status::complete:
      case head_status::too_large:
      case head_status::bad:
        break;
      case head_status::closed:
        co_return false;
      case head_status::timeout:
        // The stream is already closed by the deadline; there is no one to answer.
        log(log_level::info, "c", cx.id, " ", cx.client_ip, " request head timeout (408)");
        co_return false;
    }
    const auto end = co_await serve_request(client, cbuf, status, scan, served, cx);
    switch (end) {
      case request_end::next:
        // The response went out without waiting: let the worker run what else is ready before
        // looking for the next request. Meanwhile the client has usually sent it; looking at
        // once mostly finds nothing, which costs a failed read and re-arming the descriptor.
        if (cbuf.size() == 0) co_await net::post(client.get_executor(), net::use_awaitable);
        continue;
      case request_end::close:
        co_return false;
      case request_end::linger:
        co_return true;
    }
  }
}

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
  if constexpr (std::is_same_v<Stream, tls_stream>) {
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

/// close_how for a connection serve_h1 ended: `linger` after a refusal.
close_how after_h1(bool linger) noexcept {
  return linger ? close_how::refused : close_how::normal;
}

}  // namespace

awaitable<void> serve_connection(runtime_ptr rt, worker_state& ws, tcp::socket socket,
                                 std::size_t listener) {
  // First: the accept loop reserved this connection's process-wide slot; every way out of this
  // coroutine gives it back.
  ++ws.active_connections;
  struct on_exit {
    worker_state& ws;
    ~on_exit() {
      --ws.active_connections;
      --ws.process_connections;
    }
  } guard{ws};
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // PENDING chunks must not wait for Nagle
  const auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;  // reset before we looked
  conn_ctx cx{std::move(rt), ws, listener, ws.next_connection++, peer.address().to_string(), {},
              false};

  plain_stream tcp_s(std::move(socket));
  if (!cx.rt->listener_ssl[listener]) {
    const bool linger = co_await serve_h1(tcp_s, cx);
    co_await close_connection(tcp_s, after_h1(linger));
    co_return;
  }
  tls_stream tls_s(std::move(tcp_s), *cx.rt->listener_ssl[listener]);
  cx.tls = true;
  arm_deadline(tls_s, cx.rt->cfg->timeouts.handshake);
  auto [hec] = co_await tls_s.async_handshake(ssl::stream_base::server, use_nothrow);
  cx.rt->metrics->tls_handshake(!hec, hec ? "unknown" : SSL_get_version(tls_s.native_handle()));
  if (hec) {
    log(log_level::debug, "c", cx.id, " ", cx.client_ip, " TLS handshake failed: ", hec.message());
    beast::get_lowest_layer(tls_s).close();
    co_return;
  }
  cx.sni = std::string(tls::server_context::server_name(tls_s.native_handle()));
  if (tls::server_context::alpn(tls_s.native_handle()) == "h2") {
    const bool error = co_await serve_h2(tls_s, cx);
    co_await close_connection(tls_s, error ? close_how::protocol_error : close_how::normal);
    co_return;
  }
  const bool linger = co_await serve_h1(tls_s, cx);
  co_await close_connection(tls_s, after_h1(linger));
}

}  // namespace proxy
