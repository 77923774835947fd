// Diagnostic log facade (stderr): start-up, errors, refused requests. The per-request access
// log is a separate, asynchronous writer.
#pragma once

#include <sstream>
#include <string_view>

namespace proxy {

enum class log_level { debug, info, warn, error };

/// Lines below this level are dropped (default info; MAPIGATE_LOG=debug|info|warn|error).
log_level log_threshold() noexcept;

/// Writes one line atomically (a single write(2)); safe from any thread.
void log_write(log_level level, std::string_view line) noexcept;

template <class... Args>
void log(log_level level, const Args&... args) {
  if (level < log_threshold()) return;
  std::ostringstream os;
  (os << ... << args);
  log_write(level, os.str());
}

}  // namespace proxy
