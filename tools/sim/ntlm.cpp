// NTLM message parsing and building for the simulator's connection-bound auth emulation.
#include "tools/sim/ntlm.hpp"

#include <chrono>

#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/util.hpp"

namespace sim::detail::ntlm {

namespace {

constexpr std::string_view signature{"NTLMSSP\0", 8};
constexpr std::size_t authenticate_header_size = 64;
constexpr std::size_t challenge_header_size = 56;

std::uint16_t read_u16(std::string_view raw, std::size_t at) {
  return static_cast<std::uint16_t>(std::uint8_t(raw[at]) | (std::uint8_t(raw[at + 1]) << 8));
}

std::uint32_t read_u32(std::string_view raw, std::size_t at) {
  return std::uint32_t(std::uint8_t(raw[at])) | (std::uint32_t(std::uint8_t(raw[at + 1])) << 8) |
         (std::uint32_t(std::uint8_t(raw[at + 2])) << 16) |
         (std::uint32_t(std::uint8_t(raw[at + 3])) << 24);
}

void put_u16(std::string& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<char>(v & 0xff);
  out[at + 1] = static_cast<char>(v >> 8);
}

void put_u32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

/// Security buffer {uint16 len, uint16 maxlen, uint32 offset} at `at`; the payload must lie
/// entirely inside `raw`.
std::optional<std::string_view> security_buffer(std::string_view raw, std::size_t at) {
  if (at + 8 > raw.size()) return std::nullopt;
  std::uint64_t len = read_u16(raw, at);
  std::uint64_t offset = read_u32(raw, at + 4);
  if (offset > raw.size() || len > raw.size() - offset) return std::nullopt;
  return raw.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(len));
}

/// Appends `payload` at the end of `out` and writes its security buffer at `at`.
void append_buffer(std::string& out, std::size_t at, std::string_view payload) {
  put_u16(out, at, static_cast<std::uint16_t>(payload.size()));
  put_u16(out, at + 2, static_cast<std::uint16_t>(payload.size()));
  put_u32(out, at + 4, static_cast<std::uint32_t>(out.size()));
  out.append(payload);
}

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

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

void append_utf16(std::string& out, std::uint32_t unit) {
  out.push_back(static_cast<char>(unit & 0xff));
  out.push_back(static_cast<char>((unit >> 8) & 0xff));
}

}  // namespace

std::optional<std::uint32_t> message_type(std::string_view raw) {
  if (raw.size() < 12 || raw.substr(0, 8) != signature) return std::nullopt;
  return read_u32(raw, 8);
}

std::optional<std::string_view> find_message(std::string_view token) {
  std::size_t at = token.find(signature);
  if (at == std::string_view::npos) return std::nullopt;
  return token.substr(at);
}

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
  std::string computer = upper_ascii(server_name.substr(0, 15));
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

std::optional<authenticate_message> parse_authenticate(std::string_view raw) {
  if (raw.size() < authenticate_header_size || message_type(raw) != 3u) return std::nullopt;
  authenticate_message msg;
  msg.flags = read_u32(raw, 60);
  bool unicode = (msg.flags & negotiate_unicode) != 0;
  auto lm = security_buffer(raw, 12);
  auto nt = security_buffer(raw, 20);
  auto domain = security_buffer(raw, 28);
  auto user = security_buffer(raw, 36);
  auto workstation = security_buffer(raw, 44);
  if (!lm || !nt || !domain || !user || !workstation) return std::nullopt;
  auto domain_text = decode_string(*domain, unicode);
  auto user_text = decode_string(*user, unicode);
  auto workstation_text = decode_string(*workstation, unicode);
  if (!domain_text || !user_text || !workstation_text) return std::nullopt;
  msg.domain = std::move(*domain_text);
  msg.user = std::move(*user_text);
  msg.workstation = std::move(*workstation_text);
  return msg;
}

std::string build_negotiate() {
  std::uint32_t flags = negotiate_unicode | negotiate_oem | request_target | negotiate_ntlm |
                        negotiate_always_sign | negotiate_extended_session_security |
                        negotiate_version | negotiate_128 | negotiate_56;
  std::string out(40, '\0');
  out.replace(0, 8, signature);
  put_u32(out, 8, 1);
  put_u32(out, 12, flags);
  // Domain @16 and Workstation @24 stay empty (offset = header size).
  put_u32(out, 20, 40);
  put_u32(out, 28, 40);
  out[32] = 10;
  put_u16(out, 34, 17763);
  out[39] = 15;
  return out;
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

std::string utf8_to_utf16le(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() * 2);
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::uint8_t b = std::uint8_t(utf8[i]);
    std::uint32_t cp = 0xfffd;
    std::size_t extra = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xe0) == 0xc0) {
      cp = b & 0x1f;
      extra = 1;
    } else if ((b & 0xf0) == 0xe0) {
      cp = b & 0x0f;
      extra = 2;
    } else if ((b & 0xf8) == 0xf0) {
      cp = b & 0x07;
      extra = 3;
    }
    bool ok = (b < 0x80 || extra > 0) && i + extra < utf8.size();
    for (std::size_t k = 1; ok && k <= extra; ++k) {
      std::uint8_t c = std::uint8_t(utf8[i + k]);
      if ((c & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      cp = 0xfffd;
      extra = 0;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_utf16(out, 0xd800 | (cp >> 10));
      append_utf16(out, 0xdc00 | (cp & 0x3ff));
    } else {
      append_utf16(out, cp);
    }
    i += extra + 1;
  }
  return out;
}

std::optional<std::string> utf16le_to_utf8(std::string_view bytes) {
  if (bytes.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    std::uint32_t unit = read_u16(bytes, i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      if (i + 4 > bytes.size()) return std::nullopt;
      std::uint32_t low = read_u16(bytes, i + 2);
      if (low < 0xdc00 || low > 0xdfff) return std::nullopt;
      unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
      i += 2;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return std::nullopt;
    }
    append_utf8(out, unit);
  }
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
