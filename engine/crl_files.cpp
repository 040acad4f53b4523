#include "engine/crl_files.h"

#include "smime/error.h"
#include "smime/verify.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace segel::engine {

std::vector<std::shared_ptr<const CrlFiles::Set>> CrlFiles::get(const std::vector<std::string>& files) const {
    std::vector<std::shared_ptr<const Set>> out;
    const std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& f : files) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0) {
            throw smime::Error(smime::Category::Credential, "cannot read CRL file " + f + ": " + std::strerror(errno));
        }
        Entry& e = m_entries[f];
        if (!e.crls || e.mtime != st.st_mtim.tv_sec || e.mtime_ns != st.st_mtim.tv_nsec || e.size != st.st_size) {
            e.crls = std::make_shared<const Set>(smime::load_crls(f));
            e.mtime = st.st_mtim.tv_sec;
            e.mtime_ns = st.st_mtim.tv_nsec;
            e.size = st.st_size;
        }
        out.push_back(e.crls);
    }
    return out;
}

}  // namespace segel::engine
