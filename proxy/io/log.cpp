// Diagnostic log facade: one atomic line per call on stderr.
#include "proxy/io/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

namespace proxy {

log_level log_threshold() noexcept {
  static const log_level threshold = [] {
    const char* v = std::getenv("MAPIGATE_LOG");
    const std::string s = v ? v : "";
    if (s == "debug") return log_level::debug;
    if (s == "warn") return log_level::warn;
    if (s == "error") return log_level::error;
    return log_level::info;
  }();
  return threshold;
}

void log_write(log_level level, std::string_view line) noexcept {
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  try {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out;
    out.reserve(line.size() + 48);
    out += stamp;
    out += '.';
    out += char('0' + ms.count() / 100);
    out += char('0' + ms.count() / 10 % 10);
    out += char('0' + ms.count() % 10);
    out += "Z ";
    out += names[int(level)];
    out += ' ';
    out += line;
    out += '\n';
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, out.data(), out.size());
  } catch (...) {
    // Logging must never take a worker down; an allocation failure loses the line.
  }
}

}  // namespace proxy
