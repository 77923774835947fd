// The hourly, size-capped HttpProxy_YYYYMMDDHH-N.LOG files of one protocol folder, with
// retention by the size of the whole HttpProxy tree (every protocol folder) and file age.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace accesslog {

using clock_fn = std::function<std::chrono::system_clock::time_point()>;

struct file_set_options {
  std::filesystem::path directory;  ///< log root; files go to <directory>/HttpProxy/<family>/
  std::string family;               ///< folder name, e.g. "Mapi" (caller validates it)
  std::string version;              ///< for the #Version header line
  std::uint64_t max_file_bytes = 10ull << 20;
  std::uint64_t max_dir_bytes = 1ull << 30;  ///< every protocol folder under HttpProxy/ together
  std::chrono::system_clock::duration max_age = std::chrono::hours(24 * 30);
  clock_fn clock = [] { return std::chrono::system_clock::now(); };
  /// True for a file another file_set of the same tree has open: retention keeps it. Unset:
  /// only this set's own open file is kept.
  std::function<bool(const std::filesystem::path&)> in_use;
};

/// Not thread-safe: owned and used by one thread (the writer's). Nothing touches the disk until
/// the first append. The current file is replaced when the UTC hour of clock() changes or when
/// appending would push it past max_file_bytes (a fresh file always takes at least one entry).
/// Each new file gets N = 1 + the highest N of that hour found on disk, starts with
/// header_block(clock(), version), and triggers retention: the oldest HttpProxy_*.LOG files of
/// every folder under <directory>/HttpProxy (by last write time) are deleted while their total
/// size exceeds max_dir_bytes, and any older than max_age; an open file (this set's, or one
/// `in_use` names) is never deleted. One budget for the tree is what bounds the disk (an
/// emptyDir, a partition): the number of protocol folders does not multiply it. Errors come back as
/// std::error_code, never as exceptions (except std::bad_alloc).
class file_set {
 public:
  explicit file_set(file_set_options options);
  ~file_set();
  file_set(const file_set&) = delete;
  file_set& operator=(const file_set&) = delete;

  /// Writes `entry` (complete CRLF-terminated lines that belong in one file) to the current
  /// file, rolling over first if needed. On error the file is closed; the next append starts a
  /// new file.
  std::error_code append(std::string_view entry);

  /// Pushes buffered bytes to the OS. No-op without an open file.
  std::error_code flush();

  const std::filesystem::path& folder() const { return folder_; }
  /// The open file, or empty before the first append / after an error.
  const std::filesystem::path& current_file() const { return current_; }

 private:
  std::error_code open_new(std::chrono::system_clock::time_point now, const std::string& hour);
  unsigned next_sequence(const std::string& hour) const;
  void apply_retention(std::chrono::system_clock::time_point now);
  void close();

  file_set_options options_;
  std::filesystem::path folder_;
  std::filesystem::path current_;
  std::FILE* file_ = nullptr;
  std::string hour_;           ///< hour stamp of the open file
  std::uint64_t size_ = 0;     ///< bytes in the open file
  std::uint64_t entries_ = 0;  ///< entries appended to the open file
};

}  // namespace accesslog
