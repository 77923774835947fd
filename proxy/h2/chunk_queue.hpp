// The request body chunks of one HTTP/2 stream, waiting to go to the backend.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace proxy::h2 {

/// Request body chunks in arrival order, taken from the front. Not std::deque: libstdc++'s
/// allocates its map and a 512-byte node as it is constructed, for every stream, with a body or
/// without. This allocates on the first chunk, and keeps its storage while a body flows.
class chunk_queue {
 public:
  bool empty() const noexcept { return head_ == chunks_.size(); }
  std::string& front() noexcept { return chunks_[head_]; }  ///< requires !empty()
  void emplace_back(std::string_view data) { chunks_.emplace_back(data); }
  /// Requires !empty(). The chunk's memory is freed at once.
  void pop_front() {
    std::string().swap(chunks_[head_]);  // its bytes go now, not when the queue empties
    if (++head_ == chunks_.size()) {
      clear();
    } else if (head_ >= compact_after && head_ * 2 >= chunks_.size()) {
      // A body that never drains completely must not grow the vector without bound.
      chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() noexcept {
    chunks_.clear();
    head_ = 0;
  }
  auto begin() const noexcept { return chunks_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const noexcept { return chunks_.end(); }
  /// Entries held, taken ones not yet dropped included (bounded: about twice the chunks
  /// waiting, at least compact_after).
  std::size_t stored() const noexcept { return chunks_.size(); }

 private:
  static constexpr std::size_t compact_after = 16;
  std::vector<std::string> chunks_;
  std::size_t head_ = 0;
};

}  // namespace proxy::h2
