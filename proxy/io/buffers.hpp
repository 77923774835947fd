// Byte buffers a worker reuses: spare storage, borrowed while bytes are in it and handed back
// when it is empty, so that a connection that waits (an idle keep-alive, a held long-poll)
// holds no buffer. The rule of the whole data path: nothing is held while waiting.
// Worker-local (no locking).
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

#include "proxy/io/net.hpp"

namespace proxy {

inline constexpr std::size_t relay_chunk = 16 * 1024;  ///< largest piece read from a peer at once

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

/// Appends the bytes of `s` to `b`.
inline void append(beast::flat_buffer& b, std::string_view s) {
  const auto m = b.prepare(s.size());
  std::memcpy(m.data(), s.data(), s.size());
  b.commit(s.size());
}

}  // namespace proxy
