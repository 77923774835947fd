// HTTP/2 connection: one reader, one writer, a watchdog, and one coroutine per stream, all on
// the connection's worker. Streams wait on their own timer; nothing blocks the others.
#include "proxy/h2/connection.hpp"

#include <nghttp2/nghttp2.h>

#include <array>
#include <charconv>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>

#include "metrics/labels.hpp"
#include "proxy/h2/session.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/header_rewrite.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/pipeline.hpp"
#include "proxy/request/wire.hpp"
#include "proxy/upstream/response_head.hpp"
#include "routing/auth_policy.hpp"
#include "routing/mapi_codes.hpp"
#include "routing/text.hpp"

namespace proxy {
namespace {

using namespace net::experimental::awaitable_operators;

/// Response bytes buffered per stream before the backend read pauses (flow control towards
/// the client then holds the backend back, not mapigate's memory).
constexpr std::size_t out_high_water = 64 * 1024;
constexpr auto watchdog_tick = std::chrono::milliseconds(100);
/// Between a graceful shutdown's notice and its final GOAWAY: a round trip on any network the
/// client may be on, so that requests it sent before it saw the notice arrive and are served.
constexpr auto goaway_notice_wait = std::chrono::seconds(1);

using clock = std::chrono::steady_clock;

struct h2_stream {
  std::int32_t id;
  std::vector<h2::header> headers;
  bool too_large = false;
  /// HEADERS came without END_STREAM: the request has a body (DATA, even an empty one), decided
  /// once from that frame, however the frames were split across reads.
  bool has_body = false;
  std::deque<std::string> body_in;  ///< request body chunks not yet sent to the backend
  std::size_t body_in_bytes = 0;    ///< their bytes
  bool end_in = false;              ///< the client ended its side
  std::string out;                  ///< response bytes not yet taken by nghttp2
  std::size_t out_off = 0;
  bool out_end = false;  ///< the whole response body is in `out`
  bool closed = false;   ///< the stream is gone (reset, completed, session ended)
  bool responded = false;
  bool discard_body = false;          ///< answered without reading the body: drop what still comes
  upstream_conn* upstream = nullptr;  ///< while relaying: aborted if the stream closes
  net::steady_timer wake;             ///< the stream coroutine waits here

  h2_stream(std::int32_t i, const net::any_io_executor& ex)
      : id(i), wake(ex, clock::time_point::max()) {}
  std::size_t out_pending() const { return out.size() - out_off; }
};

class h2_conn final : public h2::events {
 public:
  h2_conn(tls_stream& s, conn_ctx& cx, const net::any_io_executor& ex)
      : sock_(s),
        cx_(cx),
        ex_(ex),
        sess_(*this, settings_for(cx)),
        write_wake_(ex, clock::time_point::max()),
        tick_(ex) {}

  awaitable<void> run() { co_await (reader() && writer() && watchdog()); }
  /// After run(): the error code of the GOAWAY that ended the session on a connection error
  /// (0: none; it ended normally).
  std::uint32_t error_sent() const noexcept { return sess_.error_sent(); }

  // ---- h2::events ----
  void on_request(std::int32_t id, std::vector<h2::header> headers, bool end_stream,
                  bool too_large) override {
    auto st = std::make_shared<h2_stream>(id, ex_);
    st->headers = std::move(headers);
    st->end_in = end_stream;
    st->has_body = !end_stream;
    st->too_large = too_large;
    streams_[id] = st;
    ready_.push_back(std::move(st));  // started after receive() returns, outside nghttp2
  }
  void on_data(std::int32_t id, std::string_view data) override {
    if (auto* st = find(id); st && !st->discard_body) {
      st->body_in.emplace_back(data);
      st->body_in_bytes += data.size();
      st->wake.cancel();
    } else {
      sess_.consume(id, data.size());  // nobody wants it: keep the connection window open
    }
  }
  void on_end_stream(std::int32_t id) override {
    if (auto* st = find(id)) {
      st->end_in = true;
      st->wake.cancel();
    }
  }
  void on_stream_close(std::int32_t id, std::uint32_t) override {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto& st = *it->second;
    st.closed = true;
    if (st.upstream) st.upstream->abort();  // the client left: so does the backend request
    st.wake.cancel();
    streams_.erase(it);
  }
  std::ptrdiff_t read_body(std::int32_t id, std::uint8_t* out, std::size_t n, bool& eof) override {
    auto* st = find(id);
    if (!st) {
      eof = true;
      return 0;
    }
    const std::size_t avail = st->out_pending();
    if (avail == 0) {
      if (!st->out_end) return -1;
      eof = true;
      return 0;
    }
    const std::size_t take = std::min(avail, n);
    std::memcpy(out, st->out.data() + st->out_off, take);
    st->out_off += take;
    if (st->out_off == st->out.size()) {
      st->out.clear();
      st->out_off = 0;
      eof = st->out_end;
    }
    st->wake.cancel();  // room again below the high-water mark
    return static_cast<std::ptrdiff_t>(take);
  }

 private:
  static h2::settings settings_for(const conn_ctx& cx) {
    h2::settings s;
    s.max_concurrent_streams = cx.rt->cfg->limits.h2_max_concurrent_streams;
    s.max_header_list = static_cast<std::uint32_t>(cx.rt->cfg->limits.header_bytes);
    return s;
  }

  h2_stream* find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  void notify_writer() { write_wake_.cancel(); }
  /// Waits until something for stream `st` happened (data, room, close), at most `limit`;
  /// false when nothing happened in that time.
  awaitable<bool> wait_for(h2_stream& st, std::chrono::milliseconds limit) {
    st.wake.expires_after(limit);
    auto [ec] = co_await st.wake.async_wait(use_nothrow);
    co_return ec == net::error::operation_aborted;  // woken, not expired
  }

  /// A client that stalls its stream (no body, no window) loses it, not the backend connection.
  void stall(h2_stream& st, request_trace& trace, std::string_view why) {
    trace.add_error(why);
    st.closed = true;
    sess_.reset(st.id, NGHTTP2_CANCEL);
    notify_writer();
  }

  awaitable<void> reader() {
    std::array<std::uint8_t, 16 * 1024> buf;
    while (sess_.want_read() && !stop_reading_) {
      auto [ec, n] = co_await sock_.async_read_some(net::buffer(buf), use_nothrow);
      if (ec) break;
      last_activity_ = clock::now();
      const bool ok = sess_.receive({buf.data(), n});
      for (auto& st : ready_) {
        // Counted from here, not from when it starts: the connection must outlive a stream
        // coroutine that is spawned but not yet running.
        ++running_;
        net::co_spawn(ex_, handle(std::move(st)), on_coroutine_exit{cx_.rt, true, cx_.id});
      }
      ready_.clear();
      notify_writer();
      if (!ok) break;  // a connection error or a flood: GOAWAY queued (serve_h2 logs it)
    }
    reading_done_ = true;
    // The client is gone or the session is over: end every stream still running.
    for (auto& [id, st] : streams_) {
      st->closed = true;
      if (st->upstream) st->upstream->abort();
      st->wake.cancel();
    }
    notify_writer();
  }

  /// Writes whatever the session has to send. Ends only once reading is over and every stream
  /// coroutine has finished (they use this connection), even after a write failed.
  awaitable<void> writer() {
    for (;;) {
      const auto out = write_failed_ ? std::string() : sess_.take_output();
      if (!out.empty()) {
        writing_since_ = clock::now();
        auto [ec, n] = co_await write_all(sock_, net::buffer(out));
        writing_since_.reset();
        if (ec) {
          write_failed_ = true;
          error_code ignored;
          beast::get_lowest_layer(sock_).socket().close(ignored);  // the reader learns it too
        }
        stop_reading_if_over();
        continue;
      }
      if (reading_done_ && running_ == 0) break;
      write_wake_.expires_at(clock::time_point::max());
      co_await write_wake_.async_wait(use_nothrow);
    }
    finished_ = true;
    tick_.cancel();
  }

  /// Once the session wants no more input, the pending read is ended instead of waiting for
  /// bytes nobody will process. nghttp2 stops wanting to read when a GOAWAY for a connection
  /// error (a frame on the wrong stream, a bad length, a zero window increment: it queues that
  /// GOAWAY itself while receive() still succeeds) has gone out, or once a graceful GOAWAY was
  /// sent or received and no stream is open. Without this, the read would wait for the client,
  /// with no deadline, after the session is over.
  void stop_reading_if_over() {
    if (stop_reading_ || reading_done_ || sess_.want_read()) return;
    stop_reading_ = true;
    error_code ignored;
    beast::get_lowest_layer(sock_).socket().cancel(ignored);  // ends the pending read
  }

  /// Every 100 ms: drain, reload or idle (GOAWAY), a stalled write (close), and closing the
  /// read side once a GOAWAY'd connection has no stream left.
  awaitable<void> watchdog() {
    const auto& t = cx_.rt->cfg->timeouts;
    while (!finished_) {
      tick_.expires_after(watchdog_tick);
      co_await tick_.async_wait(use_nothrow);
      if (finished_) break;
      const auto now = clock::now();
      if (writing_since_ && now - *writing_since_ > t.client_write) {
        error_code ignored;
        beast::get_lowest_layer(sock_).socket().close(ignored);
        continue;
      }
      // Drain, a reload (the client reconnects to the new configuration and certificate;
      // streams keep the runtime they started with), or idle: a graceful GOAWAY, in two steps
      // (the style anchors' G5): a notice first, then, goaway_notice_wait later, the GOAWAY
      // naming the last stream processed. Requests the client sent before it saw the notice
      // are served instead of refused.
      const bool reloaded = cx_.ws.current != cx_.rt;
      if (!notice_at_ &&
          (cx_.ws.draining || reloaded ||
           (streams_.empty() && running_ == 0 && now - last_activity_ > t.keepalive_idle))) {
        sess_.shutdown_notice();
        notice_at_ = now;
        notify_writer();
      }
      if (notice_at_ && !goaway_sent_ && now - *notice_at_ >= goaway_notice_wait) {
        sess_.goaway(NGHTTP2_NO_ERROR);
        goaway_sent_ = true;
        notify_writer();
      }
      if (goaway_sent_ && running_ == 0 && !sess_.want_write() && !writing_since_ &&
          !stop_reading_) {
        stop_reading_ = true;
        error_code ignored;
        beast::get_lowest_layer(sock_).socket().cancel(ignored);  // ends the pending read
      }
    }
  }

  /// Sends a response mapigate made itself on stream `st`.
  void respond(h2_stream& st, http::response<http::string_body> res, request_trace& trace) {
    std::optional<int> code;
    if (auto it = res.find("X-ResponseCode"); it != res.end())
      code = metrics::parse_mapi_code(it->value());
    trace.local_response(res.result_int(), code, res.body().size(), "");
    if (st.closed) return;
    discard_rest(st);
    st.out = std::move(res.body());
    st.out_end = true;
    st.responded = true;
    sess_.submit_response(st.id, res.result_int(), h2_headers(res), !st.out.empty());
    notify_writer();
  }

  /// The request body will not be read: give back its flow-control credit now and for what
  /// still arrives, so the client is never stuck on a window that will not open.
  void discard_rest(h2_stream& st) {
    st.discard_body = true;
    for (const auto& c : st.body_in)
      sess_.consume(st.id, c.size());
    st.body_in.clear();
    st.body_in_bytes = 0;
  }

  /// HTTP/1.1 response fields as HTTP/2 headers, viewing `res` (nghttp2 copies them and
  /// lower-cases the names); connection-specific ones dropped (strip_hop_by_hop already
  /// removed the rest). One allocation, not a string per name and value.
  template <class Fields>
  static std::vector<h2::field_view> h2_headers(const http::response_header<Fields>& res) {
    std::vector<h2::field_view> out;
    out.reserve(static_cast<std::size_t>(std::distance(res.begin(), res.end())));
    for (const auto& f : res) {
      const auto name = f.name_string();
      if (beast::iequals(name, "connection") || beast::iequals(name, "keep-alive") ||
          beast::iequals(name, "proxy-connection") || beast::iequals(name, "transfer-encoding") ||
          beast::iequals(name, "upgrade"))
        continue;
      out.push_back({name, f.value()});
    }
    return out;
  }

  /// One stream. The reader counted it in running_ when it spawned it.
  awaitable<void> handle(std::shared_ptr<h2_stream> stp) {
    struct done {
      h2_conn& c;
      ~done() {
        --c.running_;
        c.notify_writer();
      }
    } on_exit{*this};
    auto& st = *stp;
    request_trace trace;
    start_trace(trace, cx_);
    struct finisher {
      request_trace& t;
      conn_ctx& cx;
      ~finisher() { t.finish(*cx.rt->metrics, cx.ws.access_log); }
    } fin{trace, cx_};
    trace.add_info("Http2", "true");

    // The request head, as HTTP/1.1 fields, in the stream's arena (the response's fields too).
    field_arena arena(cx_.ws.field_arena_blocks);
    http::request<http::buffer_body, relay_fields> req(std::piecewise_construct, std::make_tuple(),
                                                       std::make_tuple(arena.allocator()));
    std::string method, path, authority, cookie;
    std::uint64_t head_bytes = 0;
    for (auto& h : st.headers) {
      head_bytes += h.name.size() + h.value.size() + 4;
      if (h.name == ":method") {
        method = std::move(h.value);
      } else if (h.name == ":path") {
        path = std::move(h.value);
      } else if (h.name == ":authority") {
        authority = std::move(h.value);
      } else if (h.name == "cookie") {
        // RFC 9113 §8.2.3: cookie crumbs become one field, joined with "; ", for HTTP/1.1.
        if (!cookie.empty()) cookie += "; ";
        cookie += h.value;
      } else if (!h.name.empty() && h.name[0] != ':') {
        req.insert(h.name, h.value);
      }
    }
    if (!cookie.empty()) req.insert(http::field::cookie, cookie);
    trace.rec.request_bytes = head_bytes;
    if (st.too_large) {
      trace.add_error("request header fields too large");
      respond(st, make_error(431, "request header fields too large", false), trace);
      co_return;
    }
    if (method.empty() || path.empty() || path.front() != '/') {
      trace.add_error("malformed request head");
      respond(st, make_error(400, "malformed request head", false), trace);
      co_return;
    }
    req.method_string(method);
    req.target(path);
    req.version(11);
    if (!authority.empty()) {
      if (req.find(http::field::host) == req.end())
        req.set(http::field::host, authority);
      else if (!beast::iequals(req[http::field::host], authority)) {
        trace.add_error(":authority and Host differ");
        respond(st, make_error(400, ":authority and Host differ", false), trace);
        co_return;
      }
    }
    const auto facts = read_request_facts(req, cx_.rt->cookie_name);
    describe_request(trace, req, facts, cx_);
    if (facts.hosts > 1) {
      trace.add_error("more than one Host header");
      respond(st, make_error(400, "more than one Host header", false), trace);
      co_return;
    }
    if (facts.authorization) {
      const auto scheme = routing::scheme_of(*facts.authorization);
      if (scheme && routing::binds_connection(*scheme)) {
        // As Windows' HTTP stack answers: the client retries on HTTP/1.1.
        trace.add_error("HTTP_1_1_REQUIRED: connection-bound authentication");
        sess_.reset(st.id, NGHTTP2_HTTP_1_1_REQUIRED);
        notify_writer();
        co_return;
      }
    }
    std::optional<std::string_view> sni;
    if (!cx_.sni.empty()) sni = cx_.sni;
    const auto d =
        cx_.rt->routes.decide({req.method_string(), req.target(), facts.host, sni,
                               facts.request_type, facts.authorization, facts.token, unix_now()},
                              health_now(cx_));
    describe_decision(trace, d, facts.request_type, request_trace::clock::now());
    count_affinity(d, cx_);
    const bool mapi = d.vdir == routing::vdir_kind::emsmdb || d.vdir == routing::vdir_kind::nspi;
    const auto& cfg = *cx_.rt->cfg;
    auto refuse = [&](int status, int code, std::string_view reason) {
      respond(st, refusal(cx_, trace, req, facts, mapi, status, code, reason, false), trace);
    };
    switch (d.act) {
      case routing::decision::action::reject:
        refuse(d.status, d.mapi_code, d.reason);
        co_return;
      case routing::decision::action::healthcheck:
        respond(st, health_reply(cx_, trace, method == "HEAD", false), trace);
        co_return;
      case routing::decision::action::proxy:
        break;
    }
    // The body, as HEADERS declared it (nghttp2 holds the DATA frames to content-length and
    // resets the stream when they differ); then the one body rule, as for HTTP/1.1.
    std::optional<std::string_view> length;
    if (const auto cl = req.find(http::field::content_length); cl != req.end())
      length = cl->value();
    const auto declared = h2_body_framing(!st.has_body, length);
    if (!declared) {
      refuse(400, routing::mapi_code::invalid_header, "invalid Content-Length");
      co_return;
    }
    const body_framing framing = *declared;
    if (const auto r = refuse_framing(framing, cfg.limits.mapi_body_bytes)) {
      refuse(r->status, r->mapi_code, r->reason);
      co_return;
    }
    if (facts.cookies_changed) rewrite_cookies(req, facts);
    const auto request_type = std::string(facts.request_type);
    const auto request_id = std::string(facts.request_id);
    strip_hop_by_hop(req, true);
    append_forwarded_for(req, cx_.client_ip);
    ++cx_.ws.active_requests;
    struct active {
      worker_state& ws;
      ~active() { --ws.active_requests; }
    } counted{cx_.ws};
    co_await forward(st, req, framing, d, trace, request_type, request_id);
  }

  /// Sends the request head and its body to the backend: the head and the body bytes already
  /// received go out in one write, the rest as it comes; never more bytes than `framing`
  /// declares. The request becomes complete at the backend only once the client has ended its
  /// stream with exactly that many: the body's last byte (or, for an empty body, the head) is
  /// held back until END_STREAM. So a body that turns out longer or shorter than declared, in
  /// whatever pieces it came, never reaches the backend as a complete request: the stream is
  /// reset (nghttp2 enforces the length too) and the send fails, so the backend connection,
  /// holding an unfinished request, is closed and never used again. Nothing is sent for a
  /// stream already closed, nor a head that does not frame its body (unframed_request_body()).
  template <class Up>
  awaitable<error_code> send_request(Up& up, h2_stream& st,
                                     http::request<http::buffer_body, relay_fields>& req,
                                     body_framing framing, std::size_t& sent,
                                     std::uint64_t& body_bytes, request_trace& trace) {
    const auto& t = cx_.rt->cfg->timeouts;
    const std::uint64_t declared = framing.k == body_framing::kind::length ? framing.length : 0;
    bool head = true;
    for (;;) {
      if (st.closed) co_return net::error::operation_aborted;
      const std::uint64_t have = body_bytes + st.body_in_bytes;
      if (have > declared) {
        reset_for_framing(st, trace, "request body longer than its content-length");
        co_return net::error::operation_aborted;
      }
      if (st.end_in && have < declared) {
        reset_for_framing(st, trace, "request body shorter than its content-length");
        co_return net::error::operation_aborted;
      }
      // What may go now: everything once the stream has ended; before, all but a last byte.
      const bool last_held = !st.end_in && have == declared;
      const std::size_t ready = st.body_in_bytes - (last_held && st.body_in_bytes > 0 ? 1 : 0);
      const bool head_ready = head && !(last_held && declared == 0);
      if (head_ready || ready > 0) {
        wire_lease out(cx_.ws.spares);
        if (head_ready && !append_request_head(*out, req.base(), framing))
          co_return unframed_request_body();
        // Bytes leave body_in only once written: a send that failed before its first byte
        // can be made again, whole, to another backend.
        std::size_t left = ready;
        for (const auto& chunk : st.body_in) {
          if (left == 0) break;
          const std::size_t n = std::min(left, chunk.size());
          append(*out, std::string_view(chunk).substr(0, n));
          left -= n;
        }
        arm_deadline(up, t.upstream_idle);
        auto [wec, wn] = co_await write_all(up, (*out).data());
        sent += wn;
        if (wec) co_return wec;
        head = head && !head_ready;
        for (left = ready; left > 0;) {
          auto& chunk = st.body_in.front();
          const std::size_t n = std::min(left, chunk.size());
          if (n == chunk.size())
            st.body_in.pop_front();
          else
            chunk.erase(0, n);
          left -= n;
        }
        st.body_in_bytes -= ready;
        if (ready > 0) {
          body_bytes += ready;
          // Only now may the client send this much more (flow control follows the backend).
          sess_.consume(st.id, ready);
          notify_writer();
        }
      }
      if (!head && st.end_in && st.body_in_bytes == 0) co_return error_code{};
      // Wait for more of the body, its end, or the stream's close.
      const std::size_t waiting = st.body_in_bytes;
      while (st.body_in_bytes == waiting && !st.end_in && !st.closed)
        if (!co_await wait_for(st, t.body_idle)) stall(st, trace, "request body idle timeout");
    }
  }

  /// The client's DATA did not match the declared length: the stream ends (PROTOCOL_ERROR, as
  /// RFC 9113 §8.1.1 asks) and so does the backend request it was feeding.
  void reset_for_framing(h2_stream& st, request_trace& trace, std::string_view why) {
    trace.add_error(why);
    st.closed = true;
    sess_.reset(st.id, NGHTTP2_PROTOCOL_ERROR);
    notify_writer();
  }

  awaitable<void> forward(h2_stream& st, http::request<http::buffer_body, relay_fields>& req,
                          body_framing framing, const routing::decision& d, request_trace& trace,
                          const std::string& request_type, const std::string& request_id) {
    const auto& cfg = *cx_.rt->cfg;
    if (d.session_backend_down && !d.new_session) {
      trace.add_error("SessionBackendDown: " + cfg.backends[*d.affinity_backend].name);
      respond(st,
              make_mapi_error(routing::mapi_code::context_not_found, request_type, request_id,
                              "the mailbox server holding the session is down", false),
              trace);
      co_return;
    }
    if (d.affinity_backend)
      trace.rec.backend_cookie =
          backend_cookie(cfg.backends[*d.affinity_backend].name, d.affinity_expires);

    upstream_ptr conn;
    for (std::size_t b : d.order) {
      upstream_ptr c;
      if (cx_.ws.pool.serves(cx_.rt.get())) c = cx_.ws.pool.take(b);
      if (!c) {
        error_code ec;
        const auto started = clock::now();
        c = co_await connect_upstream(*cx_.rt, b, ec);
        const auto took = clock::now() - started;
        if (!c) {
          cx_.rt->metrics->upstream_connect_failed(b);
          note_failure(cx_, b, true);
          trace.add_error("BackendConnectFailed: " + cfg.backends[b].name + " " + ec.message());
          if (b == d.affinity_backend && !d.new_session) {
            respond(st,
                    make_mapi_error(routing::mapi_code::context_not_found, request_type, request_id,
                                    "the mailbox server holding the session is unreachable", false),
                    trace);
            co_return;
          }
          continue;
        }
        cx_.rt->metrics->upstream_connected(b, std::chrono::duration<double>(took).count());
        trace.rec.backend_connect = std::chrono::duration_cast<std::chrono::milliseconds>(took);
      }
      std::size_t sent = 0;
      std::uint64_t body_bytes = 0;
      const auto ec = co_await std::visit(
          [&](auto& up) { return send_request(up, st, req, framing, sent, body_bytes, trace); },
          c->stream);
      trace.rec.request_bytes += body_bytes;
      if (!ec) {
        conn = std::move(c);
        break;
      }
      c->abort();  // whatever it was sent, it carries no other request
      if (st.closed) co_return;
      if (ec == unframed_request_body()) {
        trace.add_error("UnframedRequestBody");
        log(log_level::error, "c", cx_.id, " request body without explicit framing not sent");
        respond(st, make_error(400, "request body framing not accepted", false), trace);
        co_return;
      }
      if (sent > 0) {
        trace.add_error("BackendFailedMidRequest: " + ec.message());
        note_failure(cx_, c->backend);
        respond(st, make_error(502, "backend failed while receiving the request", false), trace);
        co_return;
      }
    }
    if (!conn) {
      trace.add_error("NoBackendReachable");
      if (!st.closed) respond(st, make_error(502, "no backend reachable", false), trace);
      co_return;
    }
    const std::size_t b = conn->backend;
    record_backend(trace, d, b, cx_);
    const gauge_guard in_flight{&cx_.rt->live[b].in_flight};
    const gauge_guard long_poll{trace.notification_wait ? &cx_.ws.notification_waits : nullptr};
    const gauge_guard sessions{trace.notification_wait ? &cx_.rt->live[b].notification_waits
                                                       : nullptr};
    st.upstream = conn.get();
    const bool reusable = co_await std::visit(
        [&](auto& up) { return relay(up, *conn, st, d, trace, req.get_allocator()); },
        conn->stream);
    st.upstream = nullptr;
    if (reusable && !st.closed && !cx_.ws.draining)
      cx_.ws.pool.give_back(std::move(conn));
    else
      conn->abort();
  }

  /// Backend response → stream. Returns whether the backend connection may be reused.
  template <class Up>
  awaitable<bool> relay(Up& up, upstream_conn& uc, h2_stream& st, const routing::decision& d,
                        request_trace& trace, field_allocator fields) {
    const auto& t = cx_.rt->cfg->timeouts;
    const auto sent_at = clock::now();
    std::optional<upstream_parser> rp;
    const auto head_ec =
        co_await read_final_head(up, uc, rp, t.upstream_idle, cx_.ws.spares, fields);
    if (const auto& ec = head_ec) {
      if (st.closed) {
        trace.add_error("ClientDisconnected");
        co_return false;
      }
      const int status = ec == beast::error::timeout ? 504 : 502;
      trace.add_error((status == 504 ? "BackendTimeout: " : "BackendError: ") + ec.message());
      note_failure(cx_, uc.backend);
      respond(st,
              make_error(status,
                         status == 504 ? "backend did not answer in time"
                                       : "backend closed or sent an invalid response",
                         false),
              trace);
      co_return false;
    }
    auto& res = rp->get();
    const bool upstream_keep_alive = res.keep_alive();
    const unsigned code = res.result_int();
    const auto head_at = clock::now();
    trace.rec.backend_status = int(code);
    trace.rec.is_authenticated = code != 401;
    trace.rec.time_to_first_byte = request_trace::since(sent_at, head_at);
    cx_.rt->metrics->first_byte(uc.backend,
                                std::chrono::duration<double>(head_at - sent_at).count());
    if (code >= 500)
      note_failure(cx_, uc.backend);
    else
      cx_.rt->live[uc.backend].record_success();
    if (auto it = res.find("X-ResponseCode"); it != res.end()) {
      trace.mapi_code = metrics::parse_mapi_code(it->value());
      trace.add_info("X-ResponseCode", std::string(it->value()));
    }
    const bool has_body = !(code == 204 || code == 304) && !rp->is_done();
    strip_hop_by_hop(res, false);
    prepare_response_head(res, d, uc.backend, cx_, &trace);
    if (st.closed) {
      trace.add_error("ClientDisconnected");
      co_return false;
    }
    sess_.submit_response(st.id, int(code), h2_headers(res), has_body);
    st.responded = true;
    trace.responded = true;
    trace.rec.http_status = int(code);
    notify_writer();
    struct stream_timer {
      request_trace& tr;
      clock::time_point from;
      ~stream_timer() { tr.rec.streaming = request_trace::since(from, clock::now()); }
    } streaming{trace, head_at};
    if (!has_body) {
      co_return upstream_keep_alive;
    }
    // Every body byte already read from the backend goes to the stream at once (the writer
    // then sends HEADERS and DATA in one write); each later backend read is passed on as soon
    // as it arrives (a PENDING must not wait for more).
    auto mid_response_failure = [&](const error_code& ec) {
      trace.add_error(st.closed ? std::string("ClientDisconnected")
                                : "BackendFailedMidResponse: " + ec.message());
      if (!st.closed) sess_.reset(st.id, NGHTTP2_INTERNAL_ERROR);
      notify_writer();
    };
    bool need_input = uc.buffer.size() == 0;  // the parser needs bytes not yet read
    while (!rp->is_done()) {
      while (st.out_pending() >= out_high_water && !st.closed)
        if (!co_await wait_for(st, cx_.rt->cfg->timeouts.client_write))
          stall(st, trace, "client took no response data (flow control) in time");
      if (st.closed) {
        trace.add_error("ClientDisconnected");
        co_return false;
      }
      if (need_input) {
        arm_deadline(up, t.upstream_idle);
        auto [rec, rn] = co_await read_some_lazily(up, uc.buffer, relay_chunk, cx_.ws.spares);
        if (rec == net::error::eof || rec == net::ssl::error::stream_truncated) {
          error_code eec;  // a close-delimited body ends here; any other framing too early
          rp->put_eof(eec);
          if (!eec && rp->is_done()) break;
        }
        if (rec) {
          mid_response_failure(rec);
          co_return false;
        }
      }
      std::size_t appended = 0;
      need_input = uc.buffer.size() == 0;
      while (!rp->is_done() && !need_input && st.out_pending() < out_high_water) {
        const std::size_t room = std::min(relay_chunk, uc.buffer.size());
        const std::size_t base = st.out.size();
        st.out.resize(base + room);
        res.body().data = st.out.data() + base;
        res.body().size = room;
        error_code ec;
        const std::size_t used = rp->put(uc.buffer.data(), ec);
        uc.buffer.consume(used);
        const std::size_t got = room - res.body().size;
        st.out.resize(base + got);
        appended += got;
        if (ec == http::error::need_more || (!ec && used == 0 && got == 0)) {
          need_input = true;  // e.g. half a chunk-size line: read before parsing again
        } else if (ec && ec != http::error::need_buffer) {
          mid_response_failure(ec);
          co_return false;
        } else {
          need_input = uc.buffer.size() == 0;
        }
      }
      if (appended == 0 && !rp->is_done()) continue;
      trace.rec.response_bytes += appended;
      if (rp->is_done()) st.out_end = true;
      sess_.resume(st.id);
      notify_writer();
    }
    st.out_end = true;
    sess_.resume(st.id);
    notify_writer();
    co_return upstream_keep_alive;
  }

  tls_stream& sock_;
  conn_ctx& cx_;
  net::any_io_executor ex_;
  h2::session sess_;
  std::unordered_map<std::int32_t, std::shared_ptr<h2_stream>> streams_;
  std::vector<std::shared_ptr<h2_stream>> ready_;
  net::steady_timer write_wake_;
  net::steady_timer tick_;
  std::size_t running_ = 0;
  bool reading_done_ = false;
  bool stop_reading_ = false;
  std::optional<clock::time_point> notice_at_;  ///< the graceful shutdown's notice went out
  bool goaway_sent_ = false;                    ///< its final GOAWAY went out
  bool write_failed_ = false;
  bool finished_ = false;
  clock::time_point last_activity_ = clock::now();
  std::optional<clock::time_point> writing_since_;
};

}  // namespace

awaitable<bool> serve_h2(tls_stream& client, conn_ctx& cx) {
  beast::get_lowest_layer(client).expires_never();  // the watchdog keeps the deadlines
  h2_conn conn(client, cx, co_await net::this_coro::executor);
  co_await conn.run();
  if (const auto code = conn.error_sent()) {
    log(log_level::info, "c", cx.id, " ", cx.client_ip, " HTTP/2 connection error ",
        nghttp2_http2_strerror(code), " (GOAWAY sent): closing");
    cx.rt->metrics->h2_connection_error(code);
    co_return true;
  }
  co_return false;
}

}  // namespace proxy
