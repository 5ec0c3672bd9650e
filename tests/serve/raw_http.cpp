#include "raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace tinyr2::testing {

RawConnection::RawConnection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) close();
}

RawConnection::~RawConnection() {
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string RawConnection::read_until_close(int timeout_ms, bool& closed) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string out;
  closed = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) return out;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return out;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed = true;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

RawResponse http_request(int port, const std::string& method, const std::string& path,
                         const std::string& body, const std::string& headers, int timeout_ms) {
  RawConnection c(port);
  RawResponse r;
  if (c.fd() < 0) return r;
  c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body);
  bool closed = false;
  const std::string text = c.read_until_close(timeout_ms, closed);
  if (text.size() < 12 || text.rfind("HTTP/1.1 ", 0) != 0) return r;
  r.status = std::atoi(text.substr(9, 3).c_str());
  const size_t at = text.find("\r\n\r\n");
  if (at != std::string::npos) r.body = text.substr(at + 4);
  return r;
}

long long metric(int port, const std::string& name, const std::string& headers) {
  const RawResponse r = http_request(port, "GET", "/metrics", "", headers);
  const std::string line = "\n" + name + " ";  // a sample line, not "# HELP name …"
  const std::string text = "\n" + r.body;
  const size_t at = text.find(line);
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + line.size());
}

}  // namespace tinyr2::testing
