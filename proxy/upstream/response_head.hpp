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
using upstream_response = upstream_parser::value_type;  ///< a backend's response, as parsed

/// Reads the backend's final response head into `parser`, skipping interim 1xx responses, each
/// under `idle`. A fresh parser for each head: the first keeps its fields in `fields` (the
/// request's arena), later ones on the heap, so that a backend sending 1xx heads without end
/// cannot grow the arena. While the backend has not answered (a long-poll: minutes) the
/// connection holds no buffer. Bytes already read are parsed in place, without an
/// asynchronous operation. The body is left to the caller (in upstream.buffer, and on the wire):
/// streamed, never buffered, so the parser has no body limit. Errors as http::async_read_header
/// reports them: end_of_stream when the backend closed before sending a byte, partial_message
/// when it closed in the middle of a head. Call it once the request is sent: the answer cannot
/// have arrived yet, so it first waits for the socket instead of trying a read that would find
/// nothing (one system call per request fewer). `head_request`: the request was HEAD, so the
/// response ends with its head (RFC 9110 §9.3.2), whatever Content-Length it names.
template <class BackendStream>
awaitable<error_code> read_final_head(BackendStream& backend_stream, upstream_conn& upstream,
                                      std::optional<upstream_parser>& parser,
                                      std::chrono::milliseconds idle, spare_buffers& spares,
                                      field_allocator fields, bool head_request) {
  if (upstream.buffer.size() == 0 && !backend_stream.holds_unread()) {
    arm_deadline(backend_stream, idle);
    give_spare(spares, upstream.buffer);
    auto [ec] = co_await backend_stream.async_wait_readable(use_nothrow);
    if (ec) co_return ec;
  }
  for (bool first = true;; first = false) {
    if (first)
      parser.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(fields));
    else
      parser.emplace();
    parser->header_limit(upstream_header_limit);
    parser->skip(head_request);  // a response to HEAD has no body, whatever its fields say
    parser->body_limit(boost::none);
    arm_deadline(backend_stream, idle);
    while (!parser->is_header_done()) {
      if (upstream.buffer.size() > 0) {
        error_code ec;
        const std::size_t used = parser->put(upstream.buffer.data(), ec);
        upstream.buffer.consume(used);
        if (ec && ec != http::error::need_more) co_return ec;
        if (!ec && used > 0) continue;  // the head is complete, or the start line was
      }
      // read_some_lazily's loop, written out: no coroutine frame per response head.
      error_code ec;
      read_arrived(backend_stream, upstream.buffer, relay_chunk, spares, ec);
      while (const auto w = wait_before_retry(ec)) {
        std::tie(ec) = co_await backend_stream.async_wait(*w, use_nothrow);
        if (!ec) read_arrived(backend_stream, upstream.buffer, relay_chunk, spares, ec);
      }
      if (ec == net::error::eof) {
        if (!parser->got_some()) co_return http::error::end_of_stream;
        error_code eec;
        parser->put_eof(eec);
        co_return eec ? eec : error_code(http::error::partial_message);
      }
      if (ec) co_return ec;
    }
    const unsigned code = parser->get().result_int();
    if (code < 100 || code >= 200 || code == 101) co_return error_code{};
  }
}

}  // namespace proxy
