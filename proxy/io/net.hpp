// Asio/Beast aliases and the completion token the data path uses. Include only from proxy/
// .cpp files and proxy-internal headers: every includer pays Asio's compile cost.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "proxy/io/field_arena.hpp"
#include "proxy/io/stream.hpp"

namespace proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// Expected network outcomes come back as (error_code, …) tuples, never as exceptions.
/// Boost 1.81 lacks the bare `as_tuple` token (Asio 1.31): this alias is the one line to change.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

template <class T>
using awaitable = net::awaitable<T>;

}  // namespace proxy
