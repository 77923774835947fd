// Header fields of relayed messages, allocated from a per-request arena instead of one malloc
// and free per field (Beast's basic_fields allocates every field on its own). Worker-local;
// proxy-internal. No Asio: included by the pure header-handling files.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <memory_resource>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MAPIGATE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define MAPIGATE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define MAPIGATE_POISON(p, n) ((void)(p), (void)(n))
#define MAPIGATE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace proxy {

using field_allocator = std::pmr::polymorphic_allocator<char>;
/// The fields of a relayed request or response. Default-constructed, they use the heap; built
/// with a field_arena's allocator, the arena.
using relay_fields = boost::beast::http::basic_fields<field_allocator>;

/// The blocks field arenas take their memory from, reused across requests. Worker thread only.
/// A spare block is poisoned under AddressSanitizer, so a field read after its arena gave the
/// memory back is reported, not served from another request's bytes.
class field_blocks {
 public:
  /// Holds the fields of a typical MAPI request and its response (about 2.3 KiB measured).
  static constexpr std::size_t block_size = 3 * 1024;
  static constexpr std::size_t max_spare = 64;

  field_blocks() = default;
  field_blocks(const field_blocks&) = delete;
  field_blocks& operator=(const field_blocks&) = delete;
  ~field_blocks() {
    for (auto* b : spare_) {
      MAPIGATE_UNPOISON(b, block_size);
      ::operator delete(b, block_size);
    }
  }

  std::byte* take() {
    if (spare_.empty()) return static_cast<std::byte*>(::operator new(block_size));
    auto* b = spare_.back();
    spare_.pop_back();
    MAPIGATE_UNPOISON(b, block_size);
    return b;
  }
  void give(std::byte* b) noexcept {
    if (spare_.size() < max_spare) {
      MAPIGATE_POISON(b, block_size);
      spare_.push_back(b);  // capacity reserved: never throws
    } else {
      ::operator delete(b, block_size);
    }
  }
  std::size_t spare() const noexcept { return spare_.size(); }

 private:
  std::vector<std::byte*> spare_ = [] {
    std::vector<std::byte*> v;
    v.reserve(max_spare);
    return v;
  }();
};

/// The memory for the header fields of one request and its response: bump-allocated, all
/// released at once; freeing one field frees nothing. The first chunk is one of the worker's
/// blocks, taken when the first field is stored (not before); fields that do not fit take more
/// from the heap, in growing chunks. Contract: outlives every message built with allocator();
/// used on one thread.
class field_arena {
 public:
  explicit field_arena(field_blocks& blocks) : source_(blocks), resource_(first_chunk, &source_) {}
  field_arena(const field_arena&) = delete;
  field_arena& operator=(const field_arena&) = delete;

  field_allocator allocator() noexcept { return field_allocator(&resource_); }

  /// Gives all memory back now (the block to the worker); the arena takes a block again when
  /// next used. Precondition: no message built with allocator() is alive any more.
  void release() noexcept { resource_.release(); }

 private:
  /// Chunks that fit a block come from the worker's blocks, larger ones from the heap.
  class block_source final : public std::pmr::memory_resource {
   public:
    explicit block_source(field_blocks& b) : blocks_(b) {}

   private:
    static bool fits(std::size_t n, std::size_t align) noexcept {
      return n <= field_blocks::block_size && align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;
    }
    void* do_allocate(std::size_t n, std::size_t align) override {
      if (fits(n, align)) return blocks_.take();
      return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
      if (fits(n, align))
        blocks_.give(static_cast<std::byte*>(p));
      else
        ::operator delete(p, n, std::align_val_t(align));
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
      return this == &o;
    }
    field_blocks& blocks_;
  };

  /// The monotonic resource adds its chunk header and rounds up to 64 bytes: asking for this
  /// much makes its first chunk exactly one block (checked by a unit test).
  static constexpr std::size_t first_chunk = field_blocks::block_size - 64;

  block_source source_;
  std::pmr::monotonic_buffer_resource resource_;  // after source_: releases into it first
};

}  // namespace proxy
