// HttpProxy log file rotation (hour, size) and retention (tree size, age).
#include "accesslog/file_set.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <vector>

#include "accesslog/format.hpp"

namespace accesslog {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view prefix = "HttpProxy_";
constexpr std::string_view suffix = ".LOG";

bool is_log_name(std::string_view name) {
  return name.size() > prefix.size() + suffix.size() && name.starts_with(prefix) &&
         name.ends_with(suffix);
}

std::error_code last_errno() {
  return {errno, std::generic_category()};
}

}  // namespace

file_set::file_set(file_set_options options)
    : options_(std::move(options)), folder_(options_.directory / "HttpProxy" / options_.family) {}

file_set::~file_set() {
  close();
}

void file_set::close() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  current_.clear();
  hour_.clear();
  size_ = 0;
  entries_ = 0;
}

std::error_code file_set::append(std::string_view entry) {
  const auto now = options_.clock();
  const auto hour = hour_stamp(now);
  const bool too_big = entries_ > 0 && size_ + entry.size() > options_.max_file_bytes;
  if (file_ == nullptr || hour != hour_ || too_big) {
    if (auto ec = open_new(now, hour)) return ec;
  }
  if (std::fwrite(entry.data(), 1, entry.size(), file_) != entry.size()) {
    const auto ec = last_errno();
    close();
    return ec;
  }
  size_ += entry.size();
  ++entries_;
  return {};
}

std::error_code file_set::flush() {
  if (file_ == nullptr) return {};
  if (std::fflush(file_) != 0) {
    const auto ec = last_errno();
    close();
    return ec;
  }
  return {};
}

unsigned file_set::next_sequence(const std::string& hour) const {
  const std::string stem = std::string(prefix) + hour + "-";
  unsigned highest = 0;
  std::error_code ec;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_log_name(name) || !name.starts_with(stem)) continue;
    const std::string_view digits(name.data() + stem.size(),
                                  name.size() - stem.size() - suffix.size());
    unsigned n = 0;
    const auto [end_ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (err == std::errc() && end_ptr == digits.data() + digits.size()) {
      highest = std::max(highest, n);
    }
  }
  return highest + 1;
}

std::error_code file_set::open_new(std::chrono::system_clock::time_point now,
                                   const std::string& hour) {
  close();
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) return ec;
  // "x": never append to a file another process (or a clock step back) already created.
  unsigned n = next_sequence(hour);
  for (int attempt = 0; attempt < 16 && file_ == nullptr; ++attempt, ++n) {
    const auto path =
        folder_ / (std::string(prefix) + hour + "-" + std::to_string(n) + std::string(suffix));
    file_ = std::fopen(path.c_str(), "wbx");
    if (file_ != nullptr) {
      current_ = path;
    } else if (errno != EEXIST) {
      return last_errno();
    }
  }
  if (file_ == nullptr) return std::make_error_code(std::errc::file_exists);
  hour_ = hour;
  const auto header = header_block(now, options_.version);
  // Flushed at once so the new file's size on disk is right for the retention pass below.
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size() ||
      std::fflush(file_) != 0) {
    const auto werr = last_errno();
    close();
    return werr;
  }
  size_ = header.size();
  apply_retention(now);
  return {};
}

void file_set::apply_retention(std::chrono::system_clock::time_point now) {
  struct entry {
    fs::path path;
    fs::file_time_type written;
    std::uint64_t size;
  };
  std::vector<entry> files;
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator dir(folder_.parent_path(), ec), dir_end; !ec && dir != dir_end;
       dir.increment(ec)) {
    std::error_code de;
    if (!dir->is_directory(de)) continue;
    for (fs::directory_iterator it(dir->path(), de), end; !de && it != end; it.increment(de)) {
      std::error_code e;
      if (!is_log_name(it->path().filename().string()) || !it->is_regular_file(e)) continue;
      const auto size = it->file_size(e);
      if (e) continue;
      const auto written = it->last_write_time(e);
      if (e) continue;
      files.push_back({it->path(), written, size});
      total += size;
    }
  }
  std::sort(files.begin(), files.end(), [](const entry& a, const entry& b) {
    return a.written != b.written ? a.written < b.written : a.path < b.path;
  });
  for (const auto& f : files) {
    if (f.path == current_ || (options_.in_use && options_.in_use(f.path))) continue;
    const auto age = now - std::chrono::file_clock::to_sys(f.written);
    if (total <= options_.max_dir_bytes && age <= options_.max_age) continue;
    std::error_code e;
    if (fs::remove(f.path, e)) total -= f.size;
  }
}

}  // namespace accesslog
