// The connection layer under the HTTP routes (SPEC §14): cpp-httplib's Server with its own
// per-connection socket loop, for the two things Debian's httplib 0.11 cannot do by itself:
//
//   - an overall deadline per request: the request line, the headers and the body must all
//     arrive within `request_timeout` of the request's first byte. httplib alone only bounds
//     each read, so a client that trickles one byte per half second (slowloris) would hold a
//     connection forever; here it is cut off after `request_timeout` in total.
//   - client_gone(req): whether the client of a request being handled has closed its
//     connection (llama.cpp's req.is_connection_closed, which httplib 0.11 lacks), so that a
//     non-streaming request whose client left stops generating.
//
// Keep-alive follows httplib: up to keep_alive_max_count requests per connection, each
// awaited at most keep_alive_timeout; per-read and per-write timeouts as set on the Server.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

namespace tinyr2::serve {

class HttpConnections : public httplib::Server {
 public:
  explicit HttpConnections(std::chrono::milliseconds request_timeout)
      : request_timeout_(request_timeout) {}

  // Whether the client that sent `req` (a request whose handler is running now) has closed or
  // reset its connection. False for a request this server is not handling.
  bool client_gone(const httplib::Request& req) const;

 private:
  bool process_and_close_socket(socket_t sock) override;

  std::chrono::milliseconds request_timeout_;
  mutable std::mutex mu_;
  std::unordered_map<const httplib::Request*, socket_t> sockets_;  // requests being handled
};

}  // namespace tinyr2::serve
