// Parsing of durations and sizes: digits followed by a unit, nothing else.
#include "config/units.hpp"

#include <algorithm>

#include <cstdint>
#include <limits>

namespace config {

namespace {

// The leading run of ASCII digits of `text` as a number. nullopt when there is no digit or the
// value exceeds `max`. `rest` receives what follows the digits.
std::optional<std::uint64_t> leading_number(std::string_view text, std::uint64_t max,
                                            std::string_view& rest) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  rest = text.substr(i);
  return value;
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text, duration max) {
  const std::uint64_t max_ms = static_cast<std::uint64_t>(std::max<duration::rep>(max.count(), 0));
  std::string_view unit;
  // Any valid count is <= max_ms (unit ms), so larger counts fail here already.
  const auto count = leading_number(text, max_ms, unit);
  if (!count) return std::nullopt;
  std::uint64_t ms_per_unit = 0;
  if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "m") {
    ms_per_unit = 60 * 1000;
  } else if (unit == "h") {
    ms_per_unit = 60 * 60 * 1000;
  } else if (unit == "d") {
    ms_per_unit = 24 * 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  if (*count > max_ms / ms_per_unit) return std::nullopt;
  return duration(static_cast<duration::rep>(*count * ms_per_unit));
}

std::optional<std::size_t> parse_size(std::string_view text) {
  constexpr std::uint64_t max = std::numeric_limits<std::size_t>::max();
  std::string_view unit;
  const auto count = leading_number(text, max, unit);
  if (!count) return std::nullopt;
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "B") {
    multiplier = 1;
  } else if (unit == "KiB") {
    multiplier = 1ULL << 10;
  } else if (unit == "MiB") {
    multiplier = 1ULL << 20;
  } else if (unit == "GiB") {
    multiplier = 1ULL << 30;
  } else {
    return std::nullopt;
  }
  if (*count > max / multiplier) return std::nullopt;
  return static_cast<std::size_t>(*count * multiplier);
}

}  // namespace config
