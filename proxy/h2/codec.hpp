// A server-side HTTP/2 codec without I/O (an nghttp2 "session": the word is nghttp2's; in mapigate
// a session is a MAPI session): bytes in, bytes out, events. Wraps nghttp2 (its framing, HPACK,
// flow control and abuse limits); the connection coroutine does the I/O. Asio-free, so the fuzz
// target can feed it arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct nghttp2_session;

namespace proxy::h2 {

/// A request's header list as received (HTTP/2 names are lower-case). Names and values share
/// one piece of storage, so a list costs two allocations however many fields it has (a
/// std::string per name and value cost one for each longer than 15 bytes, as most of Outlook's
/// values are).
class header_list {
 public:
  struct field {
    std::string_view name, value;  ///< valid while the list lives and is not added to
  };
  class iterator {
   public:
    iterator(const header_list& l, std::size_t i) : l_(&l), i_(i) {}
    field operator*() const { return (*l_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const header_list* l_;
    std::size_t i_;
  };

  /// Room for `fields` fields of `bytes` bytes in all (more grows the storage).
  void reserve(std::size_t fields, std::size_t bytes) {
    entries_.reserve(fields);
    bytes_.reserve(bytes);
  }
  /// Appends a field. Requires the list's bytes to stay below 4 GiB (the codec stores no more
  /// than settings::max_header_list, a 32-bit count).
  void add(std::string_view name, std::string_view value) {
    entries_.push_back({static_cast<std::uint32_t>(bytes_.size()),
                        static_cast<std::uint32_t>(name.size()),
                        static_cast<std::uint32_t>(value.size())});
    bytes_.append(name).append(value);
  }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  field operator[](std::size_t i) const noexcept {
    const auto& e = entries_[i];
    const std::string_view all = bytes_;
    return {all.substr(e.at, e.name), all.substr(e.at + e.name, e.value)};
  }
  iterator begin() const { return {*this, 0}; }
  iterator end() const { return {*this, entries_.size()}; }

 private:
  struct entry {
    std::uint32_t at, name, value;  ///< where the name starts in bytes_; the two lengths
  };
  std::string bytes_;
  std::vector<entry> entries_;
};

/// Where take_output() puts the bytes to send: room in the caller's buffer (the connection
/// lends a worker's spare buffer; tests use a string), so the codec allocates none of its own.
class output {
 public:
  virtual char* prepare(std::size_t n) = 0;  ///< room for `n` more bytes, valid until commit()
  virtual void commit(std::size_t n) = 0;    ///< `n` bytes of that room were written
  virtual std::size_t size() const = 0;      ///< bytes held
  void append(std::string_view s) {
    if (s.empty()) return;
    std::memcpy(prepare(s.size()), s.data(), s.size());
    commit(s.size());
  }

 protected:
  ~output() = default;
};

/// An output into a string (tests, the fuzz targets).
class string_output final : public output {
 public:
  char* prepare(std::size_t n) override {
    bytes_.resize(held_ + n);
    return bytes_.data() + held_;
  }
  void commit(std::size_t n) override {
    held_ += n;
    bytes_.resize(held_);
  }
  std::size_t size() const override { return held_; }
  std::string take() {
    bytes_.resize(held_);
    held_ = 0;
    return std::move(bytes_);
  }

 private:
  std::string bytes_;     ///< the bytes held, then room prepare() made
  std::size_t held_ = 0;  ///< committed bytes
};

/// Response fields a thread keeps room for between responses (more are allocated per response).
inline constexpr std::size_t kept_fields = 64;

/// A response header to send: views, valid during the submit call (nghttp2 copies them).
struct field_view {
  std::string_view name, value;  ///< any case: nghttp2 lower-cases the names as it copies
};

/// What the session reports. Called only from inside receive() / take_output() / submit_*.
class events {
 public:
  virtual ~events() = default;
  /// A request's complete header block. `too_large`: its header list exceeded the limit (the
  /// headers beyond it were dropped); the request should be answered 431.
  virtual void on_request(std::int32_t stream, header_list headers, bool end_stream,
                          bool too_large) = 0;
  /// Request body bytes. Flow control: the client may only send more once consume() is called.
  virtual void on_data(std::int32_t stream, std::string_view data) = 0;
  /// The client ended its side of the stream (after on_request or the last on_data).
  virtual void on_end_stream(std::int32_t stream) = 0;
  /// The stream is gone: completed, or reset by either side (a reset this side submitted is
  /// reported once take_output() has handed it out). Not called for streams still open when the
  /// session ends on a connection error: their owner ends those itself.
  virtual void on_stream_close(std::int32_t stream, std::uint32_t error_code) = 0;
  /// Response body source, without a copy of its own: how many of the stream's next response
  /// bytes (at most `n`) are ready to go, `eof` set when they are the last; -1 (or 0 without
  /// eof) when none is yet (resume() later). Nothing is taken: take_body() follows.
  virtual std::ptrdiff_t body_ready(std::int32_t stream, std::size_t n, bool& eof) = 0;
  /// Appends the stream's next `n` response bytes, which body_ready() said are ready, to `out`
  /// (take_output()'s output: DATA goes there straight from the stream's buffer, never through
  /// a buffer of nghttp2's).
  virtual void take_body(std::int32_t stream, std::size_t n, output& out) = 0;
};

struct settings {
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t initial_window = 256 * 1024;  ///< per stream, request bodies
  std::uint32_t max_header_list = 16 * 1024;  ///< request header list (names + values + 32 each)
  /// RST_STREAM rate limit (CVE-2023-44487, rapid reset): tokens and tokens per second.
  std::uint64_t reset_burst = 200;
  std::uint64_t reset_rate = 50;
  std::size_t max_continuations = 8;  ///< CONTINUATION flood (CVE-2024-27316 class)
};

/// Contract: single-threaded; `ev` outlives the session. Protocol errors never throw. Either
/// receive() returns false (the session queued a GOAWAY), or, for many connection errors
/// (a frame on the wrong stream, a bad length, rapid reset), nghttp2 queues the GOAWAY itself
/// while receive() still returns true: then error_sent() (once take_output() handed it out) and
/// want_read() tell. After either, flush take_output() and close the connection.
class codec {
 public:
  codec(events& ev, const settings& s);
  ~codec();
  codec(const codec&) = delete;
  codec& operator=(const codec&) = delete;

  /// Processes received bytes. False on a connection error (send the output, then close).
  bool receive(std::span<const std::uint8_t> bytes);
  /// Appends what there is to send now to `out` (nothing when nothing): frames, HPACK, DATA
  /// from take_body. Stops after about 64 KiB: one write at a time, the caller comes back.
  void take_output(output& out);
  /// The same, into a string of its own (tests, the fuzz targets).
  std::string take_output() {
    string_output s;
    take_output(s);
    return s.take();
  }
  /// Whether the session still wants to read / has something to write. Both false: close.
  bool want_read() const;
  bool want_write() const;

  /// Response head; `has_body`: DATA will come from events::body_ready / take_body.
  void submit_response(std::int32_t stream, int status, std::span<const field_view> headers,
                       bool has_body);
  /// An interim 100 (Continue) response: the client may send the body it held back for it.
  void submit_continue(std::int32_t stream);
  /// body_ready has more now.
  void resume(std::int32_t stream);
  /// `n` request body bytes were passed on: the client may send that much more.
  void consume(std::int32_t stream, std::size_t n);
  void reset(std::int32_t stream, std::uint32_t error_code);
  /// The first step of a graceful shutdown: a GOAWAY naming stream 2^31-1, so the client opens
  /// no new stream here while requests already on their way are still taken (RFC 9113 §6.8).
  void shutdown_notice();
  /// Graceful shutdown: GOAWAY with the last stream id processed; open streams complete.
  void goaway(std::uint32_t error_code);
  /// The error code of a GOAWAY for a connection error that take_output() has handed out
  /// (whether receive() failed or nghttp2 ended the session itself on a frame it refused while
  /// receive() succeeded); 0 while none has been.
  std::uint32_t error_sent() const noexcept { return error_sent_; }

 private:
  struct callbacks;
  nghttp2_session* s_ = nullptr;
  events& ev_;
  settings settings_;
  bool failed_ = false;
  output* output_ = nullptr;  ///< take_output()'s output while it runs (DATA goes there)
  std::uint32_t error_sent_ = 0;
  /// Request header blocks being received (normally one at a time).
  struct pending_block {
    std::int32_t stream;
    header_list headers;
    std::size_t bytes = 0;
    bool too_large = false;
  };
  std::vector<pending_block> blocks_;
  pending_block* block(std::int32_t stream);
};

}  // namespace proxy::h2
