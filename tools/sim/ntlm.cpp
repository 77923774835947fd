// NTLM message building (and type 1/2 parsing) for the simulator's auth emulation.
#include "tools/sim/ntlm.hpp"

#include <chrono>

#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/util.hpp"

namespace sim::detail::ntlm {

namespace {

constexpr std::size_t authenticate_header_size = 64;
constexpr std::size_t challenge_header_size = 56;

std::optional<std::string> decode_string(std::string_view bytes, bool unicode) {
  if (unicode) return utf16le_to_utf8(bytes);
  return std::string(bytes);
}

std::string encode_string(std::string_view utf8, bool unicode) {
  return unicode ? utf8_to_utf16le(utf8) : std::string(utf8);
}

void append_av_pair(std::string& out, std::uint16_t id, std::string_view value) {
  std::string head(4, '\0');
  put_u16(head, 0, id);
  put_u16(head, 2, static_cast<std::uint16_t>(value.size()));
  out += head;
  out.append(value);
}

}  // namespace

std::optional<negotiate_message> parse_negotiate(std::string_view raw) {
  if (raw.size() < 16 || message_type(raw) != 1u) return std::nullopt;
  return negotiate_message{read_u32(raw, 12)};
}

std::string build_challenge(const negotiate_message& request,
                            const std::array<std::uint8_t, 8>& challenge,
                            std::string_view server_name) {
  bool unicode = (request.flags & negotiate_unicode) != 0;
  std::uint32_t flags = (unicode ? negotiate_unicode : negotiate_oem) | request_target |
                        negotiate_ntlm | negotiate_always_sign | target_type_domain |
                        negotiate_extended_session_security | negotiate_target_info |
                        negotiate_version | negotiate_128 | negotiate_56;
  std::string domain = "MAPISIM";
  std::string computer = routing::to_upper(server_name.substr(0, 15));
  if (computer.empty()) computer = "MBX";

  std::string info;
  append_av_pair(info, 2, utf8_to_utf16le(domain));    // MsvAvNbDomainName
  append_av_pair(info, 1, utf8_to_utf16le(computer));  // MsvAvNbComputerName
  append_av_pair(info, 4, utf8_to_utf16le("mapisim.test"));
  append_av_pair(info, 3, utf8_to_utf16le(std::string(server_name) + ".mapisim.test"));
  // MsvAvTimestamp: FILETIME (100 ns ticks since 1601).
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  std::uint64_t ticks =
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count()) *
          10u +
      116444736000000000ull;
  std::string filetime(8, '\0');
  put_u32(filetime, 0, static_cast<std::uint32_t>(ticks));
  put_u32(filetime, 4, static_cast<std::uint32_t>(ticks >> 32));
  append_av_pair(info, 7, filetime);
  append_av_pair(info, 0, {});  // MsvAvEOL

  std::string out(challenge_header_size, '\0');
  out.replace(0, 8, signature);
  put_u32(out, 8, 2);
  put_u32(out, 20, flags);
  for (std::size_t i = 0; i < 8; ++i)
    out[24 + i] = static_cast<char>(challenge[i]);
  // Version: 10.0 build 17763, NTLM revision 15.
  out[48] = 10;
  out[49] = 0;
  put_u16(out, 50, 17763);
  out[55] = 15;
  append_buffer(out, 12, encode_string(domain, unicode));
  append_buffer(out, 40, info);
  return out;
}

std::optional<challenge_message> parse_challenge(std::string_view raw) {
  if (raw.size() < 48 || message_type(raw) != 2u) return std::nullopt;
  challenge_message msg;
  msg.flags = read_u32(raw, 20);
  for (std::size_t i = 0; i < 8; ++i)
    msg.challenge[i] = std::uint8_t(raw[24 + i]);
  auto target = security_buffer(raw, 12);
  if (!target || !security_buffer(raw, 40)) return std::nullopt;
  auto name = decode_string(*target, (msg.flags & negotiate_unicode) != 0);
  if (!name) return std::nullopt;
  msg.target_name = std::move(*name);
  return msg;
}

std::string build_authenticate(std::string_view domain, std::string_view user,
                               std::string_view workstation) {
  std::uint32_t flags = negotiate_unicode | request_target | negotiate_ntlm |
                        negotiate_always_sign | negotiate_extended_session_security |
                        negotiate_target_info | negotiate_128 | negotiate_56;
  std::string out(authenticate_header_size, '\0');
  out.replace(0, 8, signature);
  put_u32(out, 8, 3);
  put_u32(out, 60, flags);
  std::string nt_response(24, '\0');
  for (std::size_t i = 0; i < nt_response.size(); ++i) {
    nt_response[i] = static_cast<char>(0x5a ^ i);
  }
  append_buffer(out, 28, utf8_to_utf16le(domain));
  append_buffer(out, 36, utf8_to_utf16le(user));
  append_buffer(out, 44, utf8_to_utf16le(workstation));
  append_buffer(out, 12, std::string(24, '\0'));
  append_buffer(out, 20, nt_response);
  append_buffer(out, 52, {});  // EncryptedRandomSessionKey
  return out;
}

}  // namespace sim::detail::ntlm

namespace sim {

std::string ntlm_type1_b64() {
  return detail::base64_encode(detail::ntlm::build_negotiate());
}

std::string ntlm_type3_b64(std::string_view domain, std::string_view user) {
  return detail::base64_encode(detail::ntlm::build_authenticate(domain, user, "SIMCLIENT"));
}

}  // namespace sim
