// Diagnostic log facade: one atomic line per call on stderr.
#include "proxy/io/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

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

log_format current_log_format() noexcept {
  static const log_format format = [] {
    const char* v = std::getenv("JOURNAL_STREAM");
    if (!v) return log_format::plain;
    unsigned long long dev = 0, ino = 0;
    struct stat st {};
    if (std::sscanf(v, "%llu:%llu", &dev, &ino) != 2 || ::fstat(STDERR_FILENO, &st) != 0)
      return log_format::plain;
    return st.st_dev == dev && st.st_ino == ino ? log_format::journal : log_format::plain;
  }();
  return format;
}

std::string format_log_line(log_format format, log_level level, std::string_view line,
                            std::chrono::system_clock::time_point now) {
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  static constexpr char priorities[] = {'7', '6', '4', '3'};  // sd-daemon(3): LOG_DEBUG ...
  std::string out;
  out.reserve(line.size() + 48);
  if (format == log_format::journal) {
    out += '<';
    out += priorities[int(level)];
    out += '>';
  } else {
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    out += stamp;
    out += '.';
    out += char('0' + ms.count() / 100);
    out += char('0' + ms.count() / 10 % 10);
    out += char('0' + ms.count() % 10);
    out += "Z ";
    out += names[int(level)];
    out += ' ';
  }
  // One line per call: a line break inside would be a second, unprefixed journal entry.
  for (const char ch : line)
    out += ch == '\n' || ch == '\r' ? ' ' : ch;
  out += '\n';
  return out;
}

void log_write(log_level level, std::string_view line) noexcept {
  try {
    const auto out =
        format_log_line(current_log_format(), level, line, std::chrono::system_clock::now());
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, out.data(), out.size());
  } catch (...) {
    // Logging must never take a worker down; an allocation failure loses the line.
  }
}

log_budget& client_caused_lines() noexcept {
  static log_budget budget(20, 5);
  return budget;
}

std::optional<std::uint64_t> log_budget::take(clock::time_point now) {
  std::lock_guard lock(m_);
  if (last_)
    tokens_ =
        std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - *last_).count());
  last_ = now;
  if (tokens_ < 1) {
    ++dropped_;
    return std::nullopt;
  }
  tokens_ -= 1;
  const auto dropped = dropped_;
  dropped_ = 0;
  return dropped;
}

}  // namespace proxy
