// The client side of NTLMv2 ([MS-NLMP] 3.1.5, 3.3.2): what `mapigate probe` sends to log on as
// a monitoring mailbox, and what the simulator checks a password with. One implementation of
// the message layout (put_*, append_buffer) serves both and the simulator's own messages.
//
// Pure functions, no I/O, safe on any thread. MD4 (for the NT hash) is in OpenSSL 3's
// "legacy" provider (Debian: legacy.so in libssl3), loaded into a library context of this
// module's own so that nothing else in the process sees legacy algorithms; HMAC-MD5 is in the
// default provider. Where the legacy provider cannot be loaded, nt_owf_v2 says so (nullopt).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace routing::ntlm {

using bytes8 = std::array<std::uint8_t, 8>;
using bytes16 = std::array<std::uint8_t, 16>;

/// Little-endian writes into `out` at `at` (the caller sized `out`).
void put_u16(std::string& out, std::size_t at, std::uint16_t v);
void put_u32(std::string& out, std::size_t at, std::uint32_t v);
/// Appends `payload` to `out` and writes its security buffer {len, maxlen, offset} at `at`.
void append_buffer(std::string& out, std::size_t at, std::string_view payload);

/// Type 1 as a client sends it: Unicode and OEM offered, NTLM with extended session security,
/// 128/56-bit, no domain or workstation.
std::string build_negotiate();

struct challenge_fields {
  std::uint32_t flags = 0;
  bytes8 server_challenge{};
  std::string target_info;                 ///< raw AV pairs, echoed in the NTLMv2 blob
  std::optional<std::uint64_t> timestamp;  ///< MsvAvTimestamp (FILETIME) when the server sent it
};
/// Type 2: at least 48 bytes, signature and type 2, a target info buffer inside the message
/// and well-formed AV pairs up to MsvAvEOL. nullopt otherwise.
std::optional<challenge_fields> read_challenge(std::string_view raw);

/// NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(upper(user) + domain)). Upper-casing
/// is ASCII only. nullopt when OpenSSL cannot give MD4.
std::optional<bytes16> nt_owf_v2(std::string_view user, std::string_view domain,
                                 std::string_view password);

struct logon {
  std::string user, domain, password, workstation;
};
/// Type 3 answering `challenge` with NTLMv2: NTProofStr over the server challenge and a blob
/// of the timestamp (the server's, else `now_filetime`), `client_challenge` and the server's
/// target info. LM response: LMv2, or 24 zero bytes when the server sent a timestamp (as
/// Windows does). No MIC and no key exchange. nullopt when MD4 is unavailable.
std::optional<std::string> build_authenticate_v2(const challenge_fields& challenge,
                                                 const logon& who, const bytes8& client_challenge,
                                                 std::uint64_t now_filetime);

/// True when the type 3 `raw` carries an NTLMv2 response that `password` produces for the user
/// and domain it names and `server_challenge`. Constant-time comparison of the proof.
bool verify_v2(std::string_view raw, const bytes8& server_challenge, std::string_view password);

/// FILETIME (100 ns ticks since 1601-01-01) of a Unix time in microseconds.
std::uint64_t filetime_of_unix_us(std::int64_t unix_us);

}  // namespace routing::ntlm
