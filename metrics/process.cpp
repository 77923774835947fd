// process_* from /proc/self/stat, /proc/stat (boot time), /proc/self/fd and getrlimit.
#include "metrics/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace metrics {
namespace {

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
bool number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

/// "btime N" of /proc/stat: boot time, Unix seconds.
double boot_time() {
  const auto text = read_all("/proc/stat");
  const auto at = text.find("\nbtime ");
  if (at == std::string::npos) return 0;
  const auto begin = at + 7;
  const auto end = text.find('\n', begin);
  unsigned long long v = 0;
  return number(std::string_view(text).substr(begin, end - begin), v) ? double(v) : 0;
}

}  // namespace

std::optional<stat_fields> parse_proc_stat(std::string_view text) {
  // "pid (comm) state ppid ...": comm may hold spaces and ')', so the fields start after the
  // last ')'. Field 3 (state) is the first after it; utime is field 14.
  const auto paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(paren + 1);
  std::string_view field[22];
  std::size_t n = 0;
  while (n < 22) {
    const auto begin = rest.find_first_not_of(" \n");
    if (begin == std::string_view::npos) break;
    rest.remove_prefix(begin);
    const auto end = rest.find_first_of(" \n");
    field[n++] = rest.substr(0, end);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  if (n < 22) return std::nullopt;
  stat_fields f;  // field k of stat(5) is field[k - 3]
  if (!number(field[11], f.utime) || !number(field[12], f.stime) ||
      !number(field[19], f.starttime) || !number(field[20], f.vsize) ||
      !number(field[21], f.rss_pages))
    return std::nullopt;
  return f;
}

process_stats read_process_stats() {
  process_stats s;
  if (const auto f = parse_proc_stat(read_all("/proc/self/stat"))) {
    const double ticks = double(::sysconf(_SC_CLK_TCK));
    s.cpu_seconds = double(f->utime + f->stime) / ticks;
    s.start_time_seconds = boot_time() + double(f->starttime) / ticks;
    s.virtual_bytes = double(f->vsize);
    s.resident_bytes = double(f->rss_pages) * double(::sysconf(_SC_PAGESIZE));
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++fds;
  s.open_fds = fds > 0 ? double(fds - 1) : 0;  // less the one this loop reads the folder with
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = double(limit.rlim_cur);
  return s;
}

}  // namespace metrics
