// Reading a backend's response head: interim 1xx skipped, nothing held while the backend has
// not answered.
#pragma once

#include <chrono>
#include <optional>

#include "proxy/io/lazy_io.hpp"
#include "proxy/io/net.hpp"
#include "proxy/upstream/pool.hpp"

namespace proxy {

inline constexpr std::size_t upstream_header_limit = 64 * 1024;  ///< a backend's response head

using upstream_parser = http::response_parser<http::buffer_body, field_allocator>;

/// Reads the backend's final response head into `rp`, skipping interim 1xx responses, each
/// under `idle`. A fresh parser for each head: the first keeps its fields in `fields` (the
/// request's arena), later ones on the heap, so that a backend sending 1xx heads without end
/// cannot grow the arena. While the backend has not answered (a long-poll: minutes) the
/// connection holds no buffer. Bytes already read are parsed in place, without an
/// asynchronous operation. The body is left to the caller (in uc.buffer, and on the wire):
/// streamed, never buffered, so the parser has no body limit. Errors as http::async_read_header
/// reports them: end_of_stream when the backend closed before sending a byte, partial_message
/// when it closed in the middle of a head. Call it once the request is sent: the answer cannot
/// have arrived yet, so it first waits for the socket instead of trying a read that would find
/// nothing (one system call per request fewer).
template <class Up>
awaitable<error_code> read_final_head(Up& up, upstream_conn& uc, std::optional<upstream_parser>& rp,
                                      std::chrono::milliseconds idle, spare_buffers& spares,
                                      field_allocator fields) {
  if (uc.buffer.size() == 0 && !up.holds_unread()) {
    arm_deadline(up, idle);
    give_spare(spares, uc.buffer);
    auto [ec] = co_await up.async_wait_readable(use_nothrow);
    if (ec) co_return ec;
  }
  for (bool first = true;; first = false) {
    if (first)
      rp.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(fields));
    else
      rp.emplace();
    rp->header_limit(upstream_header_limit);
    rp->body_limit(boost::none);
    arm_deadline(up, idle);
    while (!rp->is_header_done()) {
      if (uc.buffer.size() > 0) {
        error_code ec;
        const std::size_t used = rp->put(uc.buffer.data(), ec);
        uc.buffer.consume(used);
        if (ec && ec != http::error::need_more) co_return ec;
        if (!ec && used > 0) continue;  // the head is complete, or the start line was
      }
      auto [ec, n] = co_await read_some_lazily(up, uc.buffer, relay_chunk, spares);
      if (ec == net::error::eof) {
        if (!rp->got_some()) co_return http::error::end_of_stream;
        error_code eec;
        rp->put_eof(eec);
        co_return eec ? eec : error_code(http::error::partial_message);
      }
      if (ec) co_return ec;
    }
    const unsigned code = rp->get().result_int();
    if (code < 100 || code >= 200 || code == 101) co_return error_code{};
  }
}

}  // namespace proxy
