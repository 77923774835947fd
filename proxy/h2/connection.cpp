// HTTP/2 connection: one reader, one writer, a watchdog, and one coroutine per stream, all on
// the connection's worker. Streams wait on their own timer; nothing blocks the others.
#include "proxy/h2/connection.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "metrics/labels.hpp"
#include "proxy/exchange/relay.hpp"
#include "proxy/h2/codec.hpp"
#include "proxy/io/buffers.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/header_rewrite.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/outcome.hpp"
#include "proxy/request/policy.hpp"
#include "proxy/request/wire.hpp"
#include "proxy/upstream/response_head.hpp"
#include "routing/auth_policy.hpp"
#include "routing/mapi_codes.hpp"
#include "routing/pox.hpp"
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

/// One stream. Its two byte buffers are a worker's spare buffers, borrowed while bytes are in
/// them (buffers.hpp): a stream waiting for its backend holds neither.
struct h2_stream {
  std::int32_t id;
  h2::header_list headers;  ///< released once the request head is built from it
  bool too_large = false;
  /// HEADERS came without END_STREAM: the request has a body (DATA, even an empty one), decided
  /// once from that frame, however the frames were split across reads.
  bool has_body = false;
  beast::flat_buffer body_in;  ///< request body bytes not yet sent to the backend
  bool end_in = false;         ///< the client ended its side
  beast::flat_buffer out;      ///< response bytes not yet taken by nghttp2
  bool out_end = false;        ///< the whole response body is in `out`
  bool closed = false;         ///< the stream is gone (reset, completed, session ended)
  bool responded = false;
  bool discard_body = false;          ///< answered without reading the body: drop what still comes
  upstream_conn* upstream = nullptr;  ///< while relaying: aborted if the stream closes
  net::steady_timer wake;             ///< the stream coroutine waits here

  h2_stream(std::int32_t i, const net::any_io_executor& ex)
      : id(i), wake(ex, clock::time_point::max()) {}
  std::size_t out_pending() const { return out.size(); }
};

/// A byte buffer as the codec's output.
class flat_output final : public h2::output {
 public:
  explicit flat_output(beast::flat_buffer& b) : b_(b) {}
  char* prepare(std::size_t n) override { return static_cast<char*>(b_.prepare(n).data()); }
  void commit(std::size_t n) override { b_.commit(n); }
  std::size_t size() const override { return b_.size(); }

 private:
  beast::flat_buffer& b_;
};

class h2_conn final : public h2::events {
 public:
  h2_conn(tls_conn& s, conn_ctx& conn, const net::any_io_executor& ex)
      : sock_(s),
        conn_(conn),
        ex_(ex),
        codec_(*this, settings_for(conn)),
        write_wake_(ex, clock::time_point::max()),
        tick_(ex) {}

  awaitable<void> run() { co_await (reader() && writer() && watchdog()); }
  /// After run(): the error code of the GOAWAY that ended the session on a connection error
  /// (0: none; it ended normally).
  std::uint32_t error_sent() const noexcept { return codec_.error_sent(); }

  // ---- h2::events ----
  void on_request(std::int32_t id, h2::header_list headers, bool end_stream,
                  bool too_large) override {
    auto st = std::make_shared<h2_stream>(id, ex_);
    st->headers = std::move(headers);
    st->end_in = end_stream;
    st->has_body = !end_stream;
    st->too_large = too_large;
    if (auto it = stream_at(id); it != streams_.end() && it->first == id)
      it->second = st;
    else
      streams_.emplace(it, id, st);   // at the end: a client's new stream ids only grow
    ready_.push_back(std::move(st));  // started after receive() returns, outside nghttp2
  }
  void on_data(std::int32_t id, std::string_view data) override {
    if (auto* st = find(id); st && !st->discard_body) {
      take_spare(spares(), st->body_in);
      append(st->body_in, data);
      st->wake.cancel();
    } else {
      codec_.consume(id, data.size());  // nobody wants it: keep the connection window open
    }
  }
  void on_end_stream(std::int32_t id) override {
    if (auto* st = find(id)) {
      st->end_in = true;
      st->wake.cancel();
    }
  }
  void on_stream_close(std::int32_t id, std::uint32_t) override {
    auto it = stream_at(id);
    if (it == streams_.end() || it->first != id) return;
    auto& st = *it->second;
    st.closed = true;
    if (st.upstream) st.upstream->abort();  // the client left: so does the backend request
    st.wake.cancel();
    streams_.erase(it);
  }
  std::ptrdiff_t body_ready(std::int32_t id, std::size_t n, bool& eof) override {
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
    eof = take == avail && st->out_end;
    return static_cast<std::ptrdiff_t>(take);
  }
  void take_body(std::int32_t id, std::size_t n, h2::output& out) override {
    auto* st = find(id);
    if (!st || st->out_pending() < n) {   // cannot happen: body_ready said so just before
      std::memset(out.prepare(n), 0, n);  // keep the frame whole
      out.commit(n);
      return;
    }
    out.append(bytes_of(st->out).substr(0, n));
    st->out.consume(n);
    if (st->out.size() == 0) give_spare(spares(), st->out);
    st->wake.cancel();  // room again below the high-water mark
  }

 private:
  static h2::settings settings_for(const conn_ctx& conn) {
    h2::settings s;
    s.max_concurrent_streams = conn.rt->cfg->limits.h2_max_concurrent_streams;
    s.max_header_list = static_cast<std::uint32_t>(conn.rt->cfg->limits.header_bytes);
    return s;
  }

  using stream_entry = std::pair<std::int32_t, std::shared_ptr<h2_stream>>;
  /// Where stream `id` is in streams_, or would go (the first entry not below it).
  std::vector<stream_entry>::iterator stream_at(std::int32_t id) {
    return std::lower_bound(streams_.begin(), streams_.end(), id,
                            [](const stream_entry& e, std::int32_t v) { return e.first < v; });
  }
  h2_stream* find(std::int32_t id) {
    auto it = stream_at(id);
    return it == streams_.end() || it->first != id ? nullptr : it->second.get();
  }
  void notify_writer() { write_wake_.cancel(); }
  spare_buffers& spares() { return conn_.worker.spares; }
  /// Waits until something for stream `st` happened (data, room, close), at most `limit`;
  /// false when nothing happened in that time.
  awaitable<bool> wait_for(h2_stream& st, std::chrono::milliseconds limit) {
    st.wake.expires_after(limit);
    auto [ec] = co_await st.wake.async_wait(use_nothrow);
    co_return ec == net::error::operation_aborted;  // woken, not expired
  }

  awaitable<void> reader() {
    std::array<std::uint8_t, 16 * 1024> buf;
    while (codec_.want_read() && !stop_reading_) {
      auto [ec, n] = co_await sock_.async_read_some(net::buffer(buf), use_nothrow);
      if (ec) break;
      last_activity_ = coarse_now();
      const bool ok = codec_.receive({buf.data(), n});
      for (auto& st : ready_) {
        // Counted from here, not from when it starts: the connection must outlive a stream
        // coroutine that is spawned but not yet running.
        ++running_;
        net::co_spawn(ex_, handle(std::move(st)), on_coroutine_exit{conn_.rt, true, conn_.id});
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
      if (!write_failed_) {
        wire_lease out(spares());  // held while its bytes are written, not while waiting
        flat_output sink(*out);
        codec_.take_output(sink);
        if ((*out).size() > 0) {
          writing_since_ = coarse_now();
          error_code ec;
          const auto bytes = (*out).data();
          std::size_t n = write_now(sock_, bytes, ec);
          if (wait_before_retry(ec)) std::tie(ec, n) = co_await write_rest(sock_, bytes, n);
          writing_since_.reset();
          if (ec) {
            write_failed_ = true;
            error_code ignored;
            beast::get_lowest_layer(sock_).socket().close(ignored);  // the reader learns it too
          }
          stop_reading_if_over();
          continue;
        }
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
    if (stop_reading_ || reading_done_ || codec_.want_read()) return;
    stop_reading_ = true;
    error_code ignored;
    beast::get_lowest_layer(sock_).socket().cancel(ignored);  // ends the pending read
  }

  /// Every 100 ms: drain, reload or idle (GOAWAY), a stalled write (close), and closing the
  /// read side once a GOAWAY'd connection has no stream left.
  awaitable<void> watchdog() {
    const auto& t = conn_.rt->cfg->timeouts;
    while (!finished_) {
      tick_.expires_after(watchdog_tick);
      co_await tick_.async_wait(use_nothrow);
      if (finished_) break;
      const auto now = coarse_now();
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
      const bool reloaded = conn_.worker.current != conn_.rt;
      if (!notice_at_ &&
          (conn_.worker.draining || reloaded ||
           (streams_.empty() && running_ == 0 && now - last_activity_ > t.keepalive_idle))) {
        codec_.shutdown_notice();
        notice_at_ = now;
        notify_writer();
      }
      if (notice_at_ && !goaway_sent_ && now - *notice_at_ >= goaway_notice_wait) {
        codec_.goaway(NGHTTP2_NO_ERROR);
        goaway_sent_ = true;
        notify_writer();
      }
      if (goaway_sent_ && running_ == 0 && !codec_.want_write() && !writing_since_ &&
          !stop_reading_) {
        stop_reading_ = true;
        error_code ignored;
        beast::get_lowest_layer(sock_).socket().cancel(ignored);  // ends the pending read
      }
    }
  }

  /// Sends a response mapigate made itself on stream `st`, and records it.
  void respond(h2_stream& st, boxed_reply res, request_ctx& rq) {
    stamp_local_reply(rq, *res);
    record_local_reply(rq, *res, !st.closed);
    if (st.closed) return;
    discard_rest(st);
    if (!res->body().empty()) {
      take_spare(spares(), st.out);
      append(st.out, res->body());
    }
    st.out_end = true;
    st.responded = true;
    codec_.submit_response(st.id, res->result_int(), h2_headers(*res), st.out.size() > 0);
    notify_writer();
  }

  /// The request body will not be read: give back its flow-control credit now and for what
  /// still arrives, so the client is never stuck on a window that will not open.
  void discard_rest(h2_stream& st) {
    st.discard_body = true;
    codec_.consume(st.id, st.body_in.size());
    st.body_in.consume(st.body_in.size());
    give_spare(spares(), st.body_in);
  }

  /// HTTP/1.1 response fields as HTTP/2 headers, viewing `res` (nghttp2 copies them and
  /// lower-cases the names); connection-specific ones dropped (strip_hop_by_hop already
  /// removed the rest). In the thread's list, valid until the next call: for one
  /// submit_response (the list keeps its storage, so a response allocates nothing here).
  template <class Fields>
  static std::span<const h2::field_view> h2_headers(const http::response_header<Fields>& res) {
    static thread_local std::vector<h2::field_view> out;
    if (out.capacity() > h2::kept_fields) std::vector<h2::field_view>().swap(out);
    out.clear();
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
    request_ctx rq(conn_);
    rq.trace.add_info("Http2", "true");

    // The request head, as HTTP/1.1 fields, in the stream's arena (the response's fields too).
    field_arena arena(conn_.worker.field_arena_blocks);
    request_message req(std::piecewise_construct, std::make_tuple(),
                        std::make_tuple(arena.allocator()));
    std::string_view method, path, authority, cookie;  // views into st.headers
    std::string crumbs;  // the cookie, when it came in more than one field
    // The first Host and Content-Length (names are lower-case in HTTP/2: nghttp2 refuses
    // others), views into st.headers too: taken in this walk, not searched for in `req` after it.
    std::optional<std::string_view> host, length;
    std::uint64_t head_bytes = 0;
    for (const auto h : st.headers) {
      head_bytes += h.name.size() + h.value.size() + 4;
      if (h.name == ":method") {
        method = h.value;
      } else if (h.name == ":path") {
        path = h.value;
      } else if (h.name == ":authority") {
        authority = h.value;
      } else if (h.name == "cookie") {
        // RFC 9113 §8.2.3: cookie crumbs become one field, joined with "; ", for HTTP/1.1.
        if (cookie.empty()) {
          cookie = h.value;
        } else {
          if (crumbs.empty()) crumbs = cookie;
          crumbs.append("; ").append(h.value);
          cookie = crumbs;
        }
      } else if (!h.name.empty() && h.name[0] != ':') {
        if (h.name == "host") {
          if (!host) host = h.value;
        } else if (h.name == "content-length") {
          if (!length) length = h.value;
        }
        req.insert(h.name, h.value);
      }
    }
    if (!cookie.empty()) req.insert(http::field::cookie, cookie);
    rq.trace.rec.request_bytes = head_bytes;
    // What only HTTP/2 can get wrong in a head (nghttp2 checked the rest): refused here.
    auto bad_head = [&](int code, std::string_view why) {
      rq.trace.add_error(why);
      end_request(rq, request_outcome::refused);
      respond(st, box([&] { return make_error(code, why, false); }), rq);
    };
    if (st.too_large) co_return bad_head(431, "request header fields too large");
    if (method.empty() || path.empty() || path.front() != '/')
      co_return bad_head(400, "malformed request head");
    req.method_string(method);
    req.target(path);
    req.version(11);
    if (!authority.empty()) {
      if (!host)
        req.set(http::field::host, authority);
      else if (!beast::iequals(*host, authority))
        co_return bad_head(400, ":authority and Host differ");
    }
    // The body, as HEADERS declared it (nghttp2 holds the DATA frames to content-length and
    // resets the stream when they differ).
    request_input input{.multiplexed = true,
                        .keep_alive = true,
                        .body = h2_body_framing(!st.has_body, length),
                        .head_method = req.method() == http::verb::head};
    st.headers = {};  // all of it is in `req` now: a held long-poll keeps none of it
    std::optional<std::string> body_email;
    if (const auto want = body_first(conn_, req, input)) {
      // Autodiscover's anchor is in its small body (within the stream's window): wait for all
      // of it. It stays in body_in, from where the exchange sends it as any body.
      while (!st.end_in && !st.closed && st.body_in.size() <= *want) {
        if (!co_await wait_for(st, conn_.rt->cfg->timeouts.body_idle)) {
          end_request(rq, request_outcome::client_timeout, "request body idle timeout");
          codec_.reset(st.id, NGHTTP2_CANCEL);
          notify_writer();
          co_return;
        }
      }
      if (st.closed) {
        end_request(rq, request_outcome::client_disconnected);
        co_return;
      }
      body_email = routing::pox_email_address(bytes_of(st.body_in));
      if (body_email) input.body_email = *body_email;
    }
    auto plan = plan_request(rq, req, input);
    switch (plan.next) {
      case request_plan::step::reply:
        respond(st, std::move(plan.reply), rq);
        co_return;
      case request_plan::step::retry_on_http11:
        codec_.reset(st.id, NGHTTP2_HTTP_1_1_REQUIRED);
        notify_writer();
        co_return;
      case request_plan::step::forward:
        break;
    }
    if (plan.send_continue) {
      codec_.submit_continue(st.id);
      notify_writer();
    }
    co_await run_exchange(rq, stream_client(*this, st, req, arena, rq, plan), plan);
  }

  /// The Client seam of run_exchange for one HTTP/2 stream (see exchange/relay.hpp): the body
  /// comes from the stream's DATA (flow control follows the backend), the response goes to
  /// nghttp2 through the stream's `out` (flow control towards the client holds the backend
  /// read back, not mapigate's memory).
  class stream_client {
   public:
    static constexpr bool can_bind = false;  ///< streams share the connection

    stream_client(h2_conn& owner, h2_stream& st, request_message& req, field_arena& arena,
                  request_ctx& rq, const request_plan& plan)
        : owner_(owner), st_(st), req_(req), arena_(arena), rq_(rq), framing_(plan.body) {}

    /// Sends the request head and its body: the head and the body bytes already received go
    /// out in one write, the rest as it comes; never more bytes than declared. The request
    /// becomes complete at the backend only once the client has ended its stream with exactly
    /// that many: the body's last byte (or, for an empty body, the head) is held back until
    /// END_STREAM. So a body that turns out longer or shorter than declared, in whatever
    /// pieces it came, never reaches the backend as a complete request: the stream is reset
    /// (nghttp2 enforces the length too) and the send fails, so the backend connection,
    /// holding an unfinished request, is closed and never used again. Nothing is sent for a
    /// stream already closed, nor a head that does not frame its body (unframed_request_body()).
    /// Bytes leave body_in only once written: a send that failed before its first byte can be
    /// made again, whole, to another backend.
    template <class BackendStream>
    awaitable<error_code> send(BackendStream& backend_stream, std::size_t& sent) {
      auto& st = st_;
      const std::uint64_t declared = framing_.k == body_framing::kind::length ? framing_.length : 0;
      std::uint64_t body_bytes = 0;
      bool head = true;
      for (;;) {
        if (st.closed) co_return net::error::operation_aborted;
        const std::uint64_t have = body_bytes + st.body_in.size();
        if (have > declared) {
          reset_for_framing("request body longer than its content-length");
          co_return net::error::operation_aborted;
        }
        if (st.end_in && have < declared) {
          reset_for_framing("request body shorter than its content-length");
          co_return net::error::operation_aborted;
        }
        // What may go now: everything once the stream has ended; before, all but a last byte.
        const bool last_held = !st.end_in && have == declared;
        const std::size_t ready = st.body_in.size() - (last_held && st.body_in.size() > 0 ? 1 : 0);
        const bool head_ready = head && !(last_held && declared == 0);
        if (head_ready || ready > 0) {
          wire_lease out(rq_.conn.worker.spares);
          if (head_ready && !append_request_head(*out, req_.base(), framing_))
            co_return unframed_request_body();
          append(*out, bytes_of(st.body_in).substr(0, ready));
          arm_deadline(backend_stream, rq_.upstream_idle());
          error_code wec;
          const auto bytes = (*out).data();
          std::size_t wn = write_now(backend_stream, bytes, wec);
          if (wait_before_retry(wec))
            std::tie(wec, wn) = co_await write_rest(backend_stream, bytes, wn);
          sent += wn;
          if (wec) co_return wec;
          head = head && !head_ready;
          st.body_in.consume(ready);  // more may have come in while the write ran
          if (st.body_in.size() == 0) give_spare(owner_.spares(), st.body_in);
          if (ready > 0) {
            body_bytes += ready;
            rq_.trace.rec.request_bytes += ready;
            // Only now may the client send this much more (flow control follows the backend).
            owner_.codec_.consume(st.id, ready);
            owner_.notify_writer();
          }
        }
        if (!head && st.end_in && st.body_in.size() == 0) co_return error_code{};
        // Wait for more of the body, its end, or the stream's close.
        const std::size_t waiting = st.body_in.size();
        while (st.body_in.size() == waiting && !st.end_in && !st.closed) {
          const bool woken = co_await owner_.wait_for(st, rq_.body_idle());
          if (!woken) stall("request body idle timeout");
        }
      }
    }

    void release_request() {}  // the stream's head stays until the stream ends
    field_allocator fields() { return arena_.allocator(); }
    tls_conn* tls() { return &owner_.sock_; }
    /// The stream's close (reset, the connection's end) aborts the backend exchange.
    void watch(upstream_conn& upstream, bool) { st_.upstream = &upstream; }
    void unwatch() { st_.upstream = nullptr; }
    bool gone() const { return st_.closed; }
    std::optional<client_failure> failure() const { return failure_; }

    bool head(upstream_response& res, bool has_body, bool) {
      if (st_.closed) return false;
      owner_.codec_.submit_response(st_.id, int(res.result_int()), h2_headers(res), has_body);
      st_.responded = true;
      owner_.notify_writer();
      return true;
    }
    bool has_room() const { return st_.out_pending() < out_high_water; }
    /// Waits, under timeouts.client_write, until the client's flow control took enough of the
    /// response; a client that takes nothing in that time loses its stream (CANCEL).
    /// (A block and a named result, on purpose: GCC 12 miscompiled the one-statement form
    /// `while (c) if (!co_await f()) g();` here: the frame trapped on its first resume.)
    awaitable<bool> wait_room() {
      const auto limit = rq_.conn.rt->cfg->timeouts.client_write;
      while (!has_room() && !st_.closed) {
        const bool woken = co_await owner_.wait_for(st_, limit);
        if (!woken) stall("client took no response data (flow control) in time");
      }
      co_return !st_.closed;
    }
    net::mutable_buffer prepare(std::size_t n) {
      take_spare(owner_.spares(), st_.out);
      return st_.out.prepare(n);
    }
    void commit(std::size_t got) {
      st_.out.commit(got);
      if (st_.out.size() == 0) give_spare(owner_.spares(), st_.out);
    }
    awaitable<bool> flush(bool last) {
      if (st_.closed) co_return false;
      if (last) st_.out_end = true;
      owner_.codec_.resume(st_.id);
      owner_.notify_writer();
      co_return true;
    }
    /// The body broke off: the stream is reset, so the client does not take it as complete.
    void abort_response() {
      if (!st_.closed) owner_.codec_.reset(st_.id, NGHTTP2_INTERNAL_ERROR);
      owner_.notify_writer();
    }
    bool keep_alive() const { return true; }
    awaitable<request_end> reply(boxed_reply res) {
      owner_.respond(st_, std::move(res), rq_);
      co_return request_end::next;
    }

   private:
    /// A client that stalls its stream (no body, no window) loses it, not the backend
    /// connection.
    void stall(std::string_view why) {
      failure_ = client_failure{request_outcome::client_timeout, why};
      st_.closed = true;
      owner_.codec_.reset(st_.id, NGHTTP2_CANCEL);
      owner_.notify_writer();
    }
    /// The client's DATA did not match the declared length: the stream ends (PROTOCOL_ERROR,
    /// as RFC 9113 §8.1.1 asks) and so does the backend request it was feeding.
    void reset_for_framing(std::string_view why) {
      rq_.trace.add_error(why);
      failure_ = client_failure{request_outcome::refused, why};
      st_.closed = true;
      owner_.codec_.reset(st_.id, NGHTTP2_PROTOCOL_ERROR);
      owner_.notify_writer();
    }

    h2_conn& owner_;
    h2_stream& st_;
    request_message& req_;
    field_arena& arena_;
    request_ctx& rq_;
    body_framing framing_;
    std::optional<client_failure> failure_;
  };

  tls_conn& sock_;
  conn_ctx& conn_;
  net::any_io_executor ex_;
  h2::codec codec_;
  /// The open streams by id: at most limits.h2_max_concurrent_streams (1,000 at most) and
  /// usually one or two. A sorted vector, searched by halves, which keeps its storage, rather
  /// than a hash map that allocates a node for every stream.
  std::vector<stream_entry> streams_;
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
  clock::time_point last_activity_ = coarse_now();  ///< idle and stall times: coarse
  std::optional<clock::time_point> writing_since_;
};

}  // namespace

awaitable<bool> serve_h2(tls_conn& client, conn_ctx& conn) {
  beast::get_lowest_layer(client).expires_never();  // the watchdog keeps the deadlines
  h2_conn connection(client, conn, co_await net::this_coro::executor);
  co_await connection.run();
  if (const auto code = connection.error_sent()) {
    log_client_caused(log_level::info, "c", conn.id, " ", conn.client_ip,
                      " HTTP/2 connection error ", nghttp2_http2_strerror(code),
                      " (GOAWAY sent): closing");
    conn.rt->metrics->h2_connection_error(code);
    co_return true;
  }
  co_return false;
}

}  // namespace proxy
