// What is known about each backend while mapigate runs: health (active checks, passive
// ejection), the admin's drain switch, and load. Asio-free.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "config/config.hpp"
#include "proxy/io/coarse_clock.hpp"

namespace proxy {

/// Milliseconds on the steady clock, read coarsely (ejection and health windows).
inline std::int64_t steady_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(coarse_now().time_since_epoch())
      .count();
}

/// One backend's live state. Contract: any thread may read or update any member (relaxed
/// atomics: each value stands alone). Owned by a runtime, one per configured backend; a reload
/// carries health and drain state over to the backend of the same name.
///
/// Health has two levels, as Exchange's own load-balancing guidance means them. A backend whose
/// check fails (it answers, but not as expected, or not at all in time) or that answers with
/// errors is *draining*: the sessions that live there stay, new sessions go elsewhere when
/// there is elsewhere. Only a backend that cannot be reached (connects fail) is *down*: its
/// sessions get X-ResponseCode 10 at once, so Outlook reconnects to another server. A check
/// that fails must never be read as "down": not every MAPI server publishes Exchange's page.
struct backend_live {
  static std::array<std::atomic<bool>, config::vdir_count> make_flags(bool v) noexcept {
    return [v]<std::size_t... i>(std::index_sequence<i...>) {
      return std::array<std::atomic<bool>, config::vdir_count>{((void)i, v)...};
    }
    (std::make_index_sequence<config::vdir_count>{});
  }

  // Health.
  std::atomic<bool> check_up{true};            ///< active checks pass (true until `fall` failures)
  std::atomic<unsigned> check_streak{0};       ///< consecutive results against check_up
  std::atomic<bool> reachable{true};           ///< active checks connect (until `fall` fail to)
  std::atomic<unsigned> reach_streak{0};       ///< consecutive results against reachable
  std::atomic<std::int64_t> ejected_until{0};  ///< steady_ms(); passive: no new sessions
  std::atomic<std::int64_t> unreachable_until{0};  ///< steady_ms(); passive: connects failed
  std::atomic<unsigned> failures{0};               ///< consecutive connect failures or 5xx
  std::atomic<unsigned> connect_failures{0};       ///< consecutive connect failures
  /// Cordoned by the admin (POST /backends/<name>/cordon): sessions whose affinity names it stay,
  /// new sessions go elsewhere.
  std::atomic<bool> cordoned{false};

  /// Per vdir (config::vdir_id; /mapi's are check_up and cordoned above): its own active check
  /// (`/EWS/healthcheck.htm`, ...) passes, and whether the admin cordoned the backend for that
  /// workload alone (POST /backends/<name>/vdirs/<vdir>/cordon). A failing or cordoned vdir
  /// takes only that workload's new requests elsewhere.
  std::array<std::atomic<bool>, config::vdir_count> vdir_up = make_flags(true);
  std::array<std::atomic<unsigned>, config::vdir_count> vdir_streak{};
  std::array<std::atomic<bool>, config::vdir_count> vdir_cordoned = make_flags(false);

  // Load, for GET /backends and the metrics.
  std::atomic<std::size_t> upstream_open{0};       ///< open connections (busy, idle, pinned)
  std::atomic<std::size_t> in_flight{0};           ///< requests being relayed
  std::atomic<std::size_t> notification_waits{0};  ///< held long-polls: about one per session

  bool ejected(std::int64_t now) const noexcept { return now < ejected_until.load(); }
  /// Cannot be reached: its sessions are lost (X-ResponseCode 10), it gets no new ones.
  bool down(std::int64_t now) const noexcept {
    return !reachable.load() || now < unreachable_until.load();
  }
  /// Takes new sessions first: checks pass, reachable, not ejected.
  bool usable(std::int64_t now) const noexcept {
    return check_up.load() && !ejected(now) && !down(now);
  }

  /// A failure of the backend's own: a connect failure (`connect`), or a 5xx or a failure
  /// before the response head. True when this ejects the backend (eject_after in a row); after
  /// eject_after connect failures in a row it is also down for eject_for.
  bool record_failure(std::int64_t now, const config::health& h, bool connect) noexcept {
    if (h.eject_after == 0) return false;
    if (connect && connect_failures.fetch_add(1) + 1 >= h.eject_after) {
      connect_failures.store(0);
      unreachable_until.store(now + h.eject_for.count());
    }
    if (!connect) connect_failures.store(0);  // it answered: reachable
    if (failures.fetch_add(1) + 1 < h.eject_after) return false;
    failures.store(0);
    ejected_until.store(now + h.eject_for.count());
    return true;
  }
  void record_success() noexcept {
    failures.store(0);
    connect_failures.store(0);
  }
};

}  // namespace proxy
