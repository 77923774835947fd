// Small helpers shared by the simulator: random tokens and dates.
#include "tools/sim/util.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace sim::detail {

namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";

}  // namespace

random_source::random_source() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device()};
  engine_.seed(seed);
}

std::string random_source::hex(std::size_t chars) {
  std::string out;
  out.reserve(chars);
  while (out.size() < chars) {
    std::uint64_t v = engine_();
    for (int i = 0; i < 16 && out.size() < chars; ++i, v >>= 4)
      out.push_back(hex_digits[v & 0xf]);
  }
  return out;
}

std::string random_source::guid() {
  std::string h = hex(32);
  return h.substr(0, 8) + '-' + h.substr(8, 4) + '-' + h.substr(12, 4) + '-' + h.substr(16, 4) +
         '-' + h.substr(20, 12);
}

std::string http_date(std::chrono::system_clock::time_point t) {
  static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace sim::detail
