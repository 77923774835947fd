// Helpers for config tests: a self-removing temporary directory and diagnostics as strings.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config/loader.hpp"
#include "tests/support/temp_dir.hpp"

namespace config_test {

using temp_dir = testing_support::temp_dir;

/// Every diagnostic of `r` as "file:line:col: message".
inline std::vector<std::string> messages(const config::load_result& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics)
    out.push_back(d.to_string());
  return out;
}

}  // namespace config_test
