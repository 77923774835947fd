// Small ASCII helpers shared by the pure routing code (HTTP tokens are ASCII).
#pragma once

#include <string>
#include <string_view>

namespace routing {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

/// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Case-insensitive ASCII prefix test.
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;

std::string to_lower(std::string_view s);

/// `s` without spaces and tabs at either end.
std::string_view trim(std::string_view s) noexcept;

/// Decodes %XX escapes; '+' stays '+'. Returns false on a truncated or non-hex escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace routing
