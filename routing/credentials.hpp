// Who a request says it is, for the HttpProxy log's AuthenticatedUser column: the user an NTLM
// type 3 message names (bare, or inside a Negotiate/SPNEGO token) or the Basic user name.
// Never a password, hash or response: only the names are read. Pure; safe on any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// For an Authorization field value: "DOMAIN\user" (or "user" when the message names no
/// domain) from an NTLM type 3 message; the user-id part of Basic credentials (before the
/// first ':'). nullopt for every other scheme or message (type 1, Kerberos, Bearer) and for
/// anything malformed. The name is returned as sent, unsanitised: the log formatter sanitises.
std::optional<std::string> authenticated_user(std::string_view authorization);

/// True when the Authorization field value opens an NTLM handshake (a type 1 message, bare or
/// inside Negotiate/SPNEGO): the 401 it gets is the challenge, a normal step, not a failure.
bool opens_handshake(std::string_view authorization);

}  // namespace routing
