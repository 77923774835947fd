// The standard process_* metrics (as Prometheus' client libraries export them), read from
// /proc at scrape time: prometheus-cpp 1.0 has no process collector.
#pragma once

#include <optional>
#include <string_view>

namespace metrics {

struct process_stats {
  double cpu_seconds = 0;  ///< user + system
  double open_fds = 0;
  double max_fds = 0;  ///< the soft RLIMIT_NOFILE
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  ///< Unix time
};

/// The fields of /proc/<pid>/stat that process_stats needs, in clock ticks and pages as the
/// kernel gives them. nullopt when the text is not a stat line (too few fields, no "(comm)").
struct stat_fields {
  unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
  long long rss_pages = 0;
};
std::optional<stat_fields> parse_proc_stat(std::string_view text);

/// This process, now. A field that cannot be read stays 0.
process_stats read_process_stats();

}  // namespace metrics
