// MAPI/HTTP request handling of a simulated connection: session contexts and streamed responses.
#include <boost/beast/http/field.hpp>

// GCC 12 inlines Asio's awaitable frame operator new (aligned_alloc) into the coroutine and then
// reports the matching frame operator delete as "mismatched" — a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "tools/sim/connection.hpp"

namespace sim::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::string header_value(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(trim(it->value()));
}

std::string_view cookie_path(endpoint_kind endpoint) {
  return endpoint == endpoint_kind::emsmdb ? "/mapi/emsmdb/" : "/mapi/nspi/";
}

/// Releases what a running request holds on its context (busy flag or NotificationWait count)
/// and refreshes the idle timer, also when the coroutine ends early or is destroyed.
class context_claim {
 public:
  context_claim(session_store& store, std::shared_ptr<session_context> context, bool wait)
      : store_(store), context_(std::move(context)), wait_(wait) {
    if (wait_) {
      ++context_->waits;
    } else {
      context_->busy = true;
    }
  }
  ~context_claim() {
    if (wait_) {
      --context_->waits;
    } else {
      context_->busy = false;
    }
    store_.touch(*context_);
  }
  context_claim(const context_claim&) = delete;
  context_claim& operator=(const context_claim&) = delete;

 private:
  session_store& store_;
  std::shared_ptr<session_context> context_;
  bool wait_;
};

}  // namespace

net::awaitable<bool> connection::handle_mapi(request& req, request_record& record,
                                             endpoint_kind endpoint, bool keep_alive) {
  mapi_echo echo{header_value(req, "X-RequestType"), header_value(req, "X-RequestId"),
                 header_value(req, "X-ClientInfo")};
  if (req.method() == http::verb::get) {
    // As Exchange: an authenticated GET on the vdir gets its connectivity page, which admins
    // and clients use to check the endpoint (after the 401 leg of NTLM/Negotiate).
    response_head head;
    head.status = 200;
    head.add("Content-Type", "text/html");
    const std::string vdir = endpoint == endpoint_kind::emsmdb ? "/mapi/emsmdb/" : "/mapi/nspi/";
    co_return co_await send(std::move(head),
                            "<html><head><title>Exchange MAPI/HTTP Connectivity Endpoint</title>"
                            "</head><body><p>Exchange MAPI/HTTP Connectivity Endpoint<br><br>"
                            "Version: 15.2.1544.4<br>Vdir Path: " +
                                vdir + "<br>User: " + record.identity + "</p></body></html>",
                            record, keep_alive);
  }
  if (req.method() != http::verb::post) {
    co_return co_await send_protocol_error(response_code::invalid_verb, echo, record, keep_alive);
  }
  request_kind kind = classify(endpoint, echo.request_type);
  int error = 0;
  if (kind == request_kind::unknown) {
    error = response_code::invalid_request_type;
  } else if (echo.request_id.empty()) {
    error = response_code::missing_header;
  } else if (!is_mapi_content_type(header_value(req, "Content-Type"))) {
    error = response_code::invalid_header;
  }
  if (error != 0) co_return co_await send_protocol_error(error, echo, record, keep_alive);

  std::vector<std::string_view> cookie_headers;
  for (auto range = req.equal_range(http::field::cookie); range.first != range.second;
       ++range.first) {
    cookie_headers.push_back(range.first->value());
  }
  auto context_cookie = find_cookie(cookie_headers, state_.cookies.context);
  auto& sessions = state_.sessions;
  const std::string& identity = record.identity;
  const bool creates = kind == request_kind::connect || kind == request_kind::bind;

  if (kind == request_kind::ping) {
    if (context_cookie) {
      if (auto context = sessions.find(*context_cookie)) sessions.touch(*context);
    }
    co_return co_await send_ping(echo, record, keep_alive);
  }

  if (creates) {
    // Reconnect: a still-valid previous context of the same caller is destroyed first; its
    // sequence cookie is ignored.
    if (context_cookie) {
      auto old = sessions.find(*context_cookie);
      if (old && old->endpoint == endpoint && old->identity == identity && !old->busy) {
        sessions.destroy(old);
      }
    }
    auto context = sessions.create(endpoint, identity);
    stream_plan plan;
    plan.set_cookies = {set_cookie(endpoint, state_.cookies.context, context->id, false),
                        set_cookie(endpoint, state_.cookies.sequence, context->sequence, false)};
    context_claim claim(sessions, context, false);
    co_return co_await stream_response(echo, std::move(plan), record, keep_alive);
  }

  if (!context_cookie) {
    co_return co_await send_protocol_error(response_code::missing_cookie, echo, record, keep_alive);
  }
  auto context = sessions.find(*context_cookie);
  if (!context || context->endpoint != endpoint || context->identity != identity) {
    co_return co_await send_protocol_error(response_code::context_not_found, echo, record,
                                           keep_alive);
  }

  if (kind == request_kind::notification_wait) {
    stream_plan plan;
    plan.work = state_.opts.notification_wait;
    plan.set_cookies = {set_cookie(endpoint, state_.cookies.context, context->id, false)};
    plan.watched = context;
    context_claim claim(sessions, context, true);
    co_return co_await stream_response(echo, std::move(plan), record, keep_alive);
  }

  if (context->busy) {
    co_return co_await send_protocol_error(response_code::invalid_sequence, echo, record,
                                           keep_alive);
  }

  if (kind == request_kind::disconnect || kind == request_kind::unbind) {
    sessions.destroy(context);
    stream_plan plan;
    plan.set_cookies = {set_cookie(endpoint, state_.cookies.context, context->id, true),
                        set_cookie(endpoint, state_.cookies.sequence, context->sequence, true)};
    co_return co_await stream_response(echo, std::move(plan), record, keep_alive);
  }

  // Execute and the NSPI queries: the current sequence cookie is required and then rotated.
  auto sequence = find_cookie(cookie_headers, state_.cookies.sequence);
  if (!sequence) {
    co_return co_await send_protocol_error(response_code::missing_cookie, echo, record, keep_alive);
  }
  if (*sequence != context->sequence) {
    co_return co_await send_protocol_error(response_code::invalid_sequence, echo, record,
                                           keep_alive);
  }
  stream_plan plan;
  plan.work = state_.opts.execute_delay;
  plan.set_cookies = {
      set_cookie(endpoint, state_.cookies.context, context->id, false),
      set_cookie(endpoint, state_.cookies.sequence, sessions.rotate_sequence(*context), false)};
  context_claim claim(sessions, context, false);
  co_return co_await stream_response(echo, std::move(plan), record, keep_alive);
}

void connection::add_mapi_headers(response_head& head, const mapi_echo& echo, int code) const {
  if (!echo.request_type.empty()) head.add("X-RequestType", echo.request_type);
  if (!echo.request_id.empty()) head.add("X-RequestId", echo.request_id);
  if (!echo.client_info.empty()) head.add("X-ClientInfo", echo.client_info);
  head.add("X-ResponseCode", std::to_string(code));
  if (code == response_code::success) {
    head.add("X-PendingPeriod", std::to_string(state_.opts.pending_period.count()));
  }
  head.add("X-ExpirationInfo", std::to_string(state_.opts.context_expiry.count()));
  head.add("X-ServerApplication", std::string(server_application));
}

std::string connection::set_cookie(endpoint_kind endpoint, std::string_view name,
                                   std::string_view value, bool expire) const {
  std::string out = std::string(name) + '=' + std::string(value) + "; path=";
  out += cookie_path(endpoint);
  if (expire) out += "; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  out += "; HttpOnly";
  return out;
}

net::awaitable<bool> connection::send_protocol_error(int code, const mapi_echo& echo,
                                                     request_record& record, bool keep_alive) {
  response_head head;
  head.status = 200;
  head.add("Cache-Control", "private");
  head.add("Content-Type", "text/html");
  add_mapi_headers(head, echo, code);
  record.response_code = code;
  co_return co_await send(std::move(head), error_page(code), record, keep_alive);
}

net::awaitable<bool> connection::send_ping(const mapi_echo& echo, request_record& record,
                                           bool keep_alive) {
  response_head head;
  head.status = 200;
  head.add("Cache-Control", "private");
  head.add("Content-Type", "application/mapi-http");
  add_mapi_headers(head, echo, response_code::success);
  record.response_code = response_code::success;
  std::string body =
      "PROCESSING\r\n" + done_meta(milliseconds(0), std::chrono::system_clock::now());
  co_return co_await send(std::move(head), std::move(body), record, keep_alive);
}

net::awaitable<bool> connection::write_chunk(std::string_view payload, const mapi_echo& echo) {
  std::string framed = chunk(payload);
  if (co_await io_.write(framed)) co_return false;
  state_.records.add_write({id_, echo.request_id, std::string(payload), steady_clock::now()});
  co_return true;
}

net::awaitable<bool> connection::stream_response(const mapi_echo& echo, stream_plan plan,
                                                 request_record& record, bool keep_alive) {
  const auto started_wall = std::chrono::system_clock::now();
  const auto started = steady_clock::now();
  response_head head;
  head.status = 200;
  head.add("Cache-Control", "private");
  head.add("Content-Type", "application/mapi-http");
  add_mapi_headers(head, echo, response_code::success);
  head.add("X-BEServer", state_.opts.name);
  head.add("Date", http_date(started_wall));
  for (auto& cookie : plan.set_cookies)
    head.add("Set-Cookie", std::move(cookie));
  head.add("Transfer-Encoding", "chunked");
  if (!keep_alive) head.add("Connection", "close");
  record.http_status = 200;
  record.response_code = response_code::success;
  state_.records.add_request(record);

  // Head and the PROCESSING chunk leave together, at once.
  constexpr std::string_view processing = "PROCESSING\r\n";
  std::string first = head.serialize() + chunk(processing);
  if (co_await io_.write(first)) co_return false;
  state_.records.add_write({id_, echo.request_id, std::string(processing), steady_clock::now()});

  const auto period = state_.opts.pending_period;
  const auto done_at = started + plan.work;
  auto next_pending = started + period;
  for (;;) {
    if (plan.watched && plan.watched->destroyed) break;  // Disconnect ends a NotificationWait
    bool pending_due = period.count() > 0 && next_pending < done_at;
    auto until = pending_due ? next_pending : done_at;
    if (co_await io_.wait_until(until) == wait_outcome::peer_closed) co_return false;
    if (!pending_due) break;
    if (!co_await write_chunk("PENDING\r\n", echo)) co_return false;
    if (plan.watched) state_.sessions.touch(*plan.watched);
    next_pending += period;
  }

  auto elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  std::string done =
      done_meta(elapsed, started_wall) + response_body(state_.opts.response_body_bytes);
  if (!co_await write_chunk(done, echo)) co_return false;
  if (!co_await write_chunk({}, echo)) co_return false;
  co_return keep_alive;
}

}  // namespace sim::detail
