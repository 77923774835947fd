// What is known about each backend while mapigate runs: health (active checks, passive
// ejection), the admin's drain switch, and load. Asio-free.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "config/config.hpp"

namespace proxy {

/// Milliseconds on the steady clock (ejection deadlines).
inline std::int64_t steady_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One backend's live state. Contract: any thread may read or update any member (relaxed
/// atomics: each value stands alone). Owned by a runtime, one per configured backend; a reload
/// carries health and drain state over to the backend of the same name.
struct backend_live {
  // Health.
  std::atomic<bool> check_up{true};            ///< active checks: up (true until `fall` failures)
  std::atomic<unsigned> check_streak{0};       ///< consecutive results against the current state
  std::atomic<std::int64_t> ejected_until{0};  ///< steady_ms(); passive ejection
  std::atomic<unsigned> failures{0};           ///< consecutive connect failures or 5xx
  /// Admin drain (POST /backends/<name>/drain): sessions whose affinity names it stay, new
  /// sessions go elsewhere.
  std::atomic<bool> drained{false};

  // Load, for GET /backends and the metrics.
  std::atomic<std::size_t> upstream_open{0};       ///< open connections (busy, idle, pinned)
  std::atomic<std::size_t> in_flight{0};           ///< requests being relayed
  std::atomic<std::size_t> notification_waits{0};  ///< held long-polls: about one per session

  bool ejected(std::int64_t now) const noexcept { return now < ejected_until.load(); }
  /// Takes new requests: the active checks say up and it is not ejected.
  bool usable(std::int64_t now) const noexcept { return check_up.load() && !ejected(now); }

  /// A connect failure or a 5xx. True when this ejects the backend (eject_after in a row).
  bool record_failure(std::int64_t now, const config::health& h) noexcept {
    if (h.eject_after == 0) return false;
    if (failures.fetch_add(1) + 1 < h.eject_after) return false;
    failures.store(0);
    ejected_until.store(now + h.eject_for.count());
    return true;
  }
  void record_success() noexcept { failures.store(0); }
};

}  // namespace proxy
