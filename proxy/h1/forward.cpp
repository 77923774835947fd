// Forwarding one HTTP/1.1 request to a backend and streaming the response back, chunk by chunk.
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "accesslog/format.hpp"
#include "metrics/registry.hpp"
#include "proxy/h1/connection.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/header_rewrite.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/pipeline.hpp"
#include "proxy/request/wire.hpp"
#include "proxy/upstream/response_head.hpp"
#include "routing/auth_policy.hpp"
#include "routing/cookies.hpp"

namespace proxy {

namespace {

constexpr std::size_t relay_batch = 64 * 1024;  ///< most response bytes framed per client write
constexpr std::size_t chunk_slot = 8 + 2;       ///< room for a chunk-size line (hex, CRLF)
static_assert(relay_chunk <= 0xffffffff, "a chunk's size must fit chunk_slot's 8 hex digits");

/// Sends the request head and its Content-Length body to the backend: the head and the body
/// bytes already read go out in one write, the rest as it arrives (the body is never parsed:
/// chunked request bodies were refused before; append_request_head refuses them again, and
/// then nothing is sent: unframed_request_body()). Never more than the declared length. `sent`
/// counts bytes written; nothing of `cbuf` is consumed while `sent` is 0, so the caller may retry
/// elsewhere. Client-side failures set `client_failed`.
template <class Stream, class Up>
awaitable<error_code> send_request(Stream& client, beast::flat_buffer& cbuf, request_parser& p,
                                   Up& up, conn_ctx& cx, std::size_t& sent, bool& client_failed) {
  const auto& t = cx.rt->cfg->timeouts;
  std::uint64_t remaining = p.content_length().value_or(0);
  std::size_t now = std::min<std::uint64_t>(remaining, std::min(cbuf.size(), relay_chunk));
  {
    wire_lease out(cx.ws.spares);
    if (!append_request_head(*out, p.get().base(), h1_body_framing(p)))
      co_return unframed_request_body();
    append(*out, {static_cast<const char*>(cbuf.data().data()), now});
    arm_deadline(up, t.upstream_idle);
    auto [ec, n] = co_await write_all(up, (*out).data());
    sent += n;
    if (ec) co_return ec;
  }
  for (;;) {
    cbuf.consume(now);
    remaining -= now;
    if (cx.trace) cx.trace->rec.request_bytes += now;
    if (remaining == 0) co_return error_code{};
    if (cbuf.size() == 0) {
      arm_deadline(client, t.body_idle);
      auto [rec, rn] = co_await client.async_read_some(
          cbuf.prepare(std::min<std::uint64_t>(remaining, relay_chunk)), use_nothrow);
      if (rec) {
        client_failed = true;
        co_return rec;
      }
      cbuf.commit(rn);
    }
    now = std::min<std::uint64_t>(remaining, cbuf.size());
    arm_deadline(up, t.upstream_idle);
    auto [wec, wn] = co_await write_all(up, net::buffer(cbuf.data().data(), now));
    sent += wn;
    if (wec) co_return wec;
  }
}

/// Watches the client while a response is pending, to learn at once when it goes away (a
/// NotificationWait long-poll can otherwise hold a backend connection for minutes). Bytes that
/// arrive are the next pipelined request and go to `cbuf` (up to `limit`; then the watch has
/// nothing more to learn until the exchange ends). On the client's EOF or error the backend
/// connection is aborted and the client's pending operations cancelled, which ends the relay, and
/// gone() is true. The watch is one reactor wait on the client's socket at a time, with a
/// callback rather than a coroutine raced against the relay: a held long-poll keeps a ~150-byte
/// operation for it instead of 2.9 KB of frames and parallel-group state. It has no deadline
/// of its own: the relay's deadlines bound the exchange. Executor: the connection's worker.
/// Destroying the watch stops it: its wait is cancelled and a callback already queued does nothing.
template <class Stream>
class client_watch {
 public:
  client_watch(Stream& client, beast::flat_buffer& cbuf, std::size_t limit, upstream_conn& up,
               worker_state& ws)
      : st_(std::make_shared<state>(client, cbuf, limit, up, ws)) {
    ready(st_, {});
  }
  ~client_watch() {
    st_->stopped = true;
    if (st_->waiting) beast::get_lowest_layer(st_->client).cancel();
  }
  client_watch(const client_watch&) = delete;
  client_watch& operator=(const client_watch&) = delete;

  bool gone() const noexcept { return st_->gone; }

 private:
  struct state {
    state(Stream& c, beast::flat_buffer& b, std::size_t l, upstream_conn& u, worker_state& w)
        : client(c), cbuf(b), limit(l), up(u), ws(w) {}
    // Valid while !stopped: they outlive the watch object.
    Stream& client;
    beast::flat_buffer& cbuf;
    const std::size_t limit;
    upstream_conn& up;
    worker_state& ws;
    bool stopped = false;
    bool waiting = false;  ///< a wait is pending on the socket
    bool gone = false;
  };

  /// Reads what has arrived, then waits again (or, on the client's end, aborts the exchange).
  static void ready(const std::shared_ptr<state>& st, error_code ec) {
    st->waiting = false;
    if (st->stopped) return;
    auto wait = net::socket_base::wait_read;
    while (!ec && st->cbuf.size() < st->limit) {
      take_spare(st->ws.spares, st->cbuf);
      const std::size_t n = st->client.try_read_some(
          st->cbuf.prepare(std::min<std::size_t>(4096, st->limit - st->cbuf.size())), ec);
      if (!ec) st->cbuf.commit(n);
    }
    if (ec == net::error::in_progress) {  // OpenSSL must write before it reads: when it can
      ec = {};
      wait = net::socket_base::wait_write;
    } else if (ec == net::error::would_block) {
      ec = {};
    }
    if (ec) {  // EOF, reset, or the socket closed under the watch: the client is gone
      st->gone = true;
      st->up.client_left = true;
      st->up.abort();
      beast::get_lowest_layer(st->client).cancel();  // a write blocked on the client, if any
      return;
    }
    if (st->cbuf.size() >= st->limit) return;  // a full pipelined head waits
    shed_storage(st->ws.spares, st->cbuf);
    st->waiting = true;
    beast::get_lowest_layer(st->client).socket().async_wait(wait, [st](error_code wec) {
      ready(st, wec);
    });
  }

  std::shared_ptr<state> st_;
};

struct response_outcome {
  bool client_ok = false;    ///< client may carry another request
  bool upstream_ok = false;  ///< backend connection may be reused
  bool head_sent = false;    ///< some response bytes reached the client
  bool binds = false;        ///< the backend challenged with NTLM/Negotiate: pin the connection
  bool client_gone = false;  ///< a write to the client failed: it left
  int status = 0;            ///< status to answer when head_sent is false (502/504)
};

/// Reads the backend's response and streams it to the client. The response's fields are
/// allocated with `fields`; `drop_fields`: they are cleared once the head is framed, so a
/// response streamed for minutes (a long-poll's PENDINGs) holds none of them meanwhile.
template <class Stream, class Up>
awaitable<response_outcome> relay_response(Stream& client, Up& up, upstream_conn& uc,
                                           const routing::decision& d, bool client_keep_alive,
                                           unsigned client_version, field_allocator fields,
                                           bool drop_fields, conn_ctx& cx) {
  const auto& t = cx.rt->cfg->timeouts;
  const auto sent_at = request_trace::clock::now();
  response_outcome out;
  std::optional<upstream_parser> rp;
  const auto head_ec = co_await read_final_head(up, uc, rp, t.upstream_idle, cx.ws.spares, fields);
  if (const auto& ec = head_ec) {
    out.status = ec == beast::error::timeout ? 504 : 502;
    if (!uc.client_left) {  // passive health counts it, as for HTTP/2
      cx.trace->add_error((ec == beast::error::timeout ? "BackendTimeout: " : "BackendError: ") +
                          ec.message());
      note_failure(cx, uc.backend);
    }
    co_return out;
  }
  auto& res = rp->get();
  const bool upstream_keep_alive = res.keep_alive();
  const unsigned code = res.result_int();
  auto& trace = *cx.trace;
  const auto head_at = request_trace::clock::now();
  trace.rec.backend_status = int(code);
  if (code >= 500)
    note_failure(cx, uc.backend);
  else
    cx.rt->live[uc.backend].record_success();
  trace.rec.time_to_first_byte = request_trace::since(sent_at, head_at);
  cx.rt->metrics->first_byte(uc.backend, std::chrono::duration<double>(head_at - sent_at).count());
  trace.rec.is_authenticated = code != 401;
  if (auto it = res.find("X-ResponseCode"); it != res.end()) {
    trace.mapi_code = metrics::parse_mapi_code(it->value());
    trace.add_info("X-ResponseCode", std::string(it->value()));
  }
  const bool has_body = !(code == 204 || code == 304) && !rp->is_done();
  strip_hop_by_hop(res, false);
  out.binds = prepare_response_head(res, d, uc.backend, cx, cx.trace);
  res.version(11);
  if (has_body && !rp->content_length()) {
    // Chunked or close-delimited upstream: re-chunk for an HTTP/1.1 client, one chunk per read,
    // so each PENDING the backend flushes leaves here at once. HTTP/1.0 clients get the body
    // delimited by close.
    if (client_version >= 11)
      res.chunked(true);
    else
      client_keep_alive = false;
  }
  res.keep_alive(client_keep_alive);

  // The head and every body byte already read from the backend leave in one client write;
  // then each backend read is framed and written at once (a PENDING must not wait for more).
  const bool chunk_out = res.chunked();
  bool head_written = false;
  // However the body ends, the time spent streaming it is known then.
  struct stream_timer {
    request_trace& t;
    request_trace::clock::time_point from;
    ~stream_timer() { t.rec.streaming = request_trace::since(from, request_trace::clock::now()); }
  } streaming{trace, head_at};
  for (;;) {
    bool need_input = !rp->is_done() && uc.buffer.size() == 0;
    std::size_t body_bytes = 0;  // of this batch: what ResponseBytes counts
    {
      wire_lease lease(cx.ws.spares);
      auto& wire = *lease;
      if (!head_written) {
        append_head(wire, res.base());
        if (drop_fields) res.clear();  // framed: not read again (trailers would be re-added)
      }
      while (!rp->is_done() && !need_input && wire.size() < relay_batch) {
        const std::size_t slot = chunk_out ? chunk_slot : 0;
        // The body bytes parsed can be no more than those buffered.
        const std::size_t room_size = std::min(relay_chunk, uc.buffer.size());
        const auto room = wire.prepare(slot + room_size + 2);
        auto* at = static_cast<char*>(room.data());
        res.body().data = at + slot;
        res.body().size = room_size;
        error_code ec;
        const std::size_t used = rp->put(uc.buffer.data(), ec);
        uc.buffer.consume(used);
        const std::size_t got = room_size - res.body().size;
        body_bytes += got;
        if (got > 0 && chunk_out) {
          // "<hex size>\r\n" right before the data, then the chunk's closing CRLF.
          char line[chunk_slot];
          auto* end = std::to_chars(line, line + chunk_slot - 2, got, 16).ptr;
          std::memcpy(end, "\r\n", 2);
          const auto len = static_cast<std::size_t>(end + 2 - line);
          std::memmove(at + len, at + slot, got);
          std::memcpy(at, line, len);
          std::memcpy(at + len + got, "\r\n", 2);
          wire.commit(len + got + 2);
        } else {
          wire.commit(got);
        }
        if (ec == http::error::need_more || (!ec && used == 0 && got == 0)) {
          need_input = true;
        } else if (ec && ec != http::error::need_buffer) {
          trace.add_error("BackendFailedMidResponse: " + ec.message());
          co_return out;
        }
        if (!need_input) need_input = uc.buffer.size() == 0 && !rp->is_done();
      }
      if (rp->is_done() && chunk_out) append(wire, "0\r\n\r\n");
      if (wire.size() > 0) {
        arm_deadline(client, t.client_write);
        auto [wec, wn] = co_await write_all(client, wire.data());
        if (!wec) trace.rec.response_bytes += body_bytes;
        if (!head_written) {
          head_written = out.head_sent = trace.responded = true;
          trace.rec.http_status = int(code);
        }
        if (wec) {  // the client is gone (ClientDisconnected, as for HTTP/2)
          out.client_gone = true;
          co_return out;
        }
      }
    }
    if (rp->is_done()) break;
    if (!need_input) continue;
    // read_some_lazily written out in this frame: a long-poll waits here for minutes between
    // PENDINGs, and would hold a frame of that coroutine meanwhile.
    arm_deadline(up, t.upstream_idle);
    error_code rec;
    read_arrived(up, uc.buffer, relay_chunk, cx.ws.spares, rec);
    while (const auto w = wait_before_retry(rec)) {
      std::tie(rec) = co_await up.async_wait(*w, use_nothrow);
      if (!rec) read_arrived(up, uc.buffer, relay_chunk, cx.ws.spares, rec);
    }
    if (rec == net::error::eof || rec == net::ssl::error::stream_truncated) {
      // Close-delimited bodies end here; any other framing ends too early.
      error_code eec;
      rp->put_eof(eec);
      if (!eec && rp->is_done()) continue;
    }
    if (rec) {  // mid-body failure: the client can only learn by the close
      if (!uc.client_left) trace.add_error("BackendFailedMidResponse: " + rec.message());
      co_return out;
    }
  }
  out.client_ok = client_keep_alive;
  out.upstream_ok = upstream_keep_alive && rp->is_done();
  co_return out;
}

/// How getting a backend connection and sending the request to it went.
enum class send_status { sent, unreachable, client_failed, failed_mid_request, unframed };

/// Sends the request to backend `b` on its pinned connection, a pooled one or a fresh one, in
/// that order, moving on only while not one byte has been sent. On `sent`, `conn` holds it.
template <class Stream>
awaitable<send_status> send_to(Stream& client, beast::flat_buffer& cbuf, request_parser& p,
                               std::size_t b, conn_ctx& cx, upstream_ptr& conn) {
  const auto& cfg = *cx.rt->cfg;
  for (int source = 0; source < 3; ++source) {
    upstream_ptr c;
    if (source == 0) {
      c = cx.pinned.take(b);
    } else if (source == 1) {
      // Pooled connections never carry connection-bound authentication (bound ones are never
      // pooled), so one is as clean as a fresh connection.
      // (Not when a reload gave the worker a pool for another runtime since this request began.)
      if (cx.ws.pool.serves(cx.rt.get())) c = cx.ws.pool.take(b);
    } else {
      error_code ec;
      const auto started = request_trace::clock::now();
      c = co_await connect_upstream(*cx.rt, b, ec);
      const auto took = request_trace::clock::now() - started;
      if (!c) {
        log(log_level::warn, "c", cx.id, " backend ", cfg.backends[b].name,
            " connect: ", ec.message());
        cx.rt->metrics->upstream_connect_failed(b);
        note_failure(cx, b, true);
        if (cx.trace)
          cx.trace->add_error("BackendConnectFailed: " + cfg.backends[b].name + " " + ec.message());
        co_return send_status::unreachable;
      }
      cx.rt->metrics->upstream_connected(b, std::chrono::duration<double>(took).count());
      if (cx.trace)
        cx.trace->rec.backend_connect = std::chrono::duration_cast<std::chrono::milliseconds>(took);
    }
    if (!c) continue;
    std::size_t sent = 0;
    bool client_failed = false;
    auto ec = co_await std::visit(
        [&](auto& up) { return send_request(client, cbuf, p, up, cx, sent, client_failed); },
        c->stream);
    if (!ec) {
      conn = std::move(c);
      co_return send_status::sent;
    }
    c->abort();
    if (client_failed) co_return send_status::client_failed;
    if (ec == unframed_request_body()) co_return send_status::unframed;
    if (sent > 0) {
      log(log_level::warn, "c", cx.id, " backend ", cfg.backends[b].name,
          " failed mid-request: ", ec.message());
      if (cx.trace) cx.trace->add_error("BackendFailedMidRequest: " + ec.message());
      note_failure(cx, b);
      co_return send_status::failed_mid_request;
    }
  }
  co_return send_status::unreachable;
}

}  // namespace

template <class Stream>
awaitable<request_end> forward_request(Stream& client, beast::flat_buffer& cbuf,
                                       std::optional<request_parser>& parser, field_arena& arena,
                                       const routing::decision& d, conn_ctx& cx) {
  const auto& cfg = *cx.rt->cfg;
  auto& p = *parser;
  auto& req = p.get();
  const bool client_keep_alive = req.keep_alive() && !cx.ws.draining;
  const unsigned client_version = req.version();
  // The client's X-RequestType and X-RequestId for a local MAPI answer: the trace's copies, since
  // strip_hop_by_hop may erase any field a client names in Connection (and with it what views
  // into the fields, like the session's request_facts, point to).
  auto& trace = *cx.trace;
  const std::string& request_type = trace.rec.x_request_type;
  const std::string& request_id = trace.rec.x_request_id;
  const auto auth = routing::scheme_of(req[http::field::authorization]);
  const bool request_binds = auth && routing::binds_connection(*auth);
  strip_hop_by_hop(req, true);
  append_forwarded_for(req, cx.client_ip);
  req.version(11);

  if (d.session_backend_down && !d.new_session) {
    // Health checks say the server holding this session context is down: say "context not
    // found" now instead of after a connect timeout, so Outlook reconnects at once.
    trace.add_error("SessionBackendDown: " + cfg.backends[*d.affinity_backend].name);
    const bool keep = client_keep_alive && co_await discard_body(client, cbuf, p, cx);
    co_await write_local_made(client, cx, [&] {
      return make_mapi_error(routing::mapi_code::context_not_found, request_type, request_id,
                             "the mailbox server holding the session is down", !keep);
    });
    co_return keep ? request_end::next : request_end::close;
  }
  if (d.affinity_backend)
    trace.rec.backend_cookie =
        backend_cookie(cfg.backends[*d.affinity_backend].name, d.affinity_expires);

  upstream_ptr conn;
  for (std::size_t b : d.order) {
    switch (co_await send_to(client, cbuf, p, b, cx, conn)) {
      case send_status::sent:
        break;
      case send_status::client_failed:
        co_return request_end::close;
      case send_status::unframed:
        trace.add_error("UnframedRequestBody");
        log(log_level::error, "c", cx.id, " request body without explicit framing not sent");
        co_await write_local_made(
            client, cx, [] { return make_error(400, "request body framing not accepted", true); });
        co_return request_end::linger;  // its body may still be coming
      case send_status::failed_mid_request: {
        co_await write_local_made(client, cx, [] {
          return make_error(502, "backend failed while receiving the request", true);
        });
        co_return request_end::linger;  // the rest of its body may still be coming
      }
      case send_status::unreachable:
        if (b == d.affinity_backend && !d.new_session) {
          // The server holding this session context is gone: any other server would answer
          // "context not found" after a round trip; say it now, so Outlook reconnects at once.
          const bool keep = client_keep_alive && co_await discard_body(client, cbuf, p, cx);
          co_await write_local_made(client, cx, [&] {
            return make_mapi_error(routing::mapi_code::context_not_found, request_type, request_id,
                                   "the mailbox server holding the session is unreachable", !keep);
          });
          co_return keep ? request_end::next : request_end::close;
        }
        continue;
    }
    break;
  }
  if (!conn) {
    trace.add_error("NoBackendReachable");
    // The body is still unread: drop a small one so the connection can carry another request.
    const bool keep = client_keep_alive && co_await discard_body(client, cbuf, p, cx);
    co_await write_local_made(client, cx,
                              [&] { return make_error(502, "no backend reachable", !keep); });
    co_return keep ? request_end::next : request_end::close;
  }

  // The request is fully sent: watch the client while the response is awaited and streamed.
  const std::size_t b = conn->backend;
  record_backend(trace, d, b, cx);
  beast::get_lowest_layer(client).expires_never();
  const gauge_guard in_flight{&cx.rt->live[b].in_flight};
  const gauge_guard long_poll{trace.notification_wait ? &cx.ws.notification_waits : nullptr};
  const gauge_guard sessions{trace.notification_wait ? &cx.rt->live[b].notification_waits
                                                     : nullptr};
  // A client that leaves a long-poll must free its backend connection at once, so the client
  // side is read while such a response is pending. MAPI requests other than NotificationWait are
  // answered promptly by the mailbox server: they are not watched (a vanished client is learned
  // when the response is written), which saves a read and its cancellation per request.
  const bool watch = trace.notification_wait || !trace.mapi;
  if (watch) {
    // The request went out whole and is not read again (retries end once a byte is sent). A
    // long-poll is held for minutes: its fields' memory goes back to the worker meanwhile.
    parser.reset();
    arena.release();
  }
  // A held response's fields come from the heap and go once its head is framed: the arena
  // would keep their memory, and take a block, for as long as the response streams.
  const field_allocator response_fields =
      watch ? field_allocator(std::pmr::new_delete_resource()) : arena.allocator();
  bool gone = false;
  auto result = co_await std::visit(
      [&](auto& up) -> awaitable<response_outcome> {
        if (!watch)
          co_return co_await relay_response(client, up, *conn, d, client_keep_alive, client_version,
                                            response_fields, false, cx);
        const client_watch<Stream> watching(client, cbuf, cfg.limits.header_bytes, *conn, cx.ws);
        auto r = co_await relay_response(client, up, *conn, d, client_keep_alive, client_version,
                                         response_fields, true, cx);
        gone = watching.gone();
        co_return r;
      },
      conn->stream);
  if (gone || result.client_gone) {
    trace.add_error("ClientDisconnected");
    log(log_level::debug, "c", cx.id, " client went away; backend connection closed");
    co_return request_end::close;
  }
  if (!result.head_sent) {
    conn->abort();
    co_await write_local_made(client, cx, [&] {
      const std::string_view why = result.status == 504
                                       ? "backend did not answer in time"
                                       : "backend closed or sent an invalid response";
      return make_error(result.status, why, !client_keep_alive);
    });
    co_return client_keep_alive ? request_end::next : request_end::close;
  }
  ++conn->requests;
  if (conn->buffer.size() == 0) give_spare(cx.ws.spares, conn->buffer);  // idle: no buffer held
  cx.auth_bound = cx.auth_bound || request_binds || result.binds;
  if (cx.auth_bound) trace.add_info("Pinned", "true");
  if (!result.upstream_ok || cx.ws.draining) {
    conn->abort();
  } else if (cx.auth_bound) {
    // NTLM/Negotiate authenticate this TCP connection: it is this client's alone from now on.
    cx.pinned.put(std::move(conn));
  } else {
    cx.ws.pool.give_back(std::move(conn));
  }
  co_return result.client_ok ? request_end::next : request_end::close;
}

template awaitable<request_end> forward_request<plain_stream>(plain_stream&, beast::flat_buffer&,
                                                              std::optional<request_parser>&,
                                                              field_arena&,
                                                              const routing::decision&, conn_ctx&);
template awaitable<request_end> forward_request<tls_stream>(tls_stream&, beast::flat_buffer&,
                                                            std::optional<request_parser>&,
                                                            field_arena&, const routing::decision&,
                                                            conn_ctx&);

}  // namespace proxy
