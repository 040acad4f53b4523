#pragma once
// The current gateway snapshot. Connections pin the snapshot they started
// with; a reload swaps it only after the new one loaded completely.
#include "engine/gateway.h"

#include <atomic>
#include <cstddef>
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

/**
 * One message in progress (MAIL FROM to end of message or abort): a Transaction
 * holds one, so that a stop can let messages in progress finish (milter/main.cpp).
 */
class InFlight {
public:
    InFlight() { s_count.fetch_add(1, std::memory_order_relaxed); }
    ~InFlight() { s_count.fetch_sub(1, std::memory_order_release); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

    /** How many messages are in progress now. */
    static std::size_t count() { return s_count.load(std::memory_order_acquire); }

private:
    static inline std::atomic<std::size_t> s_count{0};
};

/** The daemon is stopping: new connections and new messages are answered 451 (set once, by main()). */
void begin_stop();
[[nodiscard]] bool stopping();

}  // namespace segel::milter
