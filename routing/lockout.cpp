// Bounded failure tables for the smart lockout.
#include "routing/lockout.hpp"

#include <algorithm>
#include <functional>

#include "routing/text.hpp"

namespace routing {
namespace {

constexpr std::size_t probe = 8;           ///< slots a key may live in: its hash's and the next 7
constexpr std::size_t max_key = 512;       ///< longer keys are cut (a user name is at most 256)
constexpr char familiar_separator = '\n';  ///< user \n address: no user or address holds one

struct slot {
  std::string key;  ///< empty: free
  unsigned count = 0;
  std::int64_t window_start = 0;
  std::int64_t held_until = 0;
  std::int64_t last_seen = 0;
};

}  // namespace

/// A fixed number of slots, open addressing over `probe` slots per key, eviction of the least
/// recently seen entry that holds nothing (else of the least recently seen).
struct lockout::table {
  explicit table(std::size_t size) : slots(std::max(size, probe)) {}

  std::size_t home(std::string_view key) const {
    return std::hash<std::string_view>{}(key) % slots.size();
  }
  slot* find(std::string_view key) {
    const auto h = home(key);
    for (std::size_t i = 0; i < probe; ++i) {
      auto& s = slots[(h + i) % slots.size()];
      if (!s.key.empty() && s.key == key) return &s;
    }
    return nullptr;
  }
  const slot* find(std::string_view key) const { return const_cast<table*>(this)->find(key); }
  slot& get(std::string_view key, std::int64_t now) {
    if (auto* s = find(key)) return *s;
    const auto h = home(key);
    slot* victim = nullptr;
    for (std::size_t i = 0; i < probe; ++i) {
      auto& s = slots[(h + i) % slots.size()];
      if (s.key.empty()) {
        victim = &s;
        break;
      }
      const bool holds = s.held_until > now;
      const bool victim_holds = victim && victim->held_until > now;
      if (!victim || (victim_holds && !holds) ||
          (victim_holds == holds && s.last_seen < victim->last_seen))
        victim = &s;
    }
    if (victim->key.empty()) ++used;
    *victim = slot{};
    victim->key = std::string(key.substr(0, max_key));
    victim->window_start = now;
    return *victim;
  }
  bool erase(std::string_view key) {
    auto* s = find(key);
    if (!s) return false;
    const bool held = s->held_until != 0;
    *s = slot{};
    --used;
    return held;
  }

  std::vector<slot> slots;
  std::size_t used = 0;
  mutable std::mutex mutex;
};

lockout::lockout(lockout_settings s)
    : s_(std::move(s)),
      users_(std::make_unique<table>(s_.table_size)),
      addresses_(std::make_unique<table>(s_.table_size)),
      familiar_(std::make_unique<table>(s_.table_size)) {}

lockout::~lockout() = default;

void lockout::configure(lockout_settings s) {
  std::lock_guard lock(settings_mutex_);
  s_ = std::move(s);  // table sizes stay as first set: a restart resizes
}

std::string lockout::canonical_user(std::string_view user) const {
  std::string u = to_lower(trim(user));
  const auto slash = u.find('\\');
  if (slash == std::string::npos) return u;
  std::lock_guard lock(settings_mutex_);
  const auto domain = std::string_view(u).substr(0, slash);
  for (const auto& [netbios, suffix] : s_.domains)
    if (netbios == domain) return u.substr(slash + 1) + "@" + suffix;
  return u;
}

bool lockout::exempt(std::string_view address) const {
  std::lock_guard lock(settings_mutex_);
  return std::any_of(s_.exempt.begin(), s_.exempt.end(),
                     [&](const cidr& n) { return contains(n, address); });
}

bool lockout::familiar(std::string_view user, std::string_view address, std::int64_t now) const {
  if (user.empty()) return false;
  const std::string key = std::string(user) + familiar_separator + std::string(address);
  std::lock_guard lock(familiar_->mutex);
  const auto* s = familiar_->find(key);
  std::lock_guard settings(settings_mutex_);
  return s && now - s->last_seen <= s_.familiar_for.count();
}

lockout_verdict lockout::check(std::string_view user, std::string_view address,
                               std::int64_t now) const {
  if (exempt(address) || familiar(user, address, now)) return lockout_verdict::allow;
  if (!user.empty()) {
    std::lock_guard lock(users_->mutex);
    if (const auto* s = users_->find(user); s && s->held_until > now)
      return lockout_verdict::user_held;
  }
  std::lock_guard lock(addresses_->mutex);
  if (const auto* s = addresses_->find(address); s && s->held_until > now)
    return lockout_verdict::address_held;
  return lockout_verdict::allow;
}

void lockout::failed(std::string_view user, std::string_view address, std::int64_t now) {
  if (exempt(address)) return;
  const bool known = familiar(user, address, now);
  lockout_settings s;
  {
    std::lock_guard lock(settings_mutex_);
    s = s_;
  }
  auto count = [&](table& t, std::string_view key, unsigned threshold) {
    std::lock_guard lock(t.mutex);
    auto& e = t.get(key, now);
    e.last_seen = now;
    if (now - e.window_start >= s.window.count() && e.held_until <= now) {
      e.window_start = now;
      e.count = 0;
    }
    ++e.count;
    if (threshold != 0 && e.count >= threshold) e.held_until = now + s.window.count();
  };
  // The real user mistyping from home counts neither against the user nor the address.
  if (known) return;
  if (!user.empty()) count(*users_, user, s.user_threshold);
  count(*addresses_, address, s.address_threshold);
}

void lockout::succeeded(std::string_view user, std::string_view address, std::int64_t now) {
  if (!user.empty()) {
    {
      std::lock_guard lock(familiar_->mutex);
      familiar_->get(std::string(user) + familiar_separator + std::string(address), now).last_seen =
          now;
    }
    std::lock_guard lock(users_->mutex);
    if (auto* e = users_->find(user)) {
      e->count = 0;
      e->window_start = now;
    }
  }
  std::lock_guard lock(addresses_->mutex);
  if (auto* e = addresses_->find(address)) {
    e->count = 0;
    e->window_start = now;
  }
}

namespace {

std::vector<held_entry> held_in(const std::vector<slot>& slots, std::mutex& m, std::int64_t now) {
  std::lock_guard lock(m);
  std::vector<held_entry> out;
  for (const auto& s : slots)
    if (!s.key.empty() && s.held_until > now) out.push_back({s.key, s.count, s.held_until});
  std::sort(out.begin(), out.end(),
            [](const held_entry& a, const held_entry& b) { return a.key < b.key; });
  return out;
}

}  // namespace

std::vector<held_entry> lockout::held_users(std::int64_t now) const {
  return held_in(users_->slots, users_->mutex, now);
}
std::vector<held_entry> lockout::held_addresses(std::int64_t now) const {
  return held_in(addresses_->slots, addresses_->mutex, now);
}

bool lockout::release_user(std::string_view user) {
  std::lock_guard lock(users_->mutex);
  return users_->erase(user);
}
bool lockout::release_address(std::string_view address) {
  std::lock_guard lock(addresses_->mutex);
  return addresses_->erase(address);
}

std::size_t lockout::users_tracked() const {
  std::lock_guard lock(users_->mutex);
  return users_->used;
}
std::size_t lockout::addresses_tracked() const {
  std::lock_guard lock(addresses_->mutex);
  return addresses_->used;
}

}  // namespace routing
