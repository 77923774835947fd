// YAML text → validated config::snapshot, with every problem reported as file:line:col.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace config {

/// One problem found while loading. line and col are 1-based (yaml-cpp marks are 0-based).
/// line == 0 means the problem has no position (e.g. the file cannot be read).
struct diagnostic {
  std::string file;
  int line = 0;
  int col = 0;
  std::string message;

  /// "file:line:col: message" (or "file: message" without a position).
  std::string to_string() const;
};

/// Either a snapshot (config non-null, diagnostics empty) or every diagnostic found
/// (config null). Loading never stops at the first error.
struct load_result {
  snapshot_ptr config;
  std::vector<diagnostic> diagnostics;

  explicit operator bool() const noexcept { return config != nullptr; }
};

/// What the command line sets over the file, on every load (start and reload).
struct overrides {
  /// Replaces `server_name` (e.g. `--server-name $(POD_NAME)`: one file for every replica,
  /// one ServerHostName each). Empty: the file's. Contract: checked by valid_server_name().
  std::string server_name;
};

/// A name for ServerHostName and the health check body: 1..253 letters, digits, '.', '-', '_'.
bool valid_server_name(std::string_view name);

/// Reads and validates `path`, then applies `over`. Thread-safe. Besides reading `path` it only
/// checks that the certificate, key and CA files it names exist and are readable (their contents
/// are parsed by tls::, e.g. in `mapigate check`).
load_result load_file(const std::string& path, const overrides& over = {});

/// Same for YAML held in memory; `source_name` is used as the file in diagnostics.
load_result load_string(std::string_view yaml, const std::string& source_name);

}  // namespace config
