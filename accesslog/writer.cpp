// Bounded queue + background thread turning records into HttpProxy log lines.
#include "accesslog/writer.hpp"

#include <algorithm>
#include <utility>

#include "accesslog/format.hpp"
#include "routing/text.hpp"

namespace accesslog {
namespace {

std::string folder_name(const std::string& protocol) {
  const bool ok = !protocol.empty() && protocol.size() <= 32 &&
                  std::all_of(protocol.begin(), protocol.end(), routing::ascii_alnum);
  return ok ? protocol : "Unknown";
}

}  // namespace

writer::writer(writer_options options)
    : options_(std::move(options)), version_(version_string(options_.version)) {
  paused_ = options_.start_paused;
  thread_ = std::thread([this] { run(); });
}

writer::~writer() {
  stop();
}

bool writer::submit(record&& r) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < std::max<std::size_t>(options_.queue_capacity, 1)) {
      queue_.push_back(std::move(r));
      if (queue_.size() == 1) wake_.notify_one();
      return true;
    }
    if (!stopping_) ++unreported_drops_;
  }
  dropped_.fetch_add(1);
  return false;
}

void writer::resume() {
  std::lock_guard lock(mutex_);
  paused_ = false;
  wake_.notify_one();
}

void writer::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

bool writer::wait_written(std::uint64_t n, std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  return progress_.wait_for(lock, timeout, [&] { return written_ + write_errors_ >= n; });
}

file_set& writer::files_for(const std::string& protocol) {
  const auto name = folder_name(protocol);
  auto& slot = files_[name];
  if (!slot) {
    slot = std::make_unique<file_set>(file_set_options{
        .directory = options_.directory,
        .family = name,
        .version = version_,
        .max_file_bytes = options_.max_file_bytes,
        .max_dir_bytes = options_.max_dir_bytes,
        .max_age = options_.max_age,
        .clock = options_.clock,
        // Retention spans every folder: the other folders' open files stay.
        .in_use =
            [this](const std::filesystem::path& p) {
              for (const auto& [folder, set] : files_)
                if (set && set->current_file() == p) return true;
              return false;
            },
    });
  }
  return *slot;
}

void writer::write_batch(std::vector<record>& batch, std::uint64_t dropped_before) {
  std::vector<file_set*> touched;
  for (auto& r : batch) {
    try {
      if (r.request_id.empty()) r.request_id = new_request_id();
      std::string entry;
      if (dropped_before != 0) entry = dropped_line(dropped_before);
      entry += format_line(r, options_.version);
      auto& files = files_for(r.protocol);
      if (files.append(entry)) {
        write_errors_.fetch_add(1);
        continue;
      }
      dropped_before = 0;
      written_.fetch_add(1);
      if (std::find(touched.begin(), touched.end(), &files) == touched.end()) {
        touched.push_back(&files);
      }
    } catch (...) {  // std::bad_alloc: lose this record, keep the thread alive
      write_errors_.fetch_add(1);
    }
  }
  for (auto* files : touched) {
    if (files->flush()) write_errors_.fetch_add(1);
  }
  if (dropped_before != 0) {  // every record failed: report the drops with the next batch
    std::lock_guard lock(mutex_);
    unreported_drops_ += dropped_before;
  }
}

void writer::run() {
  std::vector<record> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval,
                   [&] { return stopping_ || (!paused_ && !queue_.empty()); });
    const bool last = stopping_;
    if (paused_ && !last) continue;
    batch.swap(queue_);
    const auto drops = std::exchange(unreported_drops_, 0);
    lock.unlock();
    write_batch(batch, drops);
    batch.clear();
    lock.lock();
    progress_.notify_all();
    if (last && queue_.empty()) break;
  }
  lock.unlock();
  files_.clear();  // closes every file
}

}  // namespace accesslog
