// Test PKI generated with the openssl CLI (Debian package `openssl`, a declared dependency).
#include "tests/support/pki.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

namespace testing_support {

std::string run_command(const std::string& cmd) {
  const std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
    out.append(buf.data(), n);
  const int rc = ::pclose(p);
  if (rc != 0)
    throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

test_pki& test_pki::instance() {
  static test_pki pki;
  return pki;
}

test_pki::test_pki() {
  ca_cert_ = dir_.file("ca.pem");
  ca_key_ = dir_.file("ca.key");
  run_command(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 400"
      " -subj '/CN=mapigate test CA' -keyout " +
      ca_key_ + " -out " + ca_cert_ +
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
}

leaf test_pki::issue(const std::string& name, const std::vector<std::string>& dns,
                     const std::vector<std::string>& ips, int days, key_type key,
                     const validity& dates) {
  static std::mutex m;
  static std::map<std::string, leaf> issued;
  std::lock_guard lock(m);
  if (auto it = issued.find(name); it != issued.end()) return it->second;
  leaf l{dir_.file(name + ".pem"), dir_.file(name + ".key")};
  std::string san = "subjectAltName=";
  bool first = true;
  for (const auto& d : dns) {
    san += (first ? "DNS:" : ",DNS:") + d;
    first = false;
  }
  for (const auto& ip : ips) {
    san += (first ? "IP:" : ",IP:") + ip;
    first = false;
  }
  const std::string ext = dir_.file(name + ".ext");
  write_file(ext, san + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  const std::string csr = dir_.file(name + ".csr");
  const std::string cn = dns.empty() ? name : dns.front();
  const char* newkey =
      key == key_type::rsa_2048 ? "rsa:2048" : "ec -pkeyopt ec_paramgen_curve:prime256v1";
  run_command(std::string("openssl req -newkey ") + newkey + " -nodes -subj '/CN=" + cn +
              "' -keyout " + l.key + " -out " + csr);
  if (!dates.not_before.empty()) {
    // `openssl x509` (3.0) can only start a certificate now; `openssl ca` takes both dates.
    const std::string db = dir_.file(name + ".index"), serial = dir_.file(name + ".serial");
    const std::string cnf = dir_.file(name + ".ca.cnf");
    write_file(db, "");
    write_file(serial, "1000\n");
    write_file(cnf, "[ca]\ndefault_ca = d\n[d]\ndatabase = " + db +
                        "\nnew_certs_dir = " + dir_.path().string() + "\nserial = " + serial +
                        "\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                        "[p]\ncommonName = supplied\n");
    run_command("openssl ca -batch -notext -config " + cnf + " -cert " + ca_cert_ + " -keyfile " +
                ca_key_ + " -in " + csr + " -out " + l.cert + " -extfile " + ext + " -startdate " +
                dates.not_before + " -enddate " + dates.not_after);
  } else {
    run_command("openssl x509 -req -days " + std::to_string(days) + " -in " + csr + " -CA " +
                ca_cert_ + " -CAkey " + ca_key_ + " -CAcreateserial -out " + l.cert + " -extfile " +
                ext);
  }
  issued.emplace(name, l);
  return l;
}

leaf test_pki::issue_dated(const std::string& name, const std::vector<std::string>& dns,
                           const validity& dates) {
  return issue(name, dns, {}, 0, key_type::ec_p256, dates);
}

}  // namespace testing_support
