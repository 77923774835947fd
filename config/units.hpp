// Parsing of durations ("250ms", "30s", "5m", "1h") and sizes ("512", "16KiB", "4MiB", "1GiB").
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace config {

inline constexpr duration day{24 * 60 * 60 * 1000};

/// A duration needs a unit: ms, s, m, h or d. Returns nullopt on anything else (no unit, sign,
/// fraction, longer than `max`).
std::optional<duration> parse_duration(std::string_view text, duration max = day);

/// A size is a plain byte count or has a unit: B, KiB, MiB, GiB (1024-based). nullopt on
/// anything else or on overflow.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace config
