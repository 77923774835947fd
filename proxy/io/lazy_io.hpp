// Reads and writes that hold no memory while they wait: a non-blocking try first, a wait for
// the socket only when it found nothing, and the read buffer's storage handed back
// (spare_buffers) for the wait. Every wait runs under the stream's deadline (arm_deadline).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <tuple>

#include "proxy/io/buffers.hpp"
#include "proxy/io/net.hpp"

namespace proxy {

inline constexpr std::size_t small_leftover = 512;  ///< few enough bytes to copy out before a wait

/// Before a wait for more bytes: `buf`'s storage goes back to `spares` when it holds
/// no bytes; when it holds a few (a chunk's CRLF, half a head), a buffer of just those remains.
inline void shed_storage(spare_buffers& spares, beast::flat_buffer& buf) {
  if (buf.size() == 0) {
    give_spare(spares, buf);
  } else if (buf.size() <= small_leftover && buf.capacity() > 4 * small_leftover) {
    beast::flat_buffer rest;
    net::buffer_copy(rest.prepare(buf.size()), buf.data());
    rest.commit(buf.size());
    buf.consume(buf.size());
    give_spare(spares, buf);
    buf = std::move(rest);
  }
}

/// The wait a non-blocking read that found nothing asks for before it is tried again: for the
/// socket to turn readable (would_block), or writable (in_progress: OpenSSL must write first,
/// which the next try does). None after any other outcome.
inline std::optional<net::socket_base::wait_type> wait_before_retry(const error_code& ec) {
  if (ec == net::error::would_block) return net::socket_base::wait_read;
  if (ec == net::error::in_progress) return net::socket_base::wait_write;
  return std::nullopt;
}

/// One non-blocking read of what has arrived on `s` into `buf` (at most `max` bytes): the bytes
/// read, or `ec` set. When it found nothing (wait_before_retry), `buf`'s storage is shed
/// (shed_storage) for the wait the caller makes before trying again.
template <class Stream>
std::size_t read_arrived(Stream& s, beast::flat_buffer& buf, std::size_t max, spare_buffers& spares,
                         error_code& ec) {
  take_spare(spares, buf);
  const std::size_t n = s.try_read_some(buf.prepare(max), ec);
  if (!ec)
    buf.commit(n);
  else if (wait_before_retry(ec))
    shed_storage(spares, buf);
  return n;
}

/// Reads what arrives on `s` into `buf` (at most `max` bytes) without holding memory while
/// nothing does: read_arrived, and while it finds nothing, a wait for the socket under the
/// stream's deadline. Where a wait can last minutes (an idle keep-alive connection, a
/// long-poll between PENDINGs) callers write this loop out in their own frame instead, so
/// that they hold no frame of this coroutine meanwhile.
template <class Stream>
awaitable<std::tuple<error_code, std::size_t>> read_some_lazily(Stream& s, beast::flat_buffer& buf,
                                                                std::size_t max,
                                                                spare_buffers& spares) {
  error_code ec;
  std::size_t n = read_arrived(s, buf, max, spares, ec);
  while (const auto w = wait_before_retry(ec)) {
    std::tie(ec) = co_await s.async_wait(*w, use_nothrow);
    if (!ec) n = read_arrived(s, buf, max, spares, ec);
  }
  co_return std::tuple{ec, n};
}

/// Writes what `s` takes of `bytes` at once (usually all of it: a response fits the socket
/// buffer), without a wait and without a coroutine: nothing is allocated, posted or resumed.
/// Returns the bytes written. `ec` is set when it stopped short: would_block (or in_progress:
/// OpenSSL must read first) when the rest must wait for the socket (wait_before_retry says so;
/// write_rest writes it), any other error when the write failed.
template <class Stream>
std::size_t write_now(Stream& s, net::const_buffer bytes, error_code& ec) {
  ec = {};
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t n = s.try_write_some(bytes + done, ec);
    if (ec) break;
    if (n == 0) {  // nothing taken, nothing said: wait as for a full socket
      ec = net::error::would_block;
      break;
    }
    done += n;
  }
  return done;
}

/// Writes the rest of `bytes` (from `done`, where write_now stopped because the socket was full)
/// once the socket takes it, under the stream's deadline. Returns the first failure and the
/// bytes written in all. A write goes as: write_now, then, only when wait_before_retry(ec),
/// `co_await write_rest`: the usual write that goes at once makes no coroutine frame.
template <class Stream>
awaitable<std::tuple<error_code, std::size_t>> write_rest(Stream& s, net::const_buffer bytes,
                                                          std::size_t done) {
  auto [ec, n] = co_await net::async_write(s, bytes + done, use_nothrow);
  co_return std::tuple{ec, done + n};
}

/// Re-arms the deadline of the next operation on `s` (Beast closes the stream when it passes).
template <class S>
void arm_deadline(S& s, std::chrono::milliseconds d) {
  beast::get_lowest_layer(s).expires_after(d);
}

}  // namespace proxy
