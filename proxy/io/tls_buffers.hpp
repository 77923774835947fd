// OpenSSL's record buffers (about 34 KiB a connection: one to read, one to write): kept while a
// connection is busy, given back when it goes quiet. Worker-local; proxy-internal. No Asio.
//
// Every SSL starts with SSL_MODE_RELEASE_BUFFERS (set on the contexts): OpenSSL frees the read
// buffer each time it has drained it and the write buffer each time a write is out, so an idle
// or held connection costs no buffer. For a connection whose requests come back to back that
// means allocating and freeing both buffers on every request. The rule here, in one place for
// both protocols and both sides: a connection on which a second request starts within one
// period keeps its buffers (the mode cleared) until a whole period passes in which no request
// starts on it; then the mode is set again and the buffers go (SSL_free_buffers). A held
// exchange (a long-poll) gives them back at once. HAProxy's and nghttpx's buffers follow the
// same idea: allocated while data flows, released when a connection idles.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

typedef struct ssl_st SSL;

namespace proxy {

class tls_buffer_keeper;

/// One TLS connection's part in the rule: a member of the connection, next to its SSL, which
/// it must not outlive (declare it after the SSL's owner). Moving it moves its place in the
/// keeper's list. Worker thread only.
class tls_buffer_use {
 public:
  tls_buffer_use() = default;
  tls_buffer_use(tls_buffer_use&& other) noexcept;
  tls_buffer_use& operator=(tls_buffer_use&&) = delete;
  ~tls_buffer_use();

  /// Whether the connection keeps its buffers now (SSL_MODE_RELEASE_BUFFERS cleared).
  bool kept() const noexcept { return keeper_ != nullptr; }

 private:
  friend class tls_buffer_keeper;
  SSL* ssl_ = nullptr;
  tls_buffer_keeper* keeper_ = nullptr;  ///< non-null while kept
  std::size_t slot_ = 0;                 ///< in the keeper's list, while kept
  std::uint32_t last_start_ = 0;         ///< the keeper's period in which a request last started
};

/// The worker's busy TLS connections. Contract: used on the worker's thread only (kept_count()
/// excepted). Destroyed before a connection it keeps, it gives that connection's buffers back
/// and lets it go; the SSL must still be alive then.
class tls_buffer_keeper {
 public:
  tls_buffer_keeper() = default;
  tls_buffer_keeper(const tls_buffer_keeper&) = delete;
  tls_buffer_keeper& operator=(const tls_buffer_keeper&) = delete;
  ~tls_buffer_keeper();

  /// A request starts on `use`'s connection, whose SSL is `ssl`: the second within one period
  /// makes the connection keep its buffers.
  void request_started(tls_buffer_use& use, SSL* ssl);
  /// The connection will be quiet for long (a held long-poll): its buffers go now.
  void give_back(tls_buffer_use& use) noexcept;
  /// Ends a period (the worker calls it once a second): every kept connection on which no
  /// request started during the period that ends gives its buffers back.
  void tick() noexcept;
  /// Connections keeping their buffers now (from any thread: for the metrics).
  std::size_t kept_count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  friend class tls_buffer_use;
  void forget(tls_buffer_use& use) noexcept;  ///< out of the list, the mode left as it is

  std::vector<tls_buffer_use*> kept_;
  std::uint32_t period_ = 1;  ///< 0 is never a current period: a fresh use has started nothing
  std::atomic<std::size_t> count_ = 0;
};

}  // namespace proxy
