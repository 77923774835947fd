// Tests of config::parse_duration and config::parse_size: accepted forms, rejected forms, bounds.
#include "config/units.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace {

using namespace std::chrono_literals;

struct duration_case {
  std::string text;
  std::optional<config::duration> expected;
};

class duration_test : public ::testing::TestWithParam<duration_case> {};

TEST_P(duration_test, parses) {
  EXPECT_EQ(config::parse_duration(GetParam().text), GetParam().expected)
      << "text: \"" << GetParam().text << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    units, duration_test,
    ::testing::Values(duration_case{"250ms", 250ms}, duration_case{"30s", 30s},
                      duration_case{"5m", 5min}, duration_case{"1h", 1h}, duration_case{"0s", 0ms},
                      duration_case{"007s", 7s}, duration_case{"24h", 24h},
                      duration_case{"1440m", 24h}, duration_case{"86400000ms", 24h},
                      // Rejected: no unit, unknown unit, sign, fraction, spaces, over 24h.
                      duration_case{"30", std::nullopt}, duration_case{"", std::nullopt},
                      duration_case{"s", std::nullopt}, duration_case{"10sec", std::nullopt},
                      duration_case{"10S", std::nullopt}, duration_case{"1d", 24h},
                      duration_case{"2d", std::nullopt}, duration_case{"10us", std::nullopt},
                      duration_case{"-5s", std::nullopt}, duration_case{"+5s", std::nullopt},
                      duration_case{"1.5s", std::nullopt}, duration_case{" 5s", std::nullopt},
                      duration_case{"5 s", std::nullopt}, duration_case{"5s ", std::nullopt},
                      duration_case{"25h", std::nullopt}, duration_case{"86400001ms", std::nullopt},
                      duration_case{"1441m", std::nullopt},
                      duration_case{"99999999999999999999999s", std::nullopt}));

struct size_case {
  std::string text;
  std::optional<std::size_t> expected;
};

class size_test : public ::testing::TestWithParam<size_case> {};

TEST_P(size_test, parses) {
  EXPECT_EQ(config::parse_size(GetParam().text), GetParam().expected)
      << "text: \"" << GetParam().text << "\"";
}

constexpr std::size_t kib = 1024;

INSTANTIATE_TEST_SUITE_P(
    units, size_test,
    ::testing::Values(size_case{"0", 0}, size_case{"512", 512}, size_case{"512B", 512},
                      size_case{"16KiB", 16 * kib}, size_case{"4MiB", 4 * kib* kib},
                      size_case{"1GiB", kib* kib* kib},
                      size_case{"18446744073709551615", std::numeric_limits<std::size_t>::max()},
                      size_case{"17179869183GiB", 17179869183ULL * kib* kib* kib},
                      // Rejected: SI/decimal units, wrong case, sign, fraction, spaces, overflow.
                      size_case{"", std::nullopt}, size_case{"KiB", std::nullopt},
                      size_case{"16KB", std::nullopt}, size_case{"4MB", std::nullopt},
                      size_case{"1GB", std::nullopt}, size_case{"16k", std::nullopt},
                      size_case{"16kib", std::nullopt}, size_case{"1TiB", std::nullopt},
                      size_case{"-1", std::nullopt}, size_case{"+1", std::nullopt},
                      size_case{"1.5KiB", std::nullopt}, size_case{"16 KiB", std::nullopt},
                      size_case{" 16", std::nullopt},
                      size_case{"18446744073709551616", std::nullopt},
                      size_case{"17179869184GiB", std::nullopt}));

}  // namespace
