#pragma once
// The current gateway snapshot. Connections pin the snapshot they started
// with; a reload swaps it only after the new one loaded completely.
#include "engine/gateway.h"

#include <memory>
#include <mutex>
#include <string>

namespace segel::milter {

class Runtime {
public:
    Runtime(std::string config_path, std::shared_ptr<const engine::Gateway> gateway)
        : m_path(std::move(config_path)), m_gateway(std::move(gateway)) {}

    [[nodiscard]] std::shared_ptr<const engine::Gateway> snapshot() const {
        std::lock_guard lock(m_mutex);
        return m_gateway;
    }

    /** Loads the config again; on failure keeps the old snapshot and returns the reason. */
    bool reload(std::string& error);

    [[nodiscard]] const std::string& path() const { return m_path; }

private:
    std::string m_path;
    mutable std::mutex m_mutex;
    std::shared_ptr<const engine::Gateway> m_gateway;
};

/** The process-wide runtime, set once by main() before smfi_main(). */
Runtime& runtime();
void set_runtime(std::unique_ptr<Runtime> rt);

}  // namespace segel::milter
