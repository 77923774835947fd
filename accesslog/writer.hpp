// Asynchronous HttpProxy log writer: worker threads submit records, one background thread
// formats them into <directory>/HttpProxy/<Protocol>/HttpProxy_YYYYMMDDHH-N.LOG.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "accesslog/file_set.hpp"
#include "accesslog/record.hpp"

namespace accesslog {

struct writer_options {
  std::filesystem::path directory;  ///< log root; created on the first record
  version_numbers version;          ///< Major/Minor/Build/Revision columns and #Version
  std::uint64_t max_file_bytes = 10ull << 20;
  std::uint64_t max_dir_bytes = 1ull << 30;  ///< every protocol folder together
  std::chrono::system_clock::duration max_age = std::chrono::hours(24 * 30);
  std::size_t queue_capacity = 65536;  ///< records waiting; at least 1
  clock_fn clock = [] { return std::chrono::system_clock::now(); };
  /// Longest wait of the writer thread between checks; each batch is flushed when written.
  std::chrono::milliseconds flush_interval{1000};
  /// Test hook: the thread writes nothing until resume() (or stop()), so the queue fills.
  bool start_paused = false;
};

/// Thread-safety: every member may be called from any thread (stop() calls are serialised).
/// The writer thread owns all files. Records go to the folder named by record::protocol when it
/// is 1-32 ASCII letters/digits, else to "Unknown".
class writer {
 public:
  explicit writer(writer_options options);
  ~writer();  ///< stop()
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  /// O(1), never waits for I/O. False when the record is dropped: queue full, or after stop().
  /// Drops are counted; after a full-queue drop the next record line written is preceded by
  /// `#Dropped: <n> records` in its file.
  bool submit(record&& r);

  /// Releases a writer created with start_paused.
  void resume();

  /// Writes and flushes everything queued, then joins the thread. Idempotent.
  void stop();

  /// Waits until records_written() + write_errors() >= n or the timeout passes; true if reached.
  bool wait_written(std::uint64_t n, std::chrono::steady_clock::duration timeout);

  std::uint64_t records_written() const { return written_.load(); }
  std::uint64_t records_dropped() const { return dropped_.load(); }
  /// Records lost to I/O errors (disk full, permissions, ...) plus failed flushes.
  std::uint64_t write_errors() const { return write_errors_.load(); }

 private:
  void run();
  void write_batch(std::vector<record>& batch, std::uint64_t dropped_before);
  file_set& files_for(const std::string& protocol);

  const writer_options options_;
  const std::string version_;

  std::mutex mutex_;
  std::condition_variable wake_;        ///< writer thread: work, resume or stop
  std::condition_variable progress_;    ///< wait_written: a batch was handled
  std::vector<record> queue_;           // guarded by mutex_
  std::uint64_t unreported_drops_ = 0;  // guarded by mutex_; queue_ is non-empty while > 0
  bool paused_ = false;                 // guarded by mutex_
  bool stopping_ = false;               // guarded by mutex_

  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> write_errors_{0};

  std::map<std::string, std::unique_ptr<file_set>> files_;  ///< writer thread only
  std::mutex stop_mutex_;                                   ///< serialises stop()
  std::thread thread_;
};

}  // namespace accesslog
