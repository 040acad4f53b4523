#include "tests/support/responders.h"

#include "services/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef SEGEL_SOURCE_DIR
#error "SEGEL_SOURCE_DIR must name the source tree (for integration/responders.py)"
#endif

namespace segel::test {

Responders::Responders(const std::vector<std::string>& args) {
    char templ[] = "/tmp/segel-unit-resp-XXXXXX";
    m_dir = mkdtemp(templ);
    const std::string port_file = m_dir + "/port";
    std::vector<std::string> argv = {"python3", std::string(SEGEL_SOURCE_DIR) + "/integration/responders.py",
                                     "--port-file", port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;  // made before fork: the child only calls async-signal-safe functions
    for (auto& a : argv) {
        cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    const std::string out = m_dir + "/responders.out";
    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execvp("python3", cargs.data());
        _exit(127);
    }
    m_pid = pid;
    for (int i = 0; i < 200 && m_port == 0; ++i) {
        std::ifstream in(port_file);
        if (!(in >> m_port)) {
            m_port = 0;
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                std::ifstream err(m_dir + "/responders.out");
                std::stringstream ss;
                ss << err.rdbuf();
                throw std::runtime_error("responders.py exited: " + ss.str());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    if (m_port == 0) {
        throw std::runtime_error("responders.py did not start within 10 s");
    }
}

Responders::~Responders() {
    if (m_pid > 0) {
        kill(m_pid, SIGTERM);
        int status = 0;
        waitpid(m_pid, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

std::string Responders::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

void Responders::fault(const std::string& path, const std::string& mode) const {
    const auto r = services::http::post(url("/_control/fault"), "application/json",
                                        "{\"path\": \"" + path + "\", \"mode\": \"" + mode + "\"}", {});
    if (!r.ok()) {
        throw std::runtime_error("responders: cannot set " + mode + " on " + path + ": " + r.error);
    }
}

std::string Responders::log() const {
    return services::http::get(url("/_control/log"), {}).body;
}

int closed_port() {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    close(s);
    return ntohs(a.sin_port);
}

}  // namespace segel::test
