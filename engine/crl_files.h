#pragma once
// The CRL files named by inbound.crl_files, read once and read again when a
// file changes on disk (so publishing a new CRL needs no reload). Owned by
// the configuration snapshot (engine::Gateway): a generation lives as long as
// a verification still uses it, and no longer.
#include "smime/ossl/ptr.h"

#include <sys/types.h>

#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace segel::engine {

class CrlFiles {
public:
    using Set = std::vector<smime::ossl::Ptr<X509_CRL>>;

    /**
     * The current CRLs of each file, in order; each Set stays valid while the
     * caller holds it, even when the file is replaced meanwhile.
     * @throws smime::Error{Credential} naming a file that cannot be read
     */
    std::vector<std::shared_ptr<const Set>> get(const std::vector<std::string>& files) const;

private:
    struct Entry {
        std::shared_ptr<const Set> crls;
        time_t mtime = 0;
        long mtime_ns = 0;
        off_t size = 0;
    };
    mutable std::mutex m_mutex;
    mutable std::map<std::string, Entry> m_entries;
};

}  // namespace segel::engine
