// NTLM message parsing ([MS-NLMP] 2.2.1): what mapigate reads from an Authorization header (the
// user a type 3 message names, for the HttpProxy log) and what the simulator emulates.
//
// Pure functions, no I/O, safe on any thread. Every length and offset read from the wire is
// bounds-checked: a message is untrusted client input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace routing::ntlm {

inline constexpr std::string_view signature{"NTLMSSP\0", 8};

inline constexpr std::uint32_t negotiate_unicode = 0x00000001;
inline constexpr std::uint32_t negotiate_oem = 0x00000002;
inline constexpr std::uint32_t request_target = 0x00000004;
inline constexpr std::uint32_t negotiate_ntlm = 0x00000200;
inline constexpr std::uint32_t negotiate_always_sign = 0x00008000;
inline constexpr std::uint32_t target_type_domain = 0x00010000;
inline constexpr std::uint32_t negotiate_extended_session_security = 0x00080000;
inline constexpr std::uint32_t negotiate_target_info = 0x00800000;
inline constexpr std::uint32_t negotiate_version = 0x02000000;
inline constexpr std::uint32_t negotiate_128 = 0x20000000;
inline constexpr std::uint32_t negotiate_56 = 0x80000000;

/// Little-endian reads; the caller guarantees `at + 2` (`at + 4`) <= raw.size().
std::uint16_t read_u16(std::string_view raw, std::size_t at);
std::uint32_t read_u32(std::string_view raw, std::size_t at);

/// The payload of the security buffer {uint16 len, uint16 maxlen, uint32 offset} at `at`;
/// nullopt unless the buffer header and the whole payload lie inside `raw`.
std::optional<std::string_view> security_buffer(std::string_view raw, std::size_t at);

/// Message type of a decoded token: 1, 2 or 3 when it starts with "NTLMSSP\0" and is at least
/// 12 bytes long; nullopt otherwise.
std::optional<std::uint32_t> message_type(std::string_view raw);

/// The NTLM message inside an Authorization token: the token itself when it starts with
/// "NTLMSSP\0", or the part from that signature on when a SPNEGO (GSS-API) wrapper carries it.
std::optional<std::string_view> find_message(std::string_view token);

struct authenticate_message {
  std::uint32_t flags = 0;
  std::string domain;       ///< UTF-8
  std::string user;         ///< UTF-8
  std::string workstation;  ///< UTF-8
};
/// Type 3: needs 64 header bytes (flags @60); every security buffer (LM @12, NT @20, Domain @28,
/// User @36, Workstation @44) must lie inside the message; Unicode strings must be valid
/// UTF-16LE. nullopt when anything is off. The LM/NT responses are checked for bounds only and
/// never copied: mapigate has no use for them.
std::optional<authenticate_message> parse_authenticate(std::string_view raw);

/// UTF-8 → UTF-16LE bytes (invalid sequences become U+FFFD) and back (nullopt on odd length or
/// unpaired surrogates).
std::string utf8_to_utf16le(std::string_view utf8);
std::optional<std::string> utf16le_to_utf8(std::string_view bytes);

}  // namespace routing::ntlm
