// Stand-in for libFuzzer's main: runs the target over every seed file in the corpus directory
// and over a fixed number of deterministic mutations of them (bounded count, fixed seed), so a
// plain g++ sanitizer build exercises each target on every test run. Prints a closing line.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> seeds;
  if (argc > 1 && std::filesystem::is_directory(argv[1])) {
    for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
      std::ifstream f(e.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  std::mt19937_64 rng(0x6d61706967617465ULL);  // fixed: a failure reproduces
  constexpr int mutations_per_seed = 20000;
  std::size_t runs = 0;
  for (const auto& seed : seeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size());
    ++runs;
    for (int i = 0; i < mutations_per_seed; ++i) {
      std::string s = seed;
      const int edits = 1 + int(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        const auto pos = s.empty() ? 0 : rng() % (s.size() + 1);
        switch (rng() % 4) {
          case 0:  // flip a byte
            if (!s.empty()) s[pos % s.size()] = char(rng());
            break;
          case 1:  // insert an interesting byte
            s.insert(s.begin() + pos, "\r\n: \t\0%@?/"[rng() % 10]);
            break;
          case 2:  // delete a run
            if (!s.empty()) s.erase(pos % s.size(), 1 + rng() % 8);
            break;
          case 3:  // duplicate a run
            if (!s.empty()) {
              const auto from = rng() % s.size();
              s.insert(pos, s.substr(from, 1 + rng() % 16));
            }
            break;
        }
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  std::printf("%zu inputs run, 0 crashes\n", runs);
  return 0;
}
