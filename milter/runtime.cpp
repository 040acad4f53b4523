#include "milter/runtime.h"

#include "milter/audit_record.h"
#include "milter/incidents.h"

#include <stdexcept>

namespace segel::milter {

namespace {
std::unique_ptr<Runtime>& holder() {
    static std::unique_ptr<Runtime> rt;
    return rt;
}
std::atomic<bool> g_stopping{false};
}  // namespace

void begin_stop() {
    g_stopping.store(true);
}

bool stopping() {
    return g_stopping.load();
}

Runtime& runtime() {
    if (!holder()) {
        throw std::logic_error("runtime not initialised");
    }
    return *holder();
}

void set_runtime(std::unique_ptr<Runtime> rt) {
    holder() = std::move(rt);
}

bool Runtime::reload(std::string& error) {
    try {
        auto fresh = engine::Gateway::load(m_path);
        if (Incidents* i = incidents()) {
            i->reconfigure(*fresh);  // a new mailer (its seal loaded) first, or the reload fails
        }
        if (Recorder* r = recorder()) {
            r->reloaded(*fresh, m_path);  // the new trail opens first, or the reload fails
        }
        std::lock_guard lock(m_mutex);
        m_gateway = std::move(fresh);
        return true;
    } catch (const std::exception& e) {
        error = e.what();
        return false;
    }
}

}  // namespace segel::milter
