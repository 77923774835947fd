// One simulated mailbox-server connection: HTTP/1.1 keep-alive loop, auth and routing.
#include "tools/sim/connection.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include "tools/sim/ntlm.hpp"

namespace sim::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::uint32_t header_limit = 64 * 1024;
constexpr std::uint64_t body_limit = 8 * 1024 * 1024;

/// HTTP status for a request the parser refused; 0 = the connection just ended (EOF, reset,
/// timeout, mid-message close) and nothing should be sent.
int status_for_read_error(const boost::system::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::end_of_stream).category()) return 0;
  switch (static_cast<http::error>(ec.value())) {
    case http::error::end_of_stream:
    case http::error::partial_message:
      return 0;
    case http::error::body_limit:
      return 413;
    case http::error::header_limit:
      return 431;
    default:
      return 400;
  }
}

std::optional<endpoint_kind> endpoint_of(std::string_view path) {
  if (iequals(path, "/mapi/emsmdb/") || iequals(path, "/mapi/emsmdb")) {
    return endpoint_kind::emsmdb;
  }
  if (iequals(path, "/mapi/nspi/") || iequals(path, "/mapi/nspi")) return endpoint_kind::nspi;
  return std::nullopt;
}

}  // namespace

request_record make_record(std::uint64_t connection_id, const http::request<http::string_body>& req,
                           bool with_body) {
  request_record record;
  record.connection_id = connection_id;
  record.method = std::string(req.method_string());
  record.target = std::string(req.target());
  for (const auto& field : req) {
    record.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  if (with_body) record.body = req.body();
  return record;
}

net::awaitable<void> connection::run() {
  if (auto ec = co_await io_.handshake(); ec) {
    io_.close();
    co_return;
  }
  for (;;) {
    request_parser parser;
    parser.header_limit(header_limit);
    // No limit until the head says what it is: an Outlook Anywhere leg declares 1 GiB.
    parser.body_limit(boost::none);
    auto ec = co_await io_.read_header(parser);
    if (!ec &&
        (parser.get().method_string() == "RPC_IN_DATA" ||
         parser.get().method_string() == "RPC_OUT_DATA") &&
        parser.content_length().value_or(0) > 0) {
      co_await handle_rpc(parser);  // streamed for as long as the channel lives
      break;
    }
    if (!ec && parser.content_length().value_or(0) > body_limit) ec = http::error::body_limit;
    parser.body_limit(body_limit);
    if (!ec && iequals(parser.get()[http::field::expect], "100-continue")) {
      response_head interim;
      interim.status = 100;
      interim.add("X-BEServer", state_.opts.name);
      std::string text = interim.serialize();
      ec = co_await io_.write(text);
      if (ec) break;
    }
    if (!ec && !parser.is_done()) ec = co_await io_.read_body(parser);
    if (ec) {
      if (int status = status_for_read_error(ec); status != 0) {
        co_await reject_unparsable(parser, status);
      }
      break;
    }
    if (!co_await handle(parser.get())) break;
  }
  co_await io_.shutdown();
}

net::awaitable<void> connection::reject_unparsable(const request_parser& parser, int status) {
  request_record record;
  if (parser.is_header_done()) {
    record = make_record(id_, parser.get(), false);
  } else {
    record.connection_id = id_;
  }
  co_await send_text(status, std::string(reason_phrase(status)) + "\r\n", record, false);
}

net::awaitable<bool> connection::handle(request& req) {
  bool keep_alive = req.keep_alive();
  request_record record = make_record(id_, req, true);
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (bool healthy = true; vdir_health_path(path, healthy)) {
    co_return co_await healthcheck(req, record, keep_alive, healthy);
  }
  auto endpoint = endpoint_of(path);
  if (!endpoint) {
    if (auto handled = co_await handle_front_door(req, record, keep_alive)) co_return *handled;
    co_return co_await send_text(404, "404 Not Found\r\n", record, keep_alive);
  }

  if (auto answered = co_await require_logon(req, record, keep_alive)) co_return *answered;
  co_return co_await handle_mapi(req, record, *endpoint, keep_alive);
}

net::awaitable<std::optional<bool>> connection::require_logon(const request& req,
                                                              request_record& record,
                                                              bool keep_alive) {
  auth_result auth = authenticate(req);
  record.identity = auth.identity;
  switch (auth.outcome) {
    case auth_result::status::challenge:
      co_return co_await send_unauthorized(record, keep_alive, std::move(auth.challenge));
    case auth_result::status::failed:
      co_return co_await send_unauthorized(record, keep_alive, {});
    case auth_result::status::malformed:
      co_return co_await send_text(400, "Malformed Authorization header\r\n", record, false);
    case auth_result::status::ok:
      break;
  }
  if ((auth.identity.empty() && state_.opts.require_auth) || refused(auth.identity))
    co_return co_await send_unauthorized(record, keep_alive, {});
  co_return std::nullopt;
}

bool connection::refused(std::string_view identity) const {
  const auto& who = state_.opts.refused_user;
  if (who.empty() || identity.empty()) return false;
  const auto slash = identity.find('\\');
  return iequals(slash == std::string_view::npos ? identity : identity.substr(slash + 1), who);
}

net::awaitable<bool> connection::healthcheck(const request& req, request_record& record,
                                             bool keep_alive, bool healthy) {
  if (req.method() != http::verb::get) {
    co_return co_await send_text(404, "404 Not Found\r\n", record, keep_alive);
  }
  response_head head;
  std::string body;
  if (healthy) {
    head.status = 200;
    body = "200 OK<br/>" + state_.opts.name;
  } else {
    head.status = 503;
    body = "503 Service Unavailable<br/>" + state_.opts.name;
  }
  head.add("Cache-Control", "no-cache");
  head.add("Content-Type", "text/html");
  co_return co_await send(std::move(head), std::move(body), record, keep_alive);
}

connection::auth_result connection::authenticate(const request& req) {
  auth_result result;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) {
    result.identity = ntlm_identity_;
    return result;
  }
  std::string_view value = trim(it->value());
  std::size_t space = value.find(' ');
  std::string_view scheme = value.substr(0, space);
  std::string_view token = space == std::string_view::npos ? "" : trim(value.substr(space + 1));

  if (iequals(scheme, "Basic")) {
    auto decoded = base64_decode(token);
    if (!decoded) {
      result.outcome = auth_result::status::malformed;
      return result;
    }
    const auto colon = decoded->find(':');
    result.identity = decoded->substr(0, colon);
    const auto& password = state_.opts.password;
    if (!password.empty() &&
        (colon == std::string::npos || std::string_view(*decoded).substr(colon + 1) != password))
      result.outcome = auth_result::status::failed;
    return result;
  }
  if (!iequals(scheme, "NTLM") && !iequals(scheme, "Negotiate")) {
    // Bearer and friends are not understood: the request counts as the connection's identity.
    result.identity = ntlm_identity_;
    return result;
  }
  std::string_view canonical = iequals(scheme, "NTLM") ? "NTLM" : "Negotiate";
  auto raw = base64_decode(token);
  if (!raw || raw->empty()) {
    result.outcome = auth_result::status::malformed;
    return result;
  }
  auto message = ntlm::find_message(*raw);
  auto type = message ? ntlm::message_type(*message) : std::nullopt;
  if (!type) {
    // Negotiate with a Kerberos token (no NTLM inside): not supported, ask again.
    result.outcome = auth_result::status::failed;
    return result;
  }
  if (*type == 1) {
    auto negotiate = ntlm::parse_negotiate(*message);
    if (!negotiate) {
      result.outcome = auth_result::status::malformed;
      return result;
    }
    std::array<std::uint8_t, 8> challenge{};
    std::uint64_t bits = state_.random.next();
    for (std::size_t i = 0; i < challenge.size(); ++i)
      challenge[i] = std::uint8_t(bits >> (8 * i));
    challenge_ = challenge;
    challenge_pending_ = true;
    ntlm_identity_.clear();  // a new handshake on the connection starts from anonymous
    result.outcome = auth_result::status::challenge;
    result.challenge =
        std::string(canonical) + ' ' +
        base64_encode(ntlm::build_challenge(*negotiate, challenge, state_.opts.name));
    return result;
  }
  if (*type != 3) {
    result.outcome = auth_result::status::malformed;
    return result;
  }
  auto authenticate = ntlm::parse_authenticate(*message);
  if (!authenticate) {
    result.outcome = auth_result::status::malformed;
    return result;
  }
  if (!challenge_pending_) {
    // A type 3 on a connection that never got our challenge (e.g. a proxy that sent the
    // handshake legs over different connections) cannot succeed.
    result.outcome = auth_result::status::failed;
    return result;
  }
  challenge_pending_ = false;
  if (!state_.opts.password.empty() &&
      !ntlm::verify_v2(*message, challenge_, state_.opts.password)) {
    ntlm_identity_.clear();
    result.outcome = auth_result::status::failed;  // a wrong password, as a domain controller says
    return result;
  }
  if (authenticate->user.empty()) {
    ntlm_identity_.clear();  // anonymous NTLM
  } else if (authenticate->domain.empty()) {
    ntlm_identity_ = authenticate->user;
  } else {
    ntlm_identity_ = authenticate->domain + '\\' + authenticate->user;
  }
  result.identity = ntlm_identity_;
  return result;
}

net::awaitable<bool> connection::send_unauthorized(request_record& record, bool keep_alive,
                                                   std::string challenge) {
  response_head head;
  head.status = 401;
  if (!challenge.empty()) {
    head.add("WWW-Authenticate", std::move(challenge));
  } else {
    head.add("WWW-Authenticate", "NTLM");
    head.add("WWW-Authenticate", "Basic realm=\"" + state_.opts.name + "\"");
  }
  head.add("Content-Type", "text/plain");
  co_return co_await send(std::move(head), "401 Unauthorized\r\n", record, keep_alive);
}

net::awaitable<bool> connection::send_text(int status, std::string body, request_record& record,
                                           bool keep_alive) {
  response_head head;
  head.status = status;
  head.add("Content-Type", "text/plain");
  co_return co_await send(std::move(head), std::move(body), record, keep_alive);
}

void connection::add_common(response_head& head, bool keep_alive) const {
  head.add("X-BEServer", state_.opts.name);
  head.add("Date", http_date(std::chrono::system_clock::now()));
  if (!keep_alive) head.add("Connection", "close");
}

net::awaitable<bool> connection::send(response_head head, std::string body, request_record& record,
                                      bool keep_alive) {
  head.add("Content-Length", std::to_string(body.size()));
  add_common(head, keep_alive);
  record.http_status = head.status;
  state_.records.add_request(record);
  std::string wire = head.serialize() + body;
  auto ec = co_await io_.write(wire);
  co_return !ec && keep_alive;
}

}  // namespace sim::detail
