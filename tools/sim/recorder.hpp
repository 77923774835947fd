// Thread-safe store of what the simulator saw and did, with deadline-bounded waits for tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "tools/sim/mapi_sim.hpp"

namespace sim::detail {

/// Writers are the server's io thread; readers are any thread. Every function locks one mutex;
/// waits use one condition_variable notified on every change.
class recorder {
 public:
  void add_request(request_record record);
  void add_write(write_event event);
  void connection_opened();
  void connection_closed(std::uint64_t connection_id);

  std::vector<request_record> requests() const;
  std::vector<write_event> writes() const;
  std::uint64_t accepted() const;
  std::uint64_t open() const;
  bool closed(std::uint64_t connection_id) const;

  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_writes(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_closed(std::uint64_t connection_id, std::chrono::milliseconds timeout) const;
  void clear();

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<request_record> requests_;
  std::vector<write_event> writes_;
  std::uint64_t accepted_ = 0;
  std::unordered_set<std::uint64_t> closed_;
};

}  // namespace sim::detail
