// One exchange with a backend, written once for HTTP/1.1 and HTTP/2: the backend's choice and
// connection, the request sent, the response head read and rewritten, the body relayed,
// passive health, and where the backend connection goes afterwards. The codec is one seam,
// the `Client` (h1/forward.cpp, h2/connection.cpp): it sends the request body it receives,
// frames the response for its peer and answers locally. As nghttpx's Upstream /
// on_downstream_* split and Envoy's ResponseEncoder do.
//
// The Client seam, as run_exchange uses it (one object per exchange, moved into its frame):
//   // the request, towards one backend connection
//   template <class BackendStream>
//   awaitable<error_code> send(BackendStream& backend_stream, std::size_t& sent);
//       Head and body to `backend_stream`; `sent` counts the bytes written. After a failure,
//       gone() says whether the client's side failed (then nothing is retried).
//   void release_request();        // the request went whole: its fields' memory may go
//   tls_conn* tls();               // the client's TLS connection (null: plain TCP)
//   field_allocator fields();      // where the response's fields go when not held
//   // the response, towards the client
//   void watch(upstream_conn& upstream, bool held);  // until unwatch(): a client that leaves
//   void unwatch();                             // aborts `upstream` (held: a long-poll)
//   bool gone() const;                          // the client left, or failed: failure()
//   std::optional<client_failure> failure() const;
//   bool head(upstream_response& res, bool has_body, bool length_known);
//       Frames the response head (not yet sent, maybe); false when the client is gone.
//   bool has_room() const;                      // more body may be framed before flush()
//   awaitable<bool> wait_room();                // until has_room(); false: gone or stalled
//   net::mutable_buffer prepare(std::size_t n); // room for up to n body bytes
//   void commit(std::size_t n);                 // n of them were filled
//   awaitable<bool> flush(bool last);           // out with what was framed; false: gone
//   void abort_response();                      // the body broke off: the client must learn it
//   bool keep_alive() const;                    // the connection may carry another request
//   awaitable<request_end> reply(boxed_reply res);  // a local answer, before head() only
//   static constexpr bool can_bind;             // connection-bound auth can live here (H1)
#pragma once

#include <chrono>
#include <cstddef>
#include <memory_resource>
#include <optional>
#include <string>
#include <variant>

#include "proxy/io/lazy_io.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/columns.hpp"
#include "proxy/request/header_rewrite.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/outcome.hpp"
#include "proxy/request/policy.hpp"
#include "proxy/request/wire.hpp"
#include "proxy/upstream/response_head.hpp"
#include "routing/mapi_codes.hpp"

namespace proxy {

/// How the client connection goes on after a request: it can carry the next one, it closes,
/// or it closes lingering (the client may still be sending what was refused). HTTP/2 streams
/// simply end.
enum class request_end { next, close, linger };

/// A failure on the client's side of an exchange: how the request ended, and why.
struct client_failure {
  request_outcome outcome = request_outcome::client_disconnected;
  std::string_view why;  ///< static text; empty: `ec` says it
  error_code ec;
  std::string detail() const { return why.empty() ? (ec ? ec.message() : "") : std::string(why); }
};

namespace exchange_detail {

/// Ends `rq` with the client's failure (ClientDisconnected when it said none).
template <class Client>
void end_by_client(request_ctx& rq, const Client& client) {
  const auto f = client.failure().value_or(client_failure{});
  end_request(rq, f.outcome, f.detail());
}

/// How getting a backend connection and sending the request to it went.
enum class send_status { sent, unreachable, client_failed, failed_mid_request, unframed };

/// Connects to backend `b`: counted, timed, and on failure logged, counted and noted for
/// passive health. Null on failure.
awaitable<upstream_ptr> connect_counted(request_ctx& rq, std::size_t b);

/// Sends the request to backend `b` on the connection pinned to this client, a pooled one or a
/// fresh one, in that order, moving on only while not one byte has been sent. On `sent`, `upstream`
/// holds it.
template <class Client>
awaitable<send_status> send_to(request_ctx& rq, Client& client, std::size_t b,
                               upstream_ptr& upstream) {
  auto& conn = rq.conn;
  for (int source = 0; source < 3; ++source) {
    upstream_ptr candidate;
    if (source == 0) {
      candidate = conn.pinned.take(b);
    } else if (source == 1) {
      // Pooled connections never carry connection-bound authentication (bound ones are never
      // pooled), so one is as clean as a fresh connection. (Not when a reload gave the worker
      // a pool for another runtime since this request began.)
      if (conn.worker.pool.serves(conn.rt.get())) candidate = conn.worker.pool.take(b);
    } else {
      candidate = co_await connect_counted(rq, b);
      if (!candidate) co_return send_status::unreachable;
    }
    if (!candidate) continue;
    std::size_t sent = 0;
    const auto ec = co_await std::visit(
        [&](auto& backend_stream) { return client.send(backend_stream, sent); }, candidate->stream);
    if (!ec) {
      upstream = std::move(candidate);
      co_return send_status::sent;
    }
    candidate->abort();  // whatever it was sent, it carries no other request
    if (client.gone()) co_return send_status::client_failed;
    if (ec == unframed_request_body()) co_return send_status::unframed;
    if (sent > 0) {
      note_failure(*conn.rt, b);
      end_request(rq, request_outcome::backend_failed_mid_request,
                  conn.rt->cfg->backends[b].name + ": " + ec.message());
      co_return send_status::failed_mid_request;
    }
  }
  co_return send_status::unreachable;
}

/// What relaying the response did.
struct response_result {
  bool head_sent = false;    ///< the head went to the client: no local answer any more
  bool completed = false;    ///< the whole response reached the client
  bool upstream_ok = false;  ///< the backend connection may carry another request
  bool binds = false;        ///< the backend challenged with NTLM/Negotiate
  bool gone = false;         ///< the client left (or failed)
  int status = 0;            ///< !head_sent && !gone: the status to answer (502, 504)
};

/// Records a response head's facts: backend status, first-byte time, passive health, the
/// X-ResponseCode. Returns whether the response has a body.
bool note_response_head(request_ctx& rq, std::size_t b, const upstream_parser& parser,
                        request_trace::clock::time_point sent_at,
                        request_trace::clock::time_point head_at);

/// Reads the backend's response head and relays the response to the client. The response's
/// fields are allocated with `fields`; `drop_fields`: they are cleared once the head is framed,
/// so a response streamed for minutes (a long-poll's PENDINGs) holds none of them meanwhile.
/// Each backend read is framed and flushed at once: a PENDING must not wait for more. Between
/// reads nothing is held but the parser (the read is written out in this frame: a long-poll
/// waits here for minutes). `head_request`: the request was HEAD (its response has no body).
template <class Client, class BackendStream>
awaitable<response_result> relay_response(request_ctx& rq, Client& client,
                                          BackendStream& backend_stream, upstream_conn& upstream,
                                          field_allocator fields, bool drop_fields,
                                          bool head_request) {
  auto& conn = rq.conn;
  const auto sent_at = request_trace::clock::now();
  response_result out;
  std::optional<upstream_parser> parser;
  const auto head_ec =
      co_await read_final_head(backend_stream, upstream, parser, rq.upstream_idle(),
                               conn.worker.spares, fields, head_request);
  if (const auto& ec = head_ec) {
    if (client.gone()) {
      out.gone = true;
      end_by_client(rq, client);
      co_return out;
    }
    note_failure(*conn.rt, upstream.backend);  // passive health: the backend's own failure
    const bool timeout = ec == beast::error::timeout;
    end_request(rq, timeout ? request_outcome::backend_timeout : request_outcome::backend_error,
                conn.rt->cfg->backends[upstream.backend].name + ": " + ec.message());
    out.status = timeout ? 504 : 502;
    co_return out;
  }
  auto& res = parser->get();
  const bool upstream_keep_alive = res.keep_alive();
  const auto head_at = request_trace::clock::now();
  const bool has_body = note_response_head(rq, upstream.backend, *parser, sent_at, head_at);
  strip_hop_by_hop(res, false);
  out.binds = prepare_response_head(res, rq, upstream.backend);
  if (!client.head(res, has_body, parser->content_length().has_value())) {
    out.gone = true;
    end_by_client(rq, client);
    co_return out;
  }
  if (drop_fields) res.clear();  // framed: not read again (trailers would be re-added)
  out.head_sent = rq.trace.responded = true;
  rq.trace.rec.http_status = int(res.result_int());
  // However the body ends, the time spent streaming it is known then.
  struct stream_timer {
    request_trace& tr;
    request_trace::clock::time_point from;
    ~stream_timer() { tr.rec.streaming = request_trace::since(from, request_trace::clock::now()); }
  } streaming{rq.trace, head_at};
  const bool body = has_body && !parser->is_done();
  for (;;) {
    if (body && !client.has_room()) {
      if (!co_await client.wait_room()) {
        out.gone = true;
        end_by_client(rq, client);
        co_return out;
      }
    }
    bool need_input = body && !parser->is_done() && upstream.buffer.size() == 0;
    std::size_t body_bytes = 0;  // of this batch: what ResponseBytes counts
    while (body && !parser->is_done() && !need_input && client.has_room()) {
      // The body bytes parsed can be no more than those buffered.
      const auto room = client.prepare(std::min(relay_chunk, upstream.buffer.size()));
      res.body().data = room.data();
      res.body().size = room.size();
      error_code ec;
      const std::size_t used = parser->put(upstream.buffer.data(), ec);
      upstream.buffer.consume(used);
      const std::size_t got = room.size() - res.body().size;
      client.commit(got);
      body_bytes += got;
      if (ec == http::error::need_more || (!ec && used == 0 && got == 0)) {
        need_input = true;  // e.g. half a chunk-size line: read before parsing again
      } else if (ec && ec != http::error::need_buffer) {
        end_request(rq, request_outcome::backend_failed_mid_response, ec.message());
        client.abort_response();
        co_return out;
      } else {
        need_input = upstream.buffer.size() == 0 && !parser->is_done();
      }
    }
    if (!co_await client.flush(!body || parser->is_done())) {
      out.gone = true;
      end_by_client(rq, client);
      co_return out;
    }
    rq.trace.rec.response_bytes += body_bytes;
    if (!body || parser->is_done()) break;
    if (!need_input) continue;  // the client's room is full: wait for it above
    arm_deadline(backend_stream, rq.upstream_idle());
    error_code rec;
    read_arrived(backend_stream, upstream.buffer, relay_chunk, conn.worker.spares, rec);
    while (const auto w = wait_before_retry(rec)) {
      std::tie(rec) = co_await backend_stream.async_wait(*w, use_nothrow);
      if (!rec) read_arrived(backend_stream, upstream.buffer, relay_chunk, conn.worker.spares, rec);
    }
    if (rec == net::error::eof || rec == net::ssl::error::stream_truncated) {
      // A close-delimited body ends here; any other framing ends too early.
      error_code eec;
      parser->put_eof(eec);
      if (!eec && parser->is_done()) continue;
    }
    if (rec) {
      if (client.gone()) {  // the client left: the watch aborted the backend connection
        out.gone = true;
        end_by_client(rq, client);
      } else {
        end_request(rq, request_outcome::backend_failed_mid_response, rec.message());
        client.abort_response();
      }
      co_return out;
    }
  }
  out.completed = true;
  // Bytes after a complete response (a body sent after a HEAD response, anything unasked) would
  // be read as the start of the next client's response: such a connection is not reused.
  out.upstream_ok = upstream_keep_alive && parser->is_done() && upstream.buffer.size() == 0;
  co_return out;
}

/// The one place where exchanges tell the TLS buffer rule (tls_buffers.hpp) about both of their
/// connections: a request starts on each, or, for a held exchange, each will be quiet for long.
void note_tls_use(tls_buffer_keeper& keeper, tls_conn* client, upstream_conn& upstream, bool held);

/// After a complete exchange: the backend connection is pinned to this client (NTLM/Negotiate
/// authenticate the TCP connection: it is this client's alone from now on), pooled, or closed.
void settle_connection(request_ctx& rq, upstream_ptr upstream, bool reusable, bool binds);

}  // namespace exchange_detail

/// Forwards the request that `plan` prepared (rq.decision.order: the backends to try) through
/// `client`, and relays the response. Retries on the next backend only while not one byte of
/// the request was sent. A local answer where no backend can give one: X-ResponseCode 10 when
/// the session's server cannot be reached, 502 when no backend can, or a backend failed before
/// its response head (504 when it was too slow); each ends the request with its outcome. A
/// client that leaves ends the exchange and closes the backend connection (never pooled).
/// Returns how the client connection goes on.
template <class Client>
awaitable<request_end> run_exchange(request_ctx& rq, Client client, const request_plan& plan) {
  using namespace exchange_detail;
  auto& conn = rq.conn;
  const auto& d = rq.decision;
  const gauge_guard active{&conn.worker.active_requests};
  const std::string& request_type = rq.trace.rec.x_request_type;
  const std::string& request_id = rq.trace.rec.x_request_id;
  upstream_ptr upstream;
  for (std::size_t b : d.order) {
    switch (co_await send_to(rq, client, b, upstream)) {
      case send_status::sent:
        break;
      case send_status::client_failed:
        end_by_client(rq, client);
        co_return request_end::close;
      case send_status::unframed:
        end_request(rq, request_outcome::unframed_request_body);
        co_return co_await client.reply(
            box([] { return make_error(400, "request body framing not accepted", true); }));
      case send_status::failed_mid_request:
        co_return co_await client.reply(box(
            [] { return make_error(502, "backend failed while receiving the request", true); }));
      case send_status::unreachable:
        if (b == d.affinity_backend && !d.new_session) {
          // The server holding this session context is gone: any other server would answer
          // "context not found" after a round trip; say it now, so Outlook reconnects at once.
          end_request(rq, request_outcome::session_backend_down,
                      conn.rt->cfg->backends[b].name + " unreachable");
          co_return co_await client.reply(box([&] {
            return make_mapi_error(routing::mapi_code::context_not_found, request_type, request_id,
                                   "the mailbox server holding the session is unreachable",
                                   !plan.keep_alive);
          }));
        }
        continue;
    }
    break;
  }
  if (!upstream) {
    end_request(rq, request_outcome::no_backend_reachable);
    co_return co_await client.reply(
        box([&] { return make_error(502, "no backend reachable", !plan.keep_alive); }));
  }

  const std::size_t b = upstream->backend;
  record_backend(rq, b);
  const gauge_guard in_flight{&conn.rt->live[b].in_flight};
  const bool long_poll = rq.trace.notification_wait;
  const gauge_guard long_polls{long_poll ? &conn.worker.notification_waits : nullptr};
  const gauge_guard sessions{long_poll ? &conn.rt->live[b].notification_waits : nullptr};
  // A response that may be held long (a NotificationWait; anything off the MAPI vdirs): the
  // request, sent whole and never read again, gives its memory back, the response's fields
  // come from the heap and go once its head is framed, and a client that leaves frees the
  // backend connection at once. MAPI requests other than NotificationWait are answered
  // promptly: a vanished client is learned when the response is written.
  const bool held = long_poll || !rq.trace.mapi;
  if (held) client.release_request();
  note_tls_use(conn.worker.tls_buffers, client.tls(), *upstream, held);
  const field_allocator fields =
      held ? field_allocator(std::pmr::new_delete_resource()) : client.fields();
  client.watch(*upstream, held);
  const auto r = co_await std::visit(
      [&](auto& backend_stream) {
        return relay_response(rq, client, backend_stream, *upstream, fields, held,
                              plan.head_request);
      },
      upstream->stream);
  client.unwatch();
  if (r.gone) {
    upstream->abort();
    co_return request_end::close;
  }
  if (!r.head_sent) {
    upstream->abort();
    co_return co_await client.reply(box([&] {
      return make_error(r.status,
                        r.status == 504 ? "backend did not answer in time"
                                        : "backend closed or sent an invalid response",
                        !plan.keep_alive);
    }));
  }
  if (!r.completed) {
    upstream->abort();
    co_return request_end::close;  // the client learns of the broken body by the close
  }
  bool binds = false;
  if constexpr (Client::can_bind) binds = plan.binds_connection || r.binds;
  settle_connection(rq, std::move(upstream), r.upstream_ok, binds);
  co_return client.keep_alive() ? request_end::next : request_end::close;
}

}  // namespace proxy
