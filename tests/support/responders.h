#pragma once
// integration/responders.py (OCSP, CRL and TSA responders on 127.0.0.1) run
// as a child process for a unit test: a real HTTP server, started per test
// and stopped by the destructor.
#include <string>
#include <vector>

namespace segel::test {

class Responders {
public:
    /** Starts responders.py with @p args (see the top of integration/responders.py); waits for its port. */
    explicit Responders(const std::vector<std::string>& args);
    ~Responders();
    Responders(const Responders&) = delete;
    Responders& operator=(const Responders&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    /** "http://127.0.0.1:PORT" + @p path */
    [[nodiscard]] std::string url(const std::string& path) const;
    /** Sets a fault mode (ok, down, slow:N, garbage, http500, ...) for @p path. @throws std::runtime_error */
    void fault(const std::string& path, const std::string& mode) const;
    /** The request log so far (one JSON object per line). */
    [[nodiscard]] std::string log() const;
    /** A private scratch directory (removed by the destructor). */
    [[nodiscard]] const std::string& dir() const { return m_dir; }

private:
    int m_pid = -1;
    int m_port = 0;
    std::string m_dir;
};

/** A TCP port on 127.0.0.1 nothing listens on (bound, then closed): connections are refused. */
int closed_port();

}  // namespace segel::test
