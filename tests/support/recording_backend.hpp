// A backend for smuggling tests: it keeps every byte mapigate sends it, per connection, exactly
// as received, and answers each request it can parse (strictly, as an HTTP/1.1 origin would)
// with a small MAPI success. What a request-smuggling hole lets through shows up in those bytes:
// a second request where mapigate sent one, a body without framing, bytes after the last
// request, a pooled connection that carried an unfinished request into the next client's.
// Contract: one private thread per connection; the observation functions may be called from any
// thread (they copy under a mutex). No Asio in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace testing_support {

/// One request as a strict HTTP/1.1 parser reads it out of raw bytes.
struct parsed_request {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as received
  std::string body;
  bool content_length = false;                      ///< framed by Content-Length
  bool chunked = false;                             ///< framed by chunked Transfer-Encoding
  std::string header(std::string_view name) const;  ///< first value, case-insensitive; "" if none
};

/// `raw` read as consecutive HTTP/1.1 requests, as a backend would: the complete ones; `rest`:
/// bytes after the last complete request (an unfinished head or body); `error`: why parsing
/// stopped early, if it did.
struct request_stream {
  std::vector<parsed_request> requests;
  std::string rest;
  std::string error;
};
request_stream parse_requests(std::string_view raw);

class recording_backend {
 public:
  /// How it answers: as a healthy origin, or as one that fails: it closes each connection as
  /// soon as a request head has arrived (before the body, without a word). Or as an origin
  /// that answers and then, once a connection has idled for `idle_grace`, closes it (its own
  /// keep-alive timeout: close_when_idle) or sends an answer no one asked for on it and keeps
  /// it open (speak_when_idle).
  enum class behaviour { answer, close_on_head, close_when_idle, speak_when_idle };
  static constexpr std::chrono::milliseconds idle_grace{100};
  /// What speak_when_idle sends.
  static constexpr std::string_view unasked =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nunasked!";
  explicit recording_backend(behaviour b = behaviour::answer);  ///< on 127.0.0.1, port 0
  ~recording_backend();
  recording_backend(const recording_backend&) = delete;
  recording_backend& operator=(const recording_backend&) = delete;

  std::uint16_t port() const;

  struct connection {
    std::string bytes;         ///< everything received, in order
    std::size_t answered = 0;  ///< requests answered on it
    bool closed = false;       ///< mapigate closed it (or it failed, or the backend did)
    bool idled_out = false;    ///< close_when_idle / speak_when_idle: the idle step was taken
  };
  std::vector<connection> connections() const;
  /// All requests answered, over all connections.
  std::size_t answered() const;
  /// Waits until `n` requests have been answered; false on the deadline.
  bool wait_answered(std::size_t n, std::chrono::milliseconds timeout) const;
  /// Waits until every connection accepted so far is closed; false on the deadline.
  bool wait_all_closed(std::chrono::milliseconds timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace testing_support
