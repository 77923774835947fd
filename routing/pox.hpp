// Autodiscover's POX request body ([MS-OXDSCLI] 2.2.3): the mailbox it asks about
// (`<Request><EMailAddress>`), read with expat from a small, bounded body. Client input: no
// DTD, no entities, at most `max_bytes`, elements nested at most 16 deep; anything else is not
// an anchor. Pure; safe on any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// Bodies larger than this are never read for an anchor.
inline constexpr std::size_t pox_max_bytes = 64 * 1024;

/// The text of the first EMailAddress element (any namespace) inside Autodiscover/Request,
/// trimmed; nullopt when the body is not well-formed XML, has a DOCTYPE, is larger than
/// pox_max_bytes, or has no such element.
std::optional<std::string> pox_email_address(std::string_view body);

}  // namespace routing
