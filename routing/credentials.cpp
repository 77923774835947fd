// AuthenticatedUser from an Authorization field value.
#include "routing/credentials.hpp"

#include "routing/base64.hpp"
#include "routing/ntlm.hpp"
#include "routing/text.hpp"

namespace routing {

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
  if (!iequals(scheme, "NTLM") && !iequals(scheme, "Negotiate")) return std::nullopt;
  const auto raw = base64_decode(token);
  if (!raw) return std::nullopt;
  const auto message = ntlm::find_message(*raw);
  if (!message || ntlm::message_type(*message) != 3u) return std::nullopt;
  auto parsed = ntlm::parse_authenticate(*message);
  if (!parsed || parsed->user.empty()) return std::nullopt;
  if (parsed->domain.empty()) return std::move(parsed->user);
  return parsed->domain + '\\' + parsed->user;
}

}  // namespace routing
