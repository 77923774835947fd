// The HTTP/1.1 side of a request's answer: local answers, and the Client seam of the one
// exchange (exchange/relay.hpp): the request body read from the client connection and sent to
// the backend, the response framed for HTTP/1.1 (re-chunked when the backend's length is not
// known) and written back.
#include "proxy/h1/forward.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "proxy/io/log.hpp"
#include "proxy/request/wire.hpp"

namespace proxy {

namespace {

constexpr std::size_t relay_batch = 64 * 1024;  ///< most response bytes framed per client write
constexpr std::size_t chunk_slot = 8 + 2;       ///< room for a chunk-size line (hex, CRLF)
static_assert(relay_chunk <= 0xffffffff, "a chunk's size must fit chunk_slot's 8 hex digits");

/// Largest refused request body mapigate reads and throws away to keep the connection open
/// (a client retrying a 401 on the same connection, as NTLM needs). Larger ones close it.
constexpr std::size_t discard_limit = 64 * 1024;

/// Reads and discards the rest of the body of a request mapigate refused, under
/// timeouts.body_idle. Returns false (the connection must close) when the body is larger than
/// discard_limit, or the client fails to send it.
template <class Stream>
awaitable<bool> discard_body(Stream& client, beast::flat_buffer& cbuf, request_parser& p,
                             const conn_ctx& conn) {
  if (p.is_done()) co_return true;
  if (p.content_length().value_or(discard_limit + 1) > discard_limit) co_return false;
  std::array<char, 4096> scratch;
  while (!p.is_done()) {
    p.get().body().data = scratch.data();
    p.get().body().size = scratch.size();
    arm_deadline(client, conn.rt->cfg->timeouts.body_idle);
    auto [ec, n] = co_await http::async_read(client, cbuf, p, use_nothrow);
    if (ec && ec != http::error::need_buffer) co_return false;
  }
  co_return true;
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
  client_watch(Stream& client, beast::flat_buffer& cbuf, std::size_t limit,
               upstream_conn& backend_stream, worker_state& worker)
      : st_(std::make_shared<state>(client, cbuf, limit, backend_stream, worker)) {
    ready(st_, {});
  }
  ~client_watch() {
    if (!st_) return;  // moved from
    st_->stopped = true;
    if (st_->waiting) beast::get_lowest_layer(st_->client).cancel();
  }
  client_watch(client_watch&&) noexcept = default;
  client_watch& operator=(client_watch&&) = delete;

  bool gone() const noexcept { return st_->gone; }

 private:
  struct state {
    state(Stream& c, beast::flat_buffer& b, std::size_t l, upstream_conn& u, worker_state& w)
        : client(c), cbuf(b), limit(l), backend_stream(u), worker(w) {}
    // Valid while !stopped: they outlive the watch object.
    Stream& client;
    beast::flat_buffer& cbuf;
    const std::size_t limit;
    upstream_conn& backend_stream;
    worker_state& worker;
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
      take_spare(st->worker.spares, st->cbuf);
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
      st->backend_stream.abort();
      beast::get_lowest_layer(st->client).cancel();  // a write blocked on the client, if any
      return;
    }
    if (st->cbuf.size() >= st->limit) return;  // a full pipelined head waits
    shed_storage(st->worker.spares, st->cbuf);
    st->waiting = true;
    beast::get_lowest_layer(st->client).core().wait(wait, [st](error_code wec) { ready(st, wec); });
  }

  std::shared_ptr<state> st_;
};

/// The Client seam of run_exchange for an HTTP/1.1 connection (see exchange/relay.hpp).
template <class Stream>
class h1_client {
 public:
  static constexpr bool can_bind = true;  ///< NTLM/Negotiate can authenticate this connection

  h1_client(Stream& client, beast::flat_buffer& cbuf, std::optional<request_parser>& parser,
            field_arena& arena, unsigned client_version, request_ctx& rq, const request_plan& plan)
      : client_(client),
        cbuf_(cbuf),
        parser_(parser),
        arena_(arena),
        rq_(rq),
        framing_(plan.body),
        version_(client_version),
        keep_alive_(plan.keep_alive) {}

  /// Sends the request head and its Content-Length body: the head and the body bytes already
  /// read go out in one write, the rest as it arrives (the body is never parsed: a body of
  /// unknown length was refused before; append_request_head refuses it again, and then nothing
  /// is sent: unframed_request_body()). Never more than the declared length. Nothing of `cbuf`
  /// is consumed while `sent` is 0, so the exchange may try another backend.
  template <class BackendStream>
  awaitable<error_code> send(BackendStream& backend_stream, std::size_t& sent) {
    std::uint64_t remaining = framing_.k == body_framing::kind::length ? framing_.length : 0;
    std::size_t now = std::min<std::uint64_t>(remaining, std::min(cbuf_.size(), relay_chunk));
    {
      wire_lease out(rq_.conn.worker.spares);
      if (!append_request_head(*out, parser_->get().base(), framing_))
        co_return unframed_request_body();
      append(*out, bytes_of(cbuf_).substr(0, now));
      arm_deadline(backend_stream, rq_.upstream_idle());
      error_code ec;
      const auto bytes = (*out).data();
      std::size_t n = write_now(backend_stream, bytes, ec);
      if (wait_before_retry(ec)) std::tie(ec, n) = co_await write_rest(backend_stream, bytes, n);
      sent += n;
      if (ec) co_return ec;
    }
    for (;;) {
      cbuf_.consume(now);
      remaining -= now;
      rq_.trace.rec.request_bytes += now;
      if (now > 0) body_ = h1_body::partly_read;
      if (remaining == 0) {
        body_ = h1_body::read;
        co_return error_code{};
      }
      if (cbuf_.size() == 0) {
        arm_deadline(client_, rq_.body_idle());
        auto [rec, rn] = co_await client_.async_read_some(
            cbuf_.prepare(std::min<std::uint64_t>(remaining, relay_chunk)), use_nothrow);
        if (rec) {
          failure_ =
              client_failure{rec == beast::error::timeout ? request_outcome::client_timeout
                                                          : request_outcome::client_disconnected,
                             rec == beast::error::timeout ? "request body idle timeout" : "", rec};
          co_return rec;
        }
        cbuf_.commit(rn);
      }
      now = std::min<std::uint64_t>(remaining, cbuf_.size());
      arm_deadline(backend_stream, rq_.upstream_idle());
      error_code wec;
      const auto bytes = net::buffer(cbuf_.data().data(), now);
      std::size_t wn = write_now(backend_stream, bytes, wec);
      if (wait_before_retry(wec))
        std::tie(wec, wn) = co_await write_rest(backend_stream, bytes, wn);
      sent += wn;
      if (wec) co_return wec;
    }
  }

  /// The request went out whole and is not read again (retries end once a byte is sent): a
  /// response held for minutes gives its fields' memory back to the worker meanwhile.
  void release_request() {
    parser_.reset();
    arena_.release();
  }
  field_allocator fields() { return arena_.allocator(); }
  tls_conn* tls() {
    if constexpr (std::is_same_v<Stream, tls_conn>)
      return &client_;
    else
      return nullptr;
  }

  /// While the response is awaited and streamed the client's deadline is the exchange's; a
  /// held response also watches the client, so that one that leaves a long-poll frees its
  /// backend connection at once.
  void watch(upstream_conn& upstream, bool held) {
    beast::get_lowest_layer(client_).expires_never();
    if (held)
      watch_.emplace(client_, cbuf_, rq_.conn.rt->cfg->limits.header_bytes, upstream,
                     rq_.conn.worker);
  }
  void unwatch() {
    if (watch_ && watch_->gone() && !failure_) failure_ = client_failure{};
    watch_.reset();
  }
  bool gone() const { return failure_ || (watch_ && watch_->gone()); }
  std::optional<client_failure> failure() const {
    if (!failure_ && watch_ && watch_->gone()) return client_failure{};
    return failure_;
  }

  /// Frames the head into the first write: HTTP/1.1, the client's keep-alive; a body of unknown
  /// length (chunked or close-delimited at the backend) is re-chunked, one chunk per backend
  /// read, or, for an HTTP/1.0 client, delimited by the close.
  /// Requires `res` without Transfer-Encoding and Connection (strip_hop_by_hop took them out):
  /// what framing and persistence say is only what is set here, without a search of its fields.
  bool head(upstream_response& res, bool has_body, bool length_known) {
    res.version(11);
    chunked_ = has_body && !length_known && version_ >= 11;
    if (has_body && !length_known && version_ < 11) keep_alive_ = false;  // the close ends it
    if (chunked_) res.insert(http::field::transfer_encoding, "chunked");
    if (!keep_alive_) res.insert(http::field::connection, "close");
    take_spare(rq_.conn.worker.spares, wire_);
    append_head(wire_, res);
    return true;
  }
  bool has_room() const { return wire_.size() < relay_batch; }
  awaitable<bool> wait_room() { co_return true; }  // flush() empties the batch
  net::mutable_buffer prepare(std::size_t n) {
    take_spare(rq_.conn.worker.spares, wire_);
    const std::size_t slot = chunked_ ? chunk_slot : 0;
    at_ = static_cast<char*>(wire_.prepare(slot + n + 2).data());
    return {at_ + slot, n};
  }
  void commit(std::size_t got) {
    if (got == 0 || !chunked_) {
      wire_.commit(got);
      return;
    }
    // "<hex size>\r\n" right before the data, then the chunk's closing CRLF.
    char line[chunk_slot];
    auto* end = std::to_chars(line, line + chunk_slot - 2, got, 16).ptr;
    std::memcpy(end, "\r\n", 2);
    const auto len = static_cast<std::size_t>(end + 2 - line);
    std::memmove(at_ + len, at_ + chunk_slot, got);
    std::memcpy(at_, line, len);
    std::memcpy(at_ + len + got, "\r\n", 2);
    wire_.commit(len + got + 2);
  }
  /// Writes the batch (the head and every body byte read so far) in one write, under
  /// timeouts.client_write; the buffer goes back to the worker's spares while the exchange
  /// waits for the backend again.
  awaitable<bool> flush(bool last) {
    if (last && chunked_) append(wire_, "0\r\n\r\n");
    if (wire_.size() == 0) co_return true;
    arm_deadline(client_, rq_.conn.rt->cfg->timeouts.client_write);
    error_code ec;
    std::size_t n = write_now(client_, wire_.data(), ec);
    if (wait_before_retry(ec)) std::tie(ec, n) = co_await write_rest(client_, wire_.data(), n);
    give_spare(rq_.conn.worker.spares, wire_);
    if (ec) failure_ = client_failure{request_outcome::client_disconnected, "", ec};
    co_return !ec;
  }
  /// The client learns that the body broke off by the close (a chunked body lacks its end, a
  /// Content-Length one its bytes).
  void abort_response() { keep_alive_ = false; }
  bool keep_alive() const { return keep_alive_; }

  awaitable<request_end> reply(boxed_reply res) {
    return answer(client_, cbuf_, parser_ ? &*parser_ : nullptr, body_, std::move(res), rq_);
  }

 private:
  Stream& client_;
  beast::flat_buffer& cbuf_;
  std::optional<request_parser>& parser_;
  field_arena& arena_;
  request_ctx& rq_;
  body_framing framing_;
  unsigned version_;
  bool keep_alive_;
  bool chunked_ = false;
  h1_body body_ = h1_body::unread;
  std::optional<client_failure> failure_;
  std::optional<client_watch<Stream>> watch_;
  beast::flat_buffer wire_;  ///< the batch being framed; storage only while it holds bytes
  char* at_ = nullptr;       ///< where prepare() put the chunk slot
};

}  // namespace

template <class Stream>
awaitable<request_end> answer(Stream& client, beast::flat_buffer& cbuf, request_parser* p,
                              h1_body body, boxed_reply reply, request_ctx& rq) {
  bool keep = reply->keep_alive();
  bool body_left = false;  // request body bytes the client may still send
  switch (body) {
    case h1_body::unread:
      if (p && !p->is_done()) {
        const bool expects_continue = p->get().find(http::field::expect) != p->get().end();
        bool dropped = false;
        if (keep && !expects_continue) dropped = co_await discard_body(client, cbuf, *p, rq.conn);
        if (!dropped) {
          keep = false;
          body_left = true;
        }
      }
      break;
    case h1_body::read:
      break;
    case h1_body::partly_read:
      keep = false;
      body_left = true;
      break;
  }
  if (!keep) reply->keep_alive(false);
  stamp_local_reply(rq, *reply);
  arm_deadline(client, rq.conn.rt->cfg->timeouts.client_write);
  auto [ec, n] = co_await http::async_write(client, *reply, use_nothrow);
  record_local_reply(rq, *reply, !ec);
  if (ec) co_return request_end::close;
  if (!keep) co_return body_left ? request_end::linger : request_end::close;
  co_return request_end::next;
}

template <class Stream>
awaitable<request_end> forward_request(Stream& client, beast::flat_buffer& cbuf,
                                       std::optional<request_parser>& parser, field_arena& arena,
                                       unsigned client_version, request_ctx& rq,
                                       const request_plan& plan) {
  return run_exchange(rq, h1_client<Stream>(client, cbuf, parser, arena, client_version, rq, plan),
                      plan);
}

#define MAPIGATE_H1_FORWARD(Stream)                                                             \
  template awaitable<request_end> answer<Stream>(Stream&, beast::flat_buffer&, request_parser*, \
                                                 h1_body, boxed_reply, request_ctx&);           \
  template awaitable<request_end> forward_request<Stream>(                                      \
      Stream&, beast::flat_buffer&, std::optional<request_parser>&, field_arena&, unsigned,     \
      request_ctx&, const request_plan&);
MAPIGATE_H1_FORWARD(tcp_conn)
MAPIGATE_H1_FORWARD(tls_conn)
#undef MAPIGATE_H1_FORWARD

}  // namespace proxy
