// file_set tests: lazy open, hourly and size rollover, sequence numbers, retention.
#include "accesslog/file_set.hpp"

#include <gtest/gtest.h>

#include "accesslog/format.hpp"
#include "test_support.hpp"

namespace accesslog {
namespace {

namespace fs = std::filesystem;
using namespace accesslog_test;

class FileSet : public ::testing::Test {
 protected:
  file_set_options options() {
    return {.directory = dir_.path(),
            .family = "Mapi",
            .version = "00.01.0000.000",
            .clock = clock_.fn()};
  }
  fs::path folder() const { return dir_.path() / "HttpProxy" / "Mapi"; }
  std::string line(int i) {
    auto r = mapi_execute();
    r.x_request_id = "req-" + std::to_string(i);
    return format_line(r, {});
  }
  // Pre-existing log file of `bytes` bytes, last written at `written` (system time).
  void old_file(const std::string& name, std::size_t bytes, sys_time written) {
    write_file(folder() / name, bytes);
    fs::last_write_time(folder() / name, std::chrono::file_clock::from_sys(written));
  }

  temp_dir dir_;
  manual_clock clock_{test_time()};
};

TEST_F(FileSet, OpensLazilyAndNamesFilesByUtcHour) {
  file_set files(options());
  EXPECT_EQ(files.folder(), folder());
  EXPECT_TRUE(files.current_file().empty());
  EXPECT_TRUE(names_in(dir_.path()).empty());  // nothing on disk before the first record

  ASSERT_FALSE(files.append(line(1)));
  ASSERT_FALSE(files.flush());
  EXPECT_EQ(names_in(folder()), (std::vector<std::string>{"HttpProxy_2026030114-1.LOG"}));
  EXPECT_EQ(files.current_file(), folder() / "HttpProxy_2026030114-1.LOG");
  EXPECT_EQ(read_all(files.current_file()), header_block(test_time(), "00.01.0000.000") + line(1));
}

TEST_F(FileSet, NewFileWhenTheHourChanges) {
  file_set files(options());
  ASSERT_FALSE(files.append(line(1)));
  clock_.advance(30min);  // 14:55, same hour
  ASSERT_FALSE(files.append(line(2)));
  clock_.advance(10min);  // 15:05
  ASSERT_FALSE(files.append(line(3)));
  ASSERT_FALSE(files.flush());
  EXPECT_EQ(names_in(folder()),
            (std::vector<std::string>{"HttpProxy_2026030114-1.LOG", "HttpProxy_2026030115-1.LOG"}));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-1.LOG"),
            header_block(test_time(), "00.01.0000.000") + line(1) + line(2));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030115-1.LOG"),
            header_block(test_time() + 40min, "00.01.0000.000") + line(3));
}

TEST_F(FileSet, NewFileWhenTheSizeWouldBeExceeded) {
  const auto header = header_block(test_time(), "00.01.0000.000");
  auto o = options();
  o.max_file_bytes = header.size() + 2 * line(0).size();  // lines have equal length
  file_set files(o);
  for (int i = 0; i < 5; ++i)
    ASSERT_FALSE(files.append(line(i)));
  ASSERT_FALSE(files.flush());
  EXPECT_EQ(names_in(folder()),
            (std::vector<std::string>{"HttpProxy_2026030114-1.LOG", "HttpProxy_2026030114-2.LOG",
                                      "HttpProxy_2026030114-3.LOG"}));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-1.LOG"), header + line(0) + line(1));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-2.LOG"), header + line(2) + line(3));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-3.LOG"), header + line(4));
}

TEST_F(FileSet, AFreshFileTakesAnEntryLargerThanTheLimit) {
  auto o = options();
  o.max_file_bytes = 10;
  file_set files(o);
  ASSERT_FALSE(files.append(line(1)));
  ASSERT_FALSE(files.append(line(2)));
  ASSERT_FALSE(files.flush());
  const auto header = header_block(test_time(), "00.01.0000.000");
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-1.LOG"), header + line(1));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-2.LOG"), header + line(2));
}

TEST_F(FileSet, ContinuesTheSequenceAfterFilesOnDisk) {
  for (const auto* name :
       {"HttpProxy_2026030114-1.LOG", "HttpProxy_2026030114-3.LOG", "HttpProxy_2026030114-x.LOG",
        "HttpProxy_2026030113-7.LOG", "HttpProxy_2026030114-9.LOG.old"}) {
    old_file(name, 10, test_time());
  }
  file_set files(options());
  ASSERT_FALSE(files.append(line(1)));
  EXPECT_EQ(files.current_file(), folder() / "HttpProxy_2026030114-4.LOG");
  EXPECT_EQ(read_all(folder() / "HttpProxy_2026030114-3.LOG"), std::string(10, 'x'));
}

TEST_F(FileSet, RetentionDeletesOldestWhileTheTreeIsTooBig) {
  old_file("HttpProxy_2026030111-1.LOG", 100'000, test_time() - 3h);
  old_file("HttpProxy_2026030112-1.LOG", 100'000, test_time() - 2h);
  old_file("HttpProxy_2026030113-1.LOG", 100'000, test_time() - 1h);
  old_file("notes.txt", 1'000'000, test_time() - 48h);  // not ours: neither counted nor deleted
  auto o = options();
  o.max_dir_bytes = 250'000;  // 300'000 + the new file: only the oldest has to go
  file_set files(o);
  ASSERT_FALSE(files.append(line(1)));
  EXPECT_EQ(names_in(folder()),
            (std::vector<std::string>{"HttpProxy_2026030112-1.LOG", "HttpProxy_2026030113-1.LOG",
                                      "HttpProxy_2026030114-1.LOG", "notes.txt"}));
}

TEST_F(FileSet, RetentionCountsEveryProtocolFolderAndKeepsTheirOpenFiles) {
  // One budget for the tree: Ews's old file goes although the Mapi folder alone is small, and
  // Ews's open file stays although it is the oldest file left.
  const auto ews = dir_.path() / "HttpProxy" / "Ews";
  write_file(ews / "HttpProxy_2026030110-1.LOG", 200'000);
  fs::last_write_time(ews / "HttpProxy_2026030110-1.LOG",
                      std::chrono::file_clock::from_sys(test_time() - 4h));
  write_file(ews / "HttpProxy_2026030111-1.LOG", 200'000);
  fs::last_write_time(ews / "HttpProxy_2026030111-1.LOG",
                      std::chrono::file_clock::from_sys(test_time() - 3h));
  old_file("HttpProxy_2026030113-1.LOG", 100'000, test_time() - 1h);
  auto o = options();
  o.max_dir_bytes = 150'000;
  o.in_use = [&](const fs::path& p) { return p == ews / "HttpProxy_2026030111-1.LOG"; };
  file_set files(o);
  ASSERT_FALSE(files.append(line(1)));
  EXPECT_EQ(names_in(ews), (std::vector<std::string>{"HttpProxy_2026030111-1.LOG"}));
  // Still over budget with Ews's open file kept: Mapi's closed file goes too, the open one stays.
  EXPECT_EQ(names_in(folder()), (std::vector<std::string>{"HttpProxy_2026030114-1.LOG"}));
}

TEST_F(FileSet, RetentionDeletesFilesOlderThanMaxAge) {
  old_file("HttpProxy_2026012800-1.LOG", 10, test_time() - 24h * 40);
  old_file("HttpProxy_2026013000-1.LOG", 10, test_time() - 24h * 30 - 1s);
  old_file("HttpProxy_2026013100-1.LOG", 10, test_time() - 24h * 29);
  auto o = options();
  o.max_age = 24h * 30;
  file_set files(o);
  ASSERT_FALSE(files.append(line(1)));
  EXPECT_EQ(names_in(folder()),
            (std::vector<std::string>{"HttpProxy_2026013100-1.LOG", "HttpProxy_2026030114-1.LOG"}));
}

TEST_F(FileSet, RetentionNeverDeletesTheOpenFile) {
  // A century ahead, so that by the injected clock even the files written now are too old.
  using namespace std::chrono;
  const accesslog_test::sys_time future = sys_days{year{2126} / 3 / 1} + 14h;
  manual_clock clock(future);
  old_file("HttpProxy_2126030113-1.LOG", 10, future - 1h);
  auto o = options();
  o.clock = clock.fn();
  o.max_dir_bytes = 1;  // every file is over budget
  o.max_age = 1s;       // and too old
  o.max_file_bytes = 1;
  file_set files(o);
  ASSERT_FALSE(files.append(line(1)));
  EXPECT_EQ(names_in(folder()), (std::vector<std::string>{"HttpProxy_2126030114-1.LOG"}));

  clock.advance(10min);
  ASSERT_FALSE(files.append(line(2)));  // size rollover to -2; -1 goes, -2 stays
  ASSERT_FALSE(files.flush());
  EXPECT_EQ(names_in(folder()), (std::vector<std::string>{"HttpProxy_2126030114-2.LOG"}));
  EXPECT_EQ(read_all(folder() / "HttpProxy_2126030114-2.LOG"),
            header_block(future + 10min, "00.01.0000.000") + line(2));
}

TEST_F(FileSet, ErrorsAreReturnedNotThrown) {
  write_file(dir_.path() / "blocker", 1);
  auto o = options();
  o.directory = dir_.path() / "blocker";  // a regular file: the folder cannot be created
  file_set files(o);
  EXPECT_TRUE(files.append(line(1)));
  EXPECT_TRUE(files.current_file().empty());
  EXPECT_FALSE(files.flush());
}

}  // namespace
}  // namespace accesslog
