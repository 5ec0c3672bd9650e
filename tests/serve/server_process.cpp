#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/cli.h"

namespace tinyr2::testing {

ServerProcess::ServerProcess(const std::vector<std::string>& args, const std::string& stderr_file,
                             bool wait_ready, const std::vector<std::string>& env)
    : log_(stderr_file) {
  std::vector<std::string> argv_s = {TINYR2_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  argv_s.insert(argv_s.end(), {"--port", "0"});
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;  // putenv keeps the pointers: alive until exec
  pid_ = ::fork();
  if (pid_ == 0) {
    for (std::string& e : env_s) ::putenv(e.data());
    const int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Up to 60 s (the sanitizer build loads slowly) for the "listening on" (and "ready") line.
  const std::string listening = "listening on http://";
  for (int i = 0; i < 600 && pid_ > 0 && running(); ++i) {
    const std::string text = read_file(stderr_file);
    const size_t at = text.find(listening);
    const size_t colon = at == std::string::npos ? at : text.find(':', at + listening.size());
    if (colon != std::string::npos && colon + 1 < text.size() &&
        std::isdigit(static_cast<unsigned char>(text[colon + 1])) &&
        (!wait_ready || text.find("tinyr2 serve: ready") != std::string::npos)) {
      port_ = std::stoi(text.substr(colon + 1));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool ServerProcess::running() const {
  if (pid_ <= 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

ServerProcess::~ServerProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

}  // namespace tinyr2::testing
