// A `tinyr2 serve` child process for the server tests: started with the given arguments on a
// free loopback port (--port 0), listening once it prints "listening on http://HOST:PORT" to
// stderr (captured in a file), ready once it prints "tinyr2 serve: ready" (the model loaded),
// killed (SIGTERM, then SIGKILL) when the object goes.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tinyr2::testing {

class ServerProcess {
 public:
  // args: after "tinyr2" (e.g. {"-t", "1", "serve", "-m", dir}); "--port 0" is appended.
  // wait_ready: return once the model is loaded, else once it listens. env: "NAME=VALUE"
  // entries added to the child's environment.
  ServerProcess(const std::vector<std::string>& args, const std::string& stderr_file,
                bool wait_ready = true, const std::vector<std::string>& env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }  // 0 when it did not come up
  bool running() const;               // not exited yet
  const std::string& log_file() const { return log_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

}  // namespace tinyr2::testing
