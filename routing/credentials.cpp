// AuthenticatedUser from an Authorization field value.
#include "routing/credentials.hpp"

#include "routing/base64.hpp"
#include "routing/ntlm.hpp"
#include "routing/text.hpp"

namespace routing {

namespace {

/// The NTLM message of an NTLM or Negotiate field value, decoded into `raw`.
std::optional<std::string_view> ntlm_message(std::string_view authorization, std::string& raw) {
  const auto value = trim(authorization);
  const auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto scheme = value.substr(0, space);
  if (!iequals(scheme, "NTLM") && !iequals(scheme, "Negotiate")) return std::nullopt;
  auto decoded = base64_decode(trim(value.substr(space + 1)));
  if (!decoded) return std::nullopt;
  raw = std::move(*decoded);
  return ntlm::find_message(raw);
}

}  // namespace

bool opens_handshake(std::string_view authorization) {
  std::string raw;
  const auto message = ntlm_message(authorization, raw);
  return message && ntlm::message_type(*message) == 1u;
}

std::optional<std::string> authenticated_user(std::string_view authorization) {
  const auto value = trim(authorization);
  const auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto scheme = value.substr(0, space);
  const auto token = trim(value.substr(space + 1));
  if (iequals(scheme, "Basic")) {
    auto decoded = base64_decode(token);
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    decoded->resize(colon);  // the password never leaves this function
    return decoded;
  }
  std::string raw;
  const auto message = ntlm_message(authorization, raw);
  if (!message || ntlm::message_type(*message) != 3u) return std::nullopt;
  auto parsed = ntlm::parse_authenticate(*message);
  if (!parsed || parsed->user.empty()) return std::nullopt;
  if (parsed->domain.empty()) return std::move(parsed->user);
  return parsed->domain + '\\' + parsed->user;
}

}  // namespace routing
