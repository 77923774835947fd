// NTLM message parsing ([MS-NLMP] 2.2.1), bounds-checked.
#include "routing/ntlm.hpp"

namespace routing::ntlm {
namespace {

constexpr std::size_t authenticate_header_size = 64;

std::optional<std::string> decode_string(std::string_view bytes, bool unicode) {
  if (unicode) return utf16le_to_utf8(bytes);
  return std::string(bytes);
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

std::uint16_t read_u16(std::string_view raw, std::size_t at) {
  return static_cast<std::uint16_t>(std::uint8_t(raw[at]) | (std::uint8_t(raw[at + 1]) << 8));
}

std::uint32_t read_u32(std::string_view raw, std::size_t at) {
  return std::uint32_t(std::uint8_t(raw[at])) | (std::uint32_t(std::uint8_t(raw[at + 1])) << 8) |
         (std::uint32_t(std::uint8_t(raw[at + 2])) << 16) |
         (std::uint32_t(std::uint8_t(raw[at + 3])) << 24);
}

std::optional<std::string_view> security_buffer(std::string_view raw, std::size_t at) {
  if (at + 8 > raw.size()) return std::nullopt;
  std::uint64_t len = read_u16(raw, at);
  std::uint64_t offset = read_u32(raw, at + 4);
  if (offset > raw.size() || len > raw.size() - offset) return std::nullopt;
  return raw.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(len));
}

std::optional<std::uint32_t> message_type(std::string_view raw) {
  if (raw.size() < 12 || raw.substr(0, 8) != signature) return std::nullopt;
  return read_u32(raw, 8);
}

std::optional<std::string_view> find_message(std::string_view token) {
  std::size_t at = token.find(signature);
  if (at == std::string_view::npos) return std::nullopt;
  return token.substr(at);
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

}  // namespace routing::ntlm
