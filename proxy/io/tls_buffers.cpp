#include "proxy/io/tls_buffers.hpp"

#include <openssl/ssl.h>

#include <utility>

namespace proxy {

tls_buffer_use::tls_buffer_use(tls_buffer_use&& other) noexcept
    : ssl_(std::exchange(other.ssl_, nullptr)),
      keeper_(std::exchange(other.keeper_, nullptr)),
      slot_(other.slot_),
      last_start_(other.last_start_) {
  if (keeper_) keeper_->kept_[slot_] = this;
}

tls_buffer_use::~tls_buffer_use() {
  if (keeper_) keeper_->forget(*this);  // the SSL goes next, buffers and all
}

tls_buffer_keeper::~tls_buffer_keeper() {
  while (!kept_.empty())
    give_back(*kept_.back());
}

void tls_buffer_keeper::request_started(tls_buffer_use& use, SSL* ssl) {
  const bool again = use.last_start_ == period_;
  use.last_start_ = period_;
  if (use.keeper_ || !again) return;
  kept_.push_back(&use);  // may throw: nothing has changed yet
  SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
  use.ssl_ = ssl;
  use.keeper_ = this;
  use.slot_ = kept_.size() - 1;
  count_.store(kept_.size(), std::memory_order_relaxed);
}

void tls_buffer_keeper::give_back(tls_buffer_use& use) noexcept {
  if (use.keeper_ != this) return;
  SSL_set_mode(use.ssl_, SSL_MODE_RELEASE_BUFFERS);
  // Refused while OpenSSL holds unread bytes or an unfinished write: with the mode set, it
  // frees each buffer itself once that one is drained.
  (void)SSL_free_buffers(use.ssl_);
  forget(use);
}

void tls_buffer_keeper::tick() noexcept {
  ++period_;
  if (period_ == 0) ++period_;  // after a wrap: 0 stays "never"
  // Kept connections whose last request started before the period that just ended.
  for (std::size_t i = 0; i < kept_.size();) {
    auto& use = *kept_[i];
    if (period_ - use.last_start_ >= 2)
      give_back(use);  // the last one moves into slot i: look at it next
    else
      ++i;
  }
}

void tls_buffer_keeper::forget(tls_buffer_use& use) noexcept {
  auto* last = kept_.back();
  kept_[use.slot_] = last;
  last->slot_ = use.slot_;
  kept_.pop_back();
  use.keeper_ = nullptr;
  use.ssl_ = nullptr;
  count_.store(kept_.size(), std::memory_order_relaxed);
}

}  // namespace proxy
