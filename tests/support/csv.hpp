// Reading HttpProxy log files in tests the way log tooling does: CRLF lines, and an
// Import-Csv-like CSV reader. Header-only; gtest assertions report malformed lines.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace testing_support {

/// Splits CRLF-terminated text into lines (without the CRLF). Fails the test on a bare CR/LF.
inline std::vector<std::string> crlf_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto end = text.find("\r\n");
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "unterminated line: " << text;
      break;
    }
    const auto line = text.substr(0, end);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string_view::npos) << line;
    out.emplace_back(line);
    text.remove_prefix(end + 2);
  }
  return out;
}

/// The fields of one CSV line (no line break), as RFC 4180 and Import-Csv read them: a field
/// starting with '"' is quoted ("" is a quote; ',' is data), a '"' later in a field is literal.
inline std::vector<std::string> csv_fields(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  bool field_start = true;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == ',') {
      fields.emplace_back();
      field_start = true;
      continue;
    } else if (c == '"' && field_start) {
      quoted = true;
    } else {
      fields.back().push_back(c);
    }
    field_start = false;
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field: " << line;
  return fields;
}

/// A CSV file read the way PowerShell 7's Import-Csv reads one: a field starting with '"' is
/// quoted (may contain ',' and line breaks; "" is a quote), a '"' later in a field is literal.
/// Lines starting with '#' are skipped, except that `#Fields:` gives the column names; the
/// first other line, while no names are known, is the header.
struct csv_file {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::size_t> widths;  ///< field count of each row
};

inline csv_file read_csv(std::string_view text) {
  csv_file out;
  std::size_t i = 0;
  const auto at_line_end = [&] {
    if (i < text.size() && text[i] == '\r') ++i;
    if (i < text.size() && text[i] == '\n') ++i;
  };
  while (i < text.size()) {
    if (text[i] == '#') {
      auto end = text.find_first_of("\r\n", i);
      if (end == std::string_view::npos) end = text.size();
      const auto line = text.substr(i, end - i);
      i = end;
      at_line_end();
      constexpr std::string_view fields = "#Fields: ";
      if (line.starts_with(fields)) {
        out.columns.clear();
        std::string name;
        for (const char c : line.substr(fields.size())) {
          if (c == ',') {
            out.columns.push_back(std::move(name));
            name.clear();
          } else {
            name.push_back(c);
          }
        }
        out.columns.push_back(std::move(name));
      }
      continue;
    }
    if (out.columns.empty()) {  // a bare header line
      auto end = text.find_first_of("\r\n", i);
      if (end == std::string_view::npos) end = text.size();
      out.columns = csv_fields(text.substr(i, end - i));
      i = end;
      at_line_end();
      continue;
    }
    std::vector<std::string> fields(1);
    bool quoted = false;
    bool field_start = true;
    while (i < text.size()) {
      const char c = text[i];
      if (quoted) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
          fields.back().push_back('"');
          i += 2;
        } else if (c == '"') {
          quoted = false;
          ++i;
        } else {
          fields.back().push_back(c);
          ++i;
        }
      } else if (c == ',') {
        fields.emplace_back();
        field_start = true;
        ++i;
        continue;
      } else if (c == '\r' || c == '\n') {
        break;
      } else if (c == '"' && field_start) {
        quoted = true;
        ++i;
      } else {
        fields.back().push_back(c);
        ++i;
      }
      field_start = false;
    }
    at_line_end();
    out.widths.push_back(fields.size());
    std::map<std::string, std::string> row;
    for (std::size_t k = 0; k < fields.size() && k < out.columns.size(); ++k) {
      row[out.columns[k]] = fields[k];
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

/// A CSV file read the way Windows PowerShell 5.1's Import-Csv reads one, the shell on every
/// Exchange server: the first line is the header, and every later line is a row, '#' lines
/// included (5.1 does not skip them). CRLF lines; no line breaks inside fields.
inline csv_file read_csv_as_windows_powershell(std::string_view text) {
  csv_file out;
  bool first = true;
  for (const auto& line : crlf_lines(text)) {
    auto fields = csv_fields(line);
    if (first) {
      out.columns = std::move(fields);
      first = false;
      continue;
    }
    out.widths.push_back(fields.size());
    std::map<std::string, std::string> row;
    for (std::size_t k = 0; k < out.columns.size(); ++k)
      row[out.columns[k]] = k < fields.size() ? fields[k] : std::string();
    out.rows.push_back(std::move(row));
  }
  return out;
}

/// Every record of the HttpProxy files under `<dir>/HttpProxy/<folder>` (none when it does not
/// exist); `dir` is a log root whose writer has stopped (its stop flushes).
inline std::vector<std::map<std::string, std::string>> http_proxy_rows(
    const std::filesystem::path& dir, const std::string& folder) {
  std::vector<std::map<std::string, std::string>> rows;
  const auto path = dir / "HttpProxy" / folder;
  if (!std::filesystem::exists(path)) return rows;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto csv = read_csv(text.str());
    rows.insert(rows.end(), csv.rows.begin(), csv.rows.end());
  }
  return rows;
}

}  // namespace testing_support
