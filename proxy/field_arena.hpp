// Header fields of relayed messages, allocated from a per-request arena instead of one malloc
// and free per field (Beast's basic_fields allocates every field on its own). Worker-local;
// proxy-internal. No Asio: included by the pure header-handling files.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <memory>
#include <memory_resource>
#include <vector>

namespace proxy {

using field_allocator = std::pmr::polymorphic_allocator<char>;
/// The fields of a relayed request or response. Default-constructed, they use the heap; built
/// with a field_arena's allocator, the arena.
using relay_fields = boost::beast::http::basic_fields<field_allocator>;

/// The blocks a worker's field arenas start from, reused across requests. Worker thread only.
class field_blocks {
 public:
  /// Holds the fields of a typical MAPI request and its response (about 2.3 KiB measured).
  static constexpr std::size_t block_size = 3 * 1024;
  static constexpr std::size_t max_spare = 64;

  std::unique_ptr<std::byte[]> take() {
    if (spare_.empty()) return std::make_unique_for_overwrite<std::byte[]>(block_size);
    auto b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }
  void give(std::unique_ptr<std::byte[]> b) {
    if (spare_.size() < max_spare) spare_.push_back(std::move(b));
  }

 private:
  std::vector<std::unique_ptr<std::byte[]>> spare_;
};

/// The memory for the header fields of one request and its response: bump-allocated from a
/// block the worker lends, all released at once when the arena ends; freeing one field frees
/// nothing. Fields that do not fit in the block take more from the heap, in growing chunks.
/// Contract: outlives every message built with allocator(); used on one thread.
class field_arena {
 public:
  explicit field_arena(field_blocks& blocks)
      : blocks_(blocks), block_(blocks.take()), resource_(block_.get(), field_blocks::block_size) {}
  ~field_arena() {
    resource_.release();  // the heap chunks; the block goes back to the worker
    blocks_.give(std::move(block_));
  }
  field_arena(const field_arena&) = delete;
  field_arena& operator=(const field_arena&) = delete;

  field_allocator allocator() noexcept { return field_allocator(&resource_); }

 private:
  field_blocks& blocks_;
  std::unique_ptr<std::byte[]> block_;
  std::pmr::monotonic_buffer_resource resource_;
};

}  // namespace proxy
