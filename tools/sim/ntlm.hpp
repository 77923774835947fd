// NTLM message parsing and building for the simulator's connection-bound auth emulation.
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

namespace sim::detail::ntlm {

constexpr std::uint32_t negotiate_unicode = 0x00000001;
constexpr std::uint32_t negotiate_oem = 0x00000002;
constexpr std::uint32_t request_target = 0x00000004;
constexpr std::uint32_t negotiate_ntlm = 0x00000200;
constexpr std::uint32_t negotiate_always_sign = 0x00008000;
constexpr std::uint32_t target_type_domain = 0x00010000;
constexpr std::uint32_t negotiate_extended_session_security = 0x00080000;
constexpr std::uint32_t negotiate_target_info = 0x00800000;
constexpr std::uint32_t negotiate_version = 0x02000000;
constexpr std::uint32_t negotiate_128 = 0x20000000;
constexpr std::uint32_t negotiate_56 = 0x80000000;

/// Message type of a decoded token: 1, 2 or 3 when it starts with "NTLMSSP\0" and is at least
/// 12 bytes long; nullopt otherwise.
std::optional<std::uint32_t> message_type(std::string_view raw);

/// The NTLM message inside an Authorization token: the token itself when it starts with
/// "NTLMSSP\0", or the part from that signature on when a SPNEGO (GSS-API) wrapper carries it.
std::optional<std::string_view> find_message(std::string_view token);

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

struct authenticate_message {
  std::uint32_t flags = 0;
  std::string domain;       ///< UTF-8
  std::string user;         ///< UTF-8
  std::string workstation;  ///< UTF-8
};
/// Type 3: needs 64 header bytes (flags @60); every security buffer (LM @12, NT @20, Domain @28,
/// User @36, Workstation @44) must lie inside the message; Unicode strings must be valid
/// UTF-16LE. nullopt when anything is off.
std::optional<authenticate_message> parse_authenticate(std::string_view raw);

/// Raw (not base64) type 1 / type 3 messages; see sim::ntlm_type1_b64 / ntlm_type3_b64.
std::string build_negotiate();
std::string build_authenticate(std::string_view domain, std::string_view user,
                               std::string_view workstation);

/// UTF-8 → UTF-16LE bytes (invalid sequences become U+FFFD) and back (nullopt on odd length or
/// unpaired surrogates).
std::string utf8_to_utf16le(std::string_view utf8);
std::optional<std::string> utf16le_to_utf8(std::string_view bytes);

}  // namespace sim::detail::ntlm
