// The project's one set of ASCII helpers (HTTP tokens, host names, config keys are ASCII).
// Locale independent and pure; no dependency beyond the standard library, so config/, tls/ and
// accesslog/ use it too (CMake target mapigate_text). Bytes above 0x7f are never letters,
// digits or controls here and are left as they are by the case mappings.
#pragma once

#include <string>
#include <string_view>

namespace routing {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? char(c - 32) : c;
}

/// '0'..'9'.
constexpr bool ascii_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// 'A'..'Z', 'a'..'z', '0'..'9'.
constexpr bool ascii_alnum(char c) noexcept {
  return ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// The value of a hex digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (ascii_digit(c)) return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// C0 controls (below 0x20, tab included) and DEL.
constexpr bool ascii_control(char c) noexcept {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

/// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Case-insensitive ASCII prefix test.
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;
bool iends_with(std::string_view s, std::string_view suffix) noexcept;

std::string to_lower(std::string_view s);

std::string to_upper(std::string_view s);

/// `s` without spaces and tabs at either end.
std::string_view trim(std::string_view s) noexcept;

/// Decodes %XX escapes; '+' stays '+'. Returns false on a truncated or non-hex escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace routing
