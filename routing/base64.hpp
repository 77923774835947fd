// Standard base64 (RFC 4648 §4), as HTTP Basic and NTLM/Negotiate tokens use it. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// With '=' padding.
std::string base64_encode(std::string_view bytes);

/// Strict: only the standard alphabet, optional '=' padding at the end (never more than
/// needed); nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace routing
