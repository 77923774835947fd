// Simulated mailbox servers for integration tests.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "routing/rendezvous.hpp"

#include "tools/sim/mapi_sim.hpp"

namespace testing_support {

/// A started simulator named `name` (the name it reports in X-BEServer), on an ephemeral port.
inline std::unique_ptr<sim::server> start_sim(const std::string& name, sim::options o = {}) {
  o.name = name;
  auto s = std::make_unique<sim::server>(std::move(o));
  s->start();
  return s;
}

/// A mailbox whose rendezvous owner in the pool {mbx01, mbx02} (equal weights, the tests'
/// usual pair of simulators) is `owner` (0: mbx01, 1: mbx02). `salt` gives other mailboxes.
inline std::string mailbox_owned_by(std::size_t owner, int salt = 0) {
  const std::vector<routing::hash_member> pool = {{0, routing::stable_hash("mbx01"), 100},
                                                  {1, routing::stable_hash("mbx02"), 100}};
  for (int i = 0;; ++i) {
    const auto m = "user" + std::to_string(salt) + "-" + std::to_string(i) + "@corp.test";
    if (routing::rank(pool, m).front() == owner) return m;
  }
}

}  // namespace testing_support
