// Test-side HTTP/1.1 client (plain or TLS) with a deadline on every read, plus request builders.
#include "tests/tools/sim_test_client.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace simtest {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

std::vector<std::string> response::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

int response::response_code() const {
  std::string v = header("X-ResponseCode");
  return v.empty() ? -1 : std::stoi(v);
}

struct client::impl {
  net::io_context ioc;
  ssl::context tls_context{ssl::context::tls_client};
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  std::optional<tcp::socket> plain;
  std::string buffer;
  bool eof = false;

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }

  /// Runs the async operation started by `start` until it completes or the deadline passes
  /// (then the socket is closed and std::runtime_error thrown).
  template <class Start>
  void run(Start start, std::chrono::steady_clock::time_point deadline, const char* what) {
    bool done = false;
    ioc.restart();
    start(done);
    ioc.run_until(deadline);
    if (!done) {
      boost::system::error_code ignored;
      socket().close(ignored);
      ioc.restart();
      ioc.run();
      throw std::runtime_error(std::string("test client: timeout while ") + what);
    }
  }

  /// Appends what arrives to `buffer`; false on EOF/error.
  bool read_more(std::chrono::steady_clock::time_point deadline) {
    if (eof) return false;
    char data[16384];
    boost::system::error_code result;
    std::size_t count = 0;
    run(
        [&](bool& done) {
          auto handler = [&](boost::system::error_code ec, std::size_t n) {
            result = ec;
            count = n;
            done = true;
          };
          if (tls) {
            tls->async_read_some(net::buffer(data), handler);
          } else {
            plain->async_read_some(net::buffer(data), handler);
          }
        },
        deadline, "reading");
    buffer.append(data, count);
    if (result) eof = true;
    return !result || count > 0;
  }

  std::string take_line(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      std::size_t end = buffer.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        return line;
      }
      if (!read_more(deadline)) throw std::runtime_error("test client: connection closed");
    }
  }

  std::string take(std::size_t n, std::chrono::steady_clock::time_point deadline) {
    while (buffer.size() < n) {
      if (!read_more(deadline)) throw std::runtime_error("test client: connection closed");
    }
    std::string out = buffer.substr(0, n);
    buffer.erase(0, n);
    return out;
  }
};

client::client(std::uint16_t port, bool tls) : impl_(std::make_unique<impl>()) {
  auto& self = *impl_;
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  if (tls) {
    self.tls_context.set_verify_mode(ssl::verify_none);
    self.tls = std::make_unique<ssl::stream<tcp::socket>>(self.ioc, self.tls_context);
    self.tls->next_layer().connect(endpoint);
    boost::system::error_code result;
    self.run(
        [&](bool& done) {
          self.tls->async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
            result = ec;
            done = true;
          });
        },
        std::chrono::steady_clock::now() + 5s, "handshaking");
    if (result) throw std::runtime_error("test client: TLS handshake: " + result.message());
  } else {
    self.plain.emplace(self.ioc);
    self.plain->connect(endpoint);
  }
  self.socket().set_option(tcp::no_delay(true));
}

client::~client() {
  close();
}

void client::send(std::string_view bytes) {
  auto& self = *impl_;
  boost::system::error_code result;
  self.run(
      [&](bool& done) {
        auto handler = [&](boost::system::error_code ec, std::size_t) {
          result = ec;
          done = true;
        };
        if (self.tls) {
          net::async_write(*self.tls, net::buffer(bytes), handler);
        } else {
          net::async_write(*self.plain, net::buffer(bytes), handler);
        }
      },
      std::chrono::steady_clock::now() + 5s, "writing");
  if (result) throw std::runtime_error("test client: write: " + result.message());
}

response client::read_head(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  response r;
  std::string status_line = impl_->take_line(deadline);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
    throw std::runtime_error("test client: bad status line: " + status_line);
  }
  r.status = std::stoi(status_line.substr(9, 3));
  for (;;) {
    std::string line = impl_->take_line(deadline);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("test client: bad header: " + line);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  r.chunked = iequals(r.header("Transfer-Encoding"), "chunked");
  return r;
}

std::string client::read_chunk(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string size_line = impl_->take_line(deadline);
  std::size_t size = std::stoul(size_line, nullptr, 16);
  if (size == 0) {
    while (!impl_->take_line(deadline).empty()) {
    }
    return {};
  }
  std::string payload = impl_->take(size, deadline);
  if (impl_->take(2, deadline) != "\r\n") throw std::runtime_error("test client: bad chunk end");
  return payload;
}

response client::read_response(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  response r = read_head(timeout);
  if (r.status == 100) return read_response(timeout);
  if (r.chunked) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::string payload = read_chunk(std::max(left, 1ms));
      if (payload.empty()) break;
      r.body += payload;
      r.chunks.push_back(std::move(payload));
    }
  } else if (std::string length = r.header("Content-Length"); !length.empty()) {
    r.body = impl_->take(std::stoul(length), deadline);
  }
  return r;
}

bool client::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    while (impl_->read_more(deadline))
      impl_->buffer.clear();
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

void client::close() {
  boost::system::error_code ignored;
  if (impl_->tls || impl_->plain) impl_->socket().close(ignored);
}

void client::close_gracefully() {
  auto& self = *impl_;
  if (self.tls) {
    // Sends close_notify; the server answers by closing, which ends the shutdown either way.
    try {
      self.run([&](bool& done) { self.tls->async_shutdown([&](auto) { done = true; }); },
               std::chrono::steady_clock::now() + 2s, "shutting down TLS");
    } catch (const std::runtime_error&) {
    }
  } else if (self.plain) {
    boost::system::error_code ignored;
    self.plain->shutdown(tcp::socket::shutdown_send, ignored);
  }
  close();
}

std::string mapi_request(std::string_view endpoint, std::string_view type,
                         std::string_view request_id, std::string_view cookie,
                         std::string_view extra, std::string_view body) {
  std::string out = "POST /mapi/" + std::string(endpoint) +
                    "/?MailboxId=6a2a8b4c-1d2e-4f00-9a1b-2c3d4e5f6a7b@example.test HTTP/1.1\r\n"
                    "Host: mail.example.test\r\n"
                    "Content-Type: application/mapi-http\r\n"
                    "X-RequestType: " +
                    std::string(type) + "\r\nX-RequestId: " + std::string(request_id) +
                    "\r\nX-ClientInfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1\r\n"
                    "X-ClientApplication: Outlook/16.0.17328.20000\r\n";
  if (!cookie.empty()) out += "Cookie: " + std::string(cookie) + "\r\n";
  out += extra;
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

void cookie_jar::update(const response& r) {
  for (const std::string& set : r.all("Set-Cookie")) {
    std::string pair = set.substr(0, set.find(';'));
    std::size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    std::string name = pair.substr(0, eq);
    std::erase_if(cookies_, [&](const auto& c) { return c.first == name; });
    if (set.find("expires=Thu, 01 Jan 1970") == std::string::npos) {
      cookies_.emplace_back(name, pair.substr(eq + 1));
    }
  }
}

std::string cookie_jar::header() const {
  std::string out;
  for (const auto& [name, value] : cookies_) {
    if (!out.empty()) out += "; ";
    out += name + '=' + value;
  }
  return out;
}

std::string cookie_jar::get(std::string_view name) const {
  for (const auto& [n, v] : cookies_) {
    if (n == name) return v;
  }
  return {};
}

temp_certificate::temp_certificate() {
  std::random_device device;
  auto dir = std::filesystem::temp_directory_path() /
             ("mapigate-sim-test-" + std::to_string(::getpid()) + "-" + std::to_string(device()));
  std::filesystem::create_directories(dir);
  dir_ = dir.string();
  cert_ = (dir / "cert.pem").string();
  key_ = (dir / "key.pem").string();

  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) throw std::runtime_error("cannot create test key");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  bool ok = X509_sign(cert, key, EVP_sha256()) > 0;
  FILE* cert_out = std::fopen(cert_.c_str(), "w");
  FILE* key_out = std::fopen(key_.c_str(), "w");
  ok = ok && cert_out && key_out && PEM_write_X509(cert_out, cert) == 1 &&
       PEM_write_PrivateKey(key_out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (cert_out) std::fclose(cert_out);
  if (key_out) std::fclose(key_out);
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("cannot write test certificate");
}

temp_certificate::~temp_certificate() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace simtest
