#include "serve/http_connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

namespace tinyr2::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Waits up to `ms` (≥ 0) for `events` on the socket; > 0 ready, 0 timeout, < 0 error.
int wait_socket(socket_t sock, short events, int64_t ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

void address(const sockaddr_storage& a, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, host, sizeof(host), nullptr, 0,
                    NI_NUMERICHOST) == 0)
    ip = host;
  if (a.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
  else if (a.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
}

// A socket stream like httplib's own (a 4 KiB read buffer, per-operation timeouts), whose reads
// also fail once the current request's deadline has passed.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, std::chrono::microseconds read_timeout,
                 std::chrono::microseconds write_timeout)
      : sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  // Waits up to `idle` for the next request's first byte; then its deadline starts.
  bool next_request(std::chrono::milliseconds idle, std::chrono::milliseconds request_timeout) {
    if (off_ == size_ && wait_socket(sock_, POLLIN, idle.count()) <= 0) return false;
    deadline_ = Clock::now() + request_timeout;
    return true;
  }

  bool is_readable() const override { return off_ < size_ || wait_read() > 0; }
  bool is_writable() const override { return wait_socket(sock_, POLLOUT, ms(write_timeout_)) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    size = std::min(size, static_cast<size_t>(std::numeric_limits<ssize_t>::max()));
    if (off_ == size_) {
      if (wait_read() <= 0) return -1;
      ssize_t n;
      do n = ::recv(sock_, buf_, sizeof(buf_), 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      off_ = 0;
      size_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, size_ - off_);
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address(a, len, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address(a, len, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  static int64_t ms(std::chrono::microseconds d) { return (d.count() + 999) / 1000; }
  // Waits for input, no longer than the per-read timeout nor past the request's deadline.
  int wait_read() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) return 0;
    return wait_socket(sock_, POLLIN, ms(std::min(left, read_timeout_)));
  }

  socket_t sock_;
  std::chrono::microseconds read_timeout_, write_timeout_;
  Clock::time_point deadline_ = Clock::now();
  char buf_[4096];
  size_t off_ = 0, size_ = 0;
};

}  // namespace

bool HttpConnections::client_gone(const httplib::Request& req) const {
  socket_t sock;
  {
    std::lock_guard lk(mu_);
    const auto it = sockets_.find(&req);
    if (it == sockets_.end()) return false;
    sock = it->second;
  }
  // The socket stays open while its request is handled (this is called from the handler).
  pollfd p{sock, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  char c;
  const ssize_t n = ::recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool HttpConnections::process_and_close_socket(socket_t sock) {
  using std::chrono::microseconds, std::chrono::seconds;
  DeadlineStream strm(sock, seconds(read_timeout_sec_) + microseconds(read_timeout_usec_),
                      seconds(write_timeout_sec_) + microseconds(write_timeout_usec_));
  bool ret = false;
  for (size_t count = keep_alive_max_count_; count > 0 && svr_sock_ != INVALID_SOCKET; --count) {
    if (!strm.next_request(seconds(keep_alive_timeout_sec_), request_timeout_)) break;
    bool closed = false;
    const httplib::Request* handled = nullptr;
    try {
      ret = process_request(strm, count == 1, closed, [&](httplib::Request& req) {
        std::lock_guard lk(mu_);
        sockets_[&req] = sock;
        handled = &req;
      });
    } catch (...) {
      ret = false;
    }
    if (handled) {
      std::lock_guard lk(mu_);
      sockets_.erase(handled);
    }
    if (!ret || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace tinyr2::serve
