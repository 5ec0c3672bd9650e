// Raw HTTP/1.1 over a loopback socket for the server tests: full control of what is sent and
// when the connection closes (a client that hangs up, one that trickles bytes).
#pragma once

#include <string>

namespace tinyr2::testing {

// A connected TCP socket to 127.0.0.1:port (closed when the object goes); fd() < 0 on failure.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  int fd() const { return fd_; }
  bool send(const std::string& bytes);  // false when the peer is gone
  // Reads what arrives until the peer closes or `timeout_ms` passes; returns it, and sets
  // `closed` to whether the peer closed (or reset) the connection.
  std::string read_until_close(int timeout_ms, bool& closed);
  void close();

 private:
  int fd_ = -1;
};

struct RawResponse {
  int status = 0;  // 0: no response
  std::string body;
};

// One request with "Connection: close"; the response (read up to `timeout_ms`).
RawResponse http_request(int port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& headers = "",
                         int timeout_ms = 10000);

// A Prometheus value of GET /metrics (−1 when missing).
long long metric(int port, const std::string& name, const std::string& headers = "");

}  // namespace tinyr2::testing
