// The project's one base64 (RFC 4648): the standard alphabet with padding (§4), as HTTP Basic
// and NTLM/Negotiate tokens use it, and the URL-safe alphabet without padding (§5), as
// mapigate's affinity cookie uses it. Pure; no dependency beyond the standard library.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// Standard alphabet, with '=' padding.
std::string base64_encode(std::string_view bytes);

/// Strict: only the standard alphabet, optional '=' padding at the end (never more than
/// needed); nullopt otherwise. Unused low bits of the last character are not checked.
std::optional<std::string> base64_decode(std::string_view text);

/// URL-safe alphabet ('-' and '_' for '+' and '/'), without padding.
std::string base64url_encode(std::string_view bytes);

/// Strict and canonical: only the URL-safe alphabet, no padding, no length of 1 mod 4, and the
/// unused low bits of the last character zero, so every byte string has exactly one accepted
/// encoding; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace routing
