// The strict HTTP/1.1 request loop of one client connection.
#include "proxy/h1/connection.hpp"

#include <array>
#include <string_view>

#include "accesslog/format.hpp"
#include "metrics/registry.hpp"
#include "proxy/h1/forward.hpp"
#include "proxy/h1/head_scan.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/outcome.hpp"
#include "proxy/request/policy.hpp"
#include "routing/auth_policy.hpp"
#include "routing/credentials.hpp"
#include "routing/pox.hpp"

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

/// Reads until `cbuf` holds a complete, strictly framed request head. Called once the head has
/// begun to arrive (serve_h1 waits for its first bytes): from then on the whole head must
/// arrive within header_read, so a trickling client cannot hold a connection.
template <class Stream>
awaitable<head_status> read_head(Stream& client, beast::flat_buffer& cbuf, head_scan& scan,
                                 conn_ctx& conn) {
  const auto& cfg = *conn.rt->cfg;
  arm_deadline(client, cfg.timeouts.header_read);
  for (;;) {
    scan = scan_request_head(bytes_of(cbuf), cfg.limits.header_bytes);
    if (const auto st = decided(scan)) co_return *st;
    auto [ec, n] = co_await read_some_lazily(client, cbuf, head_read_size, conn.worker.spares);
    if (ec == beast::error::timeout) co_return head_status::timeout;
    if (ec) co_return head_status::closed;
  }
}

/// Answers one request whose head read_head has finished reading (or refused): every request
/// that gets here gets an answer, a log record and its metrics (request_ctx). Its own
/// coroutine, so that the parser, the trace and the routing decision exist only while a request
/// does, not in the frame of every idle keep-alive connection.
template <class Stream>
awaitable<request_end> serve_request(Stream& client, beast::flat_buffer& cbuf, head_status status,
                                     const head_scan& scan, std::size_t served, conn_ctx& conn) {
  const auto& cfg = *conn.rt->cfg;
  request_ctx rq(conn);
  // A head that cannot be read is answered and the connection closes, lingering: the rest of
  // what the client sent cannot be told apart from a next request.
  auto bad_head = [&](int code, std::string_view why) {
    log_client_caused(log_level::info, "c", conn.id, " ", conn.client_ip, " bad request head (",
                      code, "): ", why);
    rq.trace.add_error(why);
    end_request(rq, request_outcome::refused);
    return answer(client, cbuf, nullptr, h1_body::partly_read,
                  box([&] { return make_error(code, why, true); }), rq);
  };
  switch (status) {
    case head_status::complete:
    case head_status::closed:
    case head_status::timeout:
      break;
    case head_status::too_large:
      co_return co_await bad_head(431, "request header fields too large");
    case head_status::bad:
      co_return co_await bad_head(400, scan.reason);
  }

  // The fields of this request and its response: one arena, released when the request ends (a
  // held response's request gives it back once sent, and its own fields use the heap: see
  // run_exchange).
  field_arena arena(conn.worker.field_arena_blocks);
  // Optional: the exchange ends it early once the request is sent (see forward_request).
  std::optional<request_parser> parser;
  auto& p = parser.emplace(std::piecewise_construct, std::make_tuple(),
                           std::make_tuple(arena.allocator()));
  p.header_limit(static_cast<std::uint32_t>(cfg.limits.header_bytes));
  p.body_limit(boost::none);  // the policy's body rule decides (MAPI answers differ)
  error_code ec;
  // From the request line on: an empty line before it (scan.start) is ignored.
  const std::size_t head_length = scan.length - scan.start;
  const auto* head = static_cast<const char*>(cbuf.data().data()) + scan.start;
  const std::size_t used = p.put(net::buffer(head, head_length), ec);
  if (ec || !p.is_header_done() || used != head_length)
    co_return co_await bad_head(400, ec ? "malformed request head: " + ec.message()
                                        : std::string("malformed request head"));
  cbuf.consume(scan.length);
  rq.trace.rec.request_bytes = scan.length;
  auto& req = p.get();
  const unsigned version = req.version();
  const bool last = served + 1 >= cfg.limits.max_requests_per_connection;
  request_input input{.multiplexed = false,
                      .keep_alive = req.keep_alive() && !last && !conn.worker.draining,
                      .body = h1_body_framing(p),
                      .head_method = req.method() == http::verb::head};
  std::optional<std::string> body_email;
  if (const auto length = body_first(conn, req, input)) {
    // Autodiscover's anchor is in its small body: read it whole first (it stays in cbuf, from
    // where the exchange sends it as it sends any body).
    while (cbuf.size() < *length) {
      arm_deadline(client, cfg.timeouts.body_idle);
      auto [rec, rn] =
          co_await client.async_read_some(cbuf.prepare(*length - cbuf.size()), use_nothrow);
      if (rec) {
        end_request(rq,
                    rec == beast::error::timeout ? request_outcome::client_timeout
                                                 : request_outcome::client_disconnected,
                    rec.message());
        co_return request_end::close;
      }
      cbuf.commit(rn);
    }
    body_email = routing::pox_email_address(bytes_of(cbuf).substr(0, std::size_t(*length)));
    if (body_email) input.body_email = *body_email;
  }
  auto plan = plan_request(rq, req, input);
  switch (plan.next) {
    case request_plan::step::reply:
      co_return co_await answer(client, cbuf, &p, h1_body::unread, std::move(plan.reply), rq);
    case request_plan::step::retry_on_http11:  // only on a multiplexed connection
      co_return request_end::close;
    case request_plan::step::forward:
      break;
  }
  if (plan.send_continue) {
    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
    arm_deadline(client, cfg.timeouts.client_write);
    auto [wec, wn] = co_await net::async_write(client, net::buffer(cont), use_nothrow);
    if (wec) {
      end_request(rq, request_outcome::client_disconnected, wec.message());
      co_return request_end::close;
    }
  }
  // Nothing of the request (req, p) is used after this: the exchange may have ended it.
  co_return co_await forward_request(client, cbuf, parser, arena, version, rq, plan);
}

}  // namespace

/// After a read for the next request found nothing, the next this many requests are waited
/// for first: a read tried at once costs a system call that fails whenever the client sends
/// its next request only once it has the response (the usual case, unless the worker is
/// saturated and its clients are quicker than it). A wait after the request's read took all
/// there was costs none (read_wait, io/read_wait.hpp), and reports a request that came
/// already; otherwise the wait re-arms the descriptor, one system call. Then a read is tried first
/// again, so a connection whose requests come back to back goes back to one system call per
/// request.
constexpr int waits_first_after_a_miss = 4;

enum class idle_step { ready, park, closed };

/// Until the next request begins: the first request may take header_read to start, later ones
/// keepalive_idle. Reads what has arrived, or asks for the connection to be parked until the
/// socket is ready (`loop.wait`); called again with `loop.woke` once it is. Draining wakes the
/// wait (operation_aborted); it then lasts at most drain_idle_window more, so that a request the
/// client sent before it could know is answered (with Connection: close) rather than lost to a
/// close racing it, as HAProxy's idle-close-on-response does.
template <class Stream>
idle_step next_request_bytes(Stream& client, beast::flat_buffer& cbuf, conn_ctx& conn,
                             h1_loop& loop) {
  auto* idle = &beast::get_lowest_layer(client);
  error_code ec;
  if (loop.woke) {
    ec = *loop.woke;
    loop.woke.reset();
    conn.worker.idle.erase(idle);
    if (ec == net::error::operation_aborted && conn.worker.draining && !loop.drain_deadline) {
      loop.drain_deadline = true;
      arm_deadline(client, drain_idle_window);
      ec = net::error::would_block;  // wait again, under the drain's deadline
    } else if (!ec) {
      read_arrived(client, cbuf, head_read_size, conn.worker.spares, ec);
    }
  } else {
    const auto& t = conn.rt->cfg->timeouts;
    loop.drain_deadline = conn.worker.draining;
    arm_deadline(client, loop.drain_deadline ? drain_idle_window
                         : loop.served == 0  ? t.header_read
                                             : t.keepalive_idle);
    if (loop.waits_first > 0 && !client.holds_unread()) {
      --loop.waits_first;
      shed_storage(conn.worker.spares, cbuf);
      ec = net::error::would_block;
    } else {
      read_arrived(client, cbuf, head_read_size, conn.worker.spares, ec);
      if (ec == net::error::would_block) loop.waits_first = waits_first_after_a_miss;
    }
  }
  if (const auto w = wait_before_retry(ec)) {
    if (!loop.drain_deadline) conn.worker.idle.insert(idle);
    loop.wait = *w;
    return idle_step::park;
  }
  // Closed, reset, idle too long or drained: no one to answer.
  return ec ? idle_step::closed : idle_step::ready;
}

template <class Stream>
awaitable<h1_end> serve_h1(Stream& client, conn_ctx& conn, h1_loop& loop) {
  beast::flat_buffer cbuf;
  for (;; ++loop.served) {
    if (cbuf.size() == 0) {
      switch (next_request_bytes(client, cbuf, conn, loop)) {
        case idle_step::ready:
          break;
        case idle_step::park:
          co_return h1_end::park;  // cbuf is empty and holds no storage: nothing is lost
        case idle_step::closed:
          co_return h1_end::close;
      }
    }
    // The request that begins now uses the newest configuration (a reload during the idle wait
    // included), unless NTLM/Negotiate pinned backend connections to this connection (their
    // backend indexes belong to the configuration they were made with).
    if (!conn.auth_bound && conn.rt != conn.worker.current) conn.rt = conn.worker.current;
    // Usually the whole head has arrived by now: scanned here, without starting read_head.
    head_scan scan = scan_request_head(bytes_of(cbuf), conn.rt->cfg->limits.header_bytes);
    head_status status;
    if (const auto seen = decided(scan))
      status = *seen;
    else
      status = co_await read_head(client, cbuf, scan, conn);
    switch (status) {
      case head_status::complete:
      case head_status::too_large:
      case head_status::bad:
        break;
      case head_status::closed:
        co_return h1_end::close;
      case head_status::timeout:
        // The stream is already closed by the deadline; there is no one to answer.
        log_client_caused(log_level::info, "c", conn.id, " ", conn.client_ip,
                          " request head timeout (408)");
        co_return h1_end::close;
    }
    const auto end = co_await serve_request(client, cbuf, status, scan, loop.served, conn);
    switch (end) {
      case request_end::next:
        // The response went out without waiting: let the worker run what else is ready before
        // looking for the next request. Meanwhile the client has usually sent it; looking at
        // once mostly finds nothing, which costs a failed read and re-arming the descriptor.
        // (Not when the next request is waited for first: the wait lets the worker go on.)
        if (cbuf.size() == 0 && loop.waits_first == 0)
          co_await net::post(client.get_executor(), net::use_awaitable);
        continue;
      case request_end::close:
        co_return h1_end::close;
      case request_end::linger:
        co_return h1_end::linger;
    }
  }
}

template awaitable<h1_end> serve_h1<tcp_conn>(tcp_conn&, conn_ctx&, h1_loop&);
template awaitable<h1_end> serve_h1<tls_conn>(tls_conn&, conn_ctx&, h1_loop&);

}  // namespace proxy
