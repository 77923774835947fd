// Thread-safe store of what the simulator saw and did, with deadline-bounded waits for tests.
#include "tools/sim/recorder.hpp"

namespace sim::detail {

void recorder::add_request(request_record record) {
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(record));
  }
  changed_.notify_all();
}

void recorder::add_write(write_event event) {
  {
    std::lock_guard lock(mutex_);
    writes_.push_back(std::move(event));
  }
  changed_.notify_all();
}

void recorder::connection_opened() {
  {
    std::lock_guard lock(mutex_);
    ++accepted_;
  }
  changed_.notify_all();
}

void recorder::connection_closed(std::uint64_t connection_id) {
  {
    std::lock_guard lock(mutex_);
    closed_.insert(connection_id);
  }
  changed_.notify_all();
}

std::vector<request_record> recorder::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<write_event> recorder::writes() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

std::uint64_t recorder::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::uint64_t recorder::open() const {
  std::lock_guard lock(mutex_);
  return accepted_ - closed_.size();
}

bool recorder::closed(std::uint64_t connection_id) const {
  std::lock_guard lock(mutex_);
  return closed_.count(connection_id) != 0;
}

bool recorder::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

bool recorder::wait_for_writes(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return writes_.size() >= count; });
}

bool recorder::wait_for_closed(std::uint64_t connection_id,
                               std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return closed_.count(connection_id) != 0; });
}

void recorder::clear() {
  {
    std::lock_guard lock(mutex_);
    requests_.clear();
    writes_.clear();
  }
  changed_.notify_all();
}

}  // namespace sim::detail
