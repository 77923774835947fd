// NTLM message building (and type 1/2 parsing) for the simulator's connection-bound auth emulation.
//
// Only the message framing is emulated: a type 3 message is accepted for any password; what
// matters to the proxy under test is which TCP connection carries which message. Pure functions,
// no I/O, safe on any thread; every length and offset read from the wire is bounds-checked.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "routing/ntlm.hpp"
#include "routing/ntlm_client.hpp"

namespace sim::detail::ntlm {

// The parsing side is routing's (mapigate reads type 3 messages for its logs): one parser; the
// message layout helpers and NTLMv2 are routing's too (the probe logs on with them).
using namespace routing::ntlm;

struct negotiate_message {
  std::uint32_t flags = 0;
};
/// Type 1: needs the signature, type 1 and the flags field (16 bytes).
std::optional<negotiate_message> parse_negotiate(std::string_view raw);

struct challenge_message {
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 8> challenge{};
  std::string target_name;  ///< UTF-8
};
/// Type 2 built for a client's type 1: Unicode when the client offered it, else OEM. The target
/// info carries NetBIOS/DNS names derived from `server_name` plus a timestamp.
std::string build_challenge(const negotiate_message& request,
                            const std::array<std::uint8_t, 8>& challenge,
                            std::string_view server_name);
/// Parses a type 2 (used by tests to check what the simulator sends).
std::optional<challenge_message> parse_challenge(std::string_view raw);

/// Raw (not base64) type 3 message with a response no password produces (the simulator takes
/// any password unless it was given one); see sim::ntlm_type3_b64. Type 1: routing's
/// build_negotiate.
std::string build_authenticate(std::string_view domain, std::string_view user,
                               std::string_view workstation);

}  // namespace sim::detail::ntlm
