// Diagnostic log facade (stderr): start-up, errors, refused requests. The per-request access
// log is a separate, asynchronous writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace proxy {

enum class log_level { debug, info, warn, error };

/// Lines below this level are dropped (default info; MAPIGATE_LOG=debug|info|warn|error).
log_level log_threshold() noexcept;

/// Writes one line atomically (a single write(2)); safe from any thread.
void log_write(log_level level, std::string_view line) noexcept;

/// How lines are written: for a terminal or a file (UTC timestamp, level word), or for the
/// journal (the sd-daemon "<N>" priority prefix, which journald files at that priority, and no
/// timestamp: journald stamps every line itself).
enum class log_format { plain, journal };

/// journal when $JOURNAL_STREAM names the device and inode of stderr (systemd sets it for a
/// service whose stderr goes to the journal); plain otherwise. Decided once.
log_format current_log_format() noexcept;

/// One line as written, newline-terminated: "2026-12-07T01:02:03.456Z warn text" (plain) or
/// "<4>text" (journal: debug 7, info 6, warn 4, error 3).
std::string format_log_line(log_format format, log_level level, std::string_view line,
                            std::chrono::system_clock::time_point now);

/// A budget for lines that clients can cause at will (a scanner's 404s, 401s, 421s): at most
/// `burst` lines at once, refilled at `per_second`; the lines over it are only counted, and the
/// next line let through says how many there were. Thread-safe (a mutex: only the lines it
/// budgets take it).
class log_budget {
 public:
  using clock = std::chrono::steady_clock;
  log_budget(double burst, double per_second) : burst_(burst), rate_(per_second), tokens_(burst) {}
  /// None: drop this line (it is counted). Otherwise the line may go, and the value is how many
  /// were dropped since the last one that went.
  std::optional<std::uint64_t> take(clock::time_point now);

 private:
  std::mutex m_;
  const double burst_, rate_;
  double tokens_;
  std::optional<clock::time_point> last_;
  std::uint64_t dropped_ = 0;
};

/// The one budget of lines clients can cause at will (refusals, bad request heads): 20 at once,
/// then 5 a second, across all workers. What it drops is still counted in the metrics and
/// written to the HttpProxy log.
log_budget& client_caused_lines() noexcept;

/// log(), within client_caused_lines(): a line over the budget is dropped; the next one that
/// goes says how many similar lines were not shown.
template <class... Args>
void log_client_caused(log_level level, const Args&... args);

template <class... Args>
void log(log_level level, const Args&... args) {
  if (level < log_threshold()) return;
  std::ostringstream os;
  (os << ... << args);
  log_write(level, os.str());
}

template <class... Args>
void log_client_caused(log_level level, const Args&... args) {
  if (level < log_threshold()) return;
  const auto dropped = client_caused_lines().take(log_budget::clock::now());
  if (!dropped) return;
  if (*dropped == 0)
    log(level, args...);
  else
    log(level, args..., " (", *dropped, " similar lines not shown)");
}

}  // namespace proxy
