// Which authentication schemes the /mapi vdir allows (-IISAuthenticationMethods), what a
// request or challenge uses, and which schemes bind a TCP connection (NTLM, Negotiate).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace routing {

/// The scheme of an Authorization or WWW-Authenticate value ("NTLM TlRM…", "Bearer x",
/// "Basic realm=…"): NTLM, Negotiate, Basic, Bearer (= oauth). nullopt for anything else.
std::optional<config::auth_scheme> scheme_of(std::string_view header_value);

/// NTLM and Negotiate authenticate the TCP connection, not the request.
bool binds_connection(config::auth_scheme s) noexcept;

bool allows(std::span<const config::auth_scheme> allowed, config::auth_scheme s) noexcept;

/// WWW-Authenticate values offering exactly the allowed schemes, in configured order.
std::vector<std::string> challenges_for(std::span<const config::auth_scheme> allowed,
                                        std::string_view realm);

}  // namespace routing
