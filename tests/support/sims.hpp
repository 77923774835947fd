// Simulated mailbox servers for integration tests.
#pragma once

#include <memory>
#include <string>

#include "tools/sim/mapi_sim.hpp"

namespace testing_support {

/// A started simulator named `name` (the name it reports in X-BEServer), on an ephemeral port.
inline std::unique_ptr<sim::server> start_sim(const std::string& name, sim::options o = {}) {
  o.name = name;
  auto s = std::make_unique<sim::server>(std::move(o));
  s->start();
  return s;
}

}  // namespace testing_support
