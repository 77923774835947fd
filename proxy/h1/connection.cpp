// The strict HTTP/1.1 request loop of one client connection.
#include "proxy/h1/connection.hpp"

#include <array>
#include <string_view>

#include "accesslog/format.hpp"
#include "metrics/registry.hpp"
#include "proxy/h1/head_scan.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/pipeline.hpp"
#include "routing/auth_policy.hpp"
#include "routing/credentials.hpp"

namespace proxy {
namespace {

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
    auto [ec, n] = co_await read_some_lazily(client, cbuf, head_read_size, cx.ws.spares);
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

}  // namespace

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
      read_arrived(client, cbuf, head_read_size, cx.ws.spares, ec);
      while (const auto w = wait_before_retry(ec)) {
        cx.ws.idle.insert(idle);
        std::tie(ec) = co_await client.async_wait(*w, use_nothrow);
        cx.ws.idle.erase(idle);
        if (!ec) read_arrived(client, cbuf, head_read_size, cx.ws.spares, ec);
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

template awaitable<bool> serve_h1<plain_stream>(plain_stream&, conn_ctx&);
template awaitable<bool> serve_h1<tls_stream>(tls_stream&, conn_ctx&);

}  // namespace proxy
