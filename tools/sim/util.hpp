// Small helpers shared by the simulator: random tokens and dates; ASCII case folding and base64
// are the project's own (routing/text.hpp, routing/base64.hpp), named here for sim code.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "routing/base64.hpp"
#include "routing/text.hpp"

namespace sim::detail {

/// Source of session ids, sequence values and NTLM challenges. Not thread-safe: one per
/// server, used only on the server's io thread. Not cryptographically strong (a test tool).
class random_source {
 public:
  random_source();
  std::string hex(std::size_t chars);  ///< lower-case hex digits
  std::string guid();                  ///< 8-4-4-4-12 lower-case hex, like gromox's sequence
  std::uint64_t next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// ASCII case folding and trimming: the project's pure helpers.
using routing::iends_with;
using routing::iequals;
using routing::istarts_with;
using routing::trim;

/// RFC 1123 date, e.g. "Sat, 21 Nov 2026 06:22:05 GMT" (locale independent).
std::string http_date(std::chrono::system_clock::time_point t);

using routing::base64_decode;
using routing::base64_encode;

}  // namespace sim::detail
