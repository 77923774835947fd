// Byte buffers a worker reuses: spare storage, borrowed while bytes are in it and handed back
// when it is empty, so that a connection that waits (an idle keep-alive, a held long-poll)
// holds no buffer. The rule of the whole data path: nothing is held while waiting.
// Worker-local (no locking).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "proxy/io/net.hpp"

namespace proxy {

inline constexpr std::size_t relay_chunk = 16 * 1024;  ///< largest piece read from a peer at once

/// An allocator whose value-initialization is default-initialization: a vector's resize() grows
/// without writing (std::string and std::vector<char> zero the new bytes), for room a reader
/// fills next (a relay's up-to-16 KiB read: zeroing it cost more than the copy that follows).
template <class T>
struct no_zero_allocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = no_zero_allocator<U>;
  };
  no_zero_allocator() = default;
  template <class U>
  no_zero_allocator(const no_zero_allocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

/// Bytes whose room is made before they are written (see no_zero_allocator).
using byte_vector = std::vector<char, no_zero_allocator<char>>;

/// Storage of emptied byte buffers, kept for reuse: a fresh large buffer per request would cost
/// a malloc, a zero-fill and the allocator's trims. Executor affinity: one worker.
struct spare_buffers {
  std::vector<beast::flat_buffer> free;
};

/// Gives empty `b` the storage of one of the spare buffers, when it has none.
inline void take_spare(spare_buffers& spares, beast::flat_buffer& b) {
  if (b.capacity() != 0 || spares.free.empty()) return;
  b = std::move(spares.free.back());
  spares.free.pop_back();
}

/// Hands the storage of `b` (whose bytes are all consumed) to the spare buffers; `b` is left
/// without any. Keeps at most 64 spares of at most 128 KiB; frees the others.
inline void give_spare(spare_buffers& spares, beast::flat_buffer& b) {
  if (b.capacity() == 0) return;
  b.clear();
  if (b.capacity() <= 128 * 1024 && spares.free.size() < 64) spares.free.push_back(std::move(b));
  b.shrink_to_fit();  // a moved-from buffer has none already
}

/// A spare buffer, borrowed for one framing-and-write step and handed back empty. Held only
/// while bytes are in it, so a long-poll waiting for its backend holds none.
class wire_lease {
 public:
  explicit wire_lease(spare_buffers& spares) : spares_(spares) { take_spare(spares_, buf_); }
  ~wire_lease() { give_spare(spares_, buf_); }
  wire_lease(const wire_lease&) = delete;
  wire_lease& operator=(const wire_lease&) = delete;
  beast::flat_buffer& operator*() noexcept { return buf_; }

 private:
  spare_buffers& spares_;
  beast::flat_buffer buf_;
};

/// The bytes `b` holds, as a view (valid until `b` changes).
inline std::string_view bytes_of(const beast::flat_buffer& b) noexcept {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

/// Appends the bytes of `s` to `b`.
inline void append(beast::flat_buffer& b, std::string_view s) {
  if (s.empty()) return;  // an empty view may have no data (memcpy's null is undefined)
  const auto m = b.prepare(s.size());
  std::memcpy(m.data(), s.data(), s.size());
  b.commit(s.size());
}

}  // namespace proxy
