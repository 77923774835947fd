// The HTTP/1.1 side of a request's answer: a local answer written in HTTP/1.1, and the forward
// to a backend through the one exchange (exchange/relay.hpp).
#pragma once

#include <optional>

#include "proxy/exchange/relay.hpp"
#include "proxy/h1/request_parser.hpp"
#include "proxy/io/net.hpp"
#include "proxy/request/context.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/policy.hpp"

namespace proxy {

/// What became of a request's body on the client connection, for an answer that follows.
enum class h1_body {
  unread,       ///< none of it was read (the parser knows the rest): a small one can be dropped
  read,         ///< all of it was read (sent to a backend): the connection can go on
  partly_read,  ///< some of it went to a backend: the rest may still come, the connection closes
};

/// Writes `reply`, an answer mapigate gives itself, under timeouts.client_write, and records it
/// in rq.trace. Where `reply` lets the connection go on but the body is unread, a small body
/// (discard_limit) is read and dropped first, so the connection survives the answer (a client
/// retrying a 401 on the same connection, as NTLM needs); a client waiting for 100 Continue
/// sends none: the connection closes instead of waiting for it. Returns how the connection goes
/// on: linger when body bytes may still come. `p`: the request's parser, null once released.
template <class Stream>
awaitable<request_end> answer(Stream& client, beast::flat_buffer& cbuf, request_parser* p,
                              h1_body body, boxed_reply reply, request_ctx& rq);

/// Forwards the request `plan` prepared (its head parsed by `parser`, its body still in `cbuf`
/// and on the wire) through run_exchange, and streams the response back framed for an HTTP/1.1
/// (or 1.0: `client_version`) client. `parser` holds the request, its fields allocated from
/// `arena`, which the response's fields use too; a response that may be held long is awaited
/// and streamed holding neither (run_exchange releases them once the request is sent).
/// Defined for tcp_conn and tls_conn.
template <class Stream>
awaitable<request_end> forward_request(Stream& client, beast::flat_buffer& cbuf,
                                       std::optional<request_parser>& parser, field_arena& arena,
                                       unsigned client_version, request_ctx& rq,
                                       const request_plan& plan);

}  // namespace proxy
