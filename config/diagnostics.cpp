// Diagnostics: "file:line:col: message" formatting and their collection during one load.
#include <algorithm>
#include <utility>

#include "config/detail.hpp"
#include "config/loader.hpp"

namespace config {

std::string diagnostic::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message;
}

namespace detail {

reader::reader(std::string file, std::filesystem::path base_dir)
    : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

void reader::error(const YAML::Mark& at, const std::string& path, const std::string& message) {
  diagnostic d;
  d.file = file_;
  if (at.line >= 0) {
    d.line = at.line + 1;
    d.col = at.column >= 0 ? at.column + 1 : 1;
  }
  d.message = path.empty() ? message : path + ": " + message;
  diagnostics_.push_back(std::move(d));
}

std::vector<diagnostic> reader::take() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const diagnostic& a, const diagnostic& b) {
                     return std::pair(a.line, a.col) < std::pair(b.line, b.col);
                   });
  return std::move(diagnostics_);
}

}  // namespace detail
}  // namespace config
