#include "smime/blob.h"

#include "smime/error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace segel::smime {

namespace {
constexpr std::size_t k_window = 2 * 1024 * 1024;  ///< how much of a spool file Blob::read maps at once

std::string default_dir() {
    const char* tmp = std::getenv("TMPDIR");
    return tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp";
}

/**
 * Spool files kept for the next large message. Writing over pages a file
 * already has costs about half of writing a new file (no page allocation, no
 * block reservation, no eviction at close: 20 MB ≈ 6 ms instead of 12–15 ms
 * here). At most k_pooled files of at most k_pooled_size bytes are kept, per
 * directory; a reused file may be longer than what is written into it, and
 * every reader is bounded by the Blob's size. The files are unlinked and
 * private to this process (mode 0600).
 */
constexpr std::size_t k_pooled = 4;
constexpr std::size_t k_pooled_size = 64 * 1024 * 1024;

struct Pooled {
    std::string dir;
    int fd;
};
std::mutex g_pool_mutex;
std::vector<Pooled> g_pool;

int take_pooled(const std::string& dir) {
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return -1;  // the directory is gone or closed to us: say so (spill()), do not hide it
    }
    const std::lock_guard<std::mutex> lock(g_pool_mutex);
    for (auto it = g_pool.begin(); it != g_pool.end(); ++it) {
        if (it->dir == dir) {
            const int fd = it->fd;
            g_pool.erase(it);
            return fd;
        }
    }
    return -1;
}

void give_back(const std::string& dir, int fd, std::size_t used) {
    if (used <= k_pooled_size) {
        int evicted = -1;
        {
            const std::lock_guard<std::mutex> lock(g_pool_mutex);
            if (g_pool.size() >= k_pooled) {
                // Full: a file of another directory (the spool directory changed on reload)
                // makes room; files of the current one are not replaced.
                const auto other =
                    std::find_if(g_pool.begin(), g_pool.end(), [&dir](const Pooled& p) { return p.dir != dir; });
                if (other != g_pool.end()) {
                    evicted = other->fd;
                    g_pool.erase(other);
                }
            }
            if (g_pool.size() < k_pooled) {
                g_pool.push_back({dir, fd});
                fd = -1;
            }
        }
        if (evicted >= 0) {
            ::close(evicted);
        }
    }
    if (fd >= 0) {
        ::close(fd);
    }
}
}  // namespace

Blob::Blob(std::size_t memory_limit, std::string spool_dir) : m_limit(memory_limit), m_dir(std::move(spool_dir)) {}

Blob::~Blob() {
    unmap();
    release();
}

void Blob::release() noexcept {
    if (m_fd >= 0) {
        try {
            give_back(m_dir.empty() ? default_dir() : m_dir, m_fd, m_size);
        } catch (...) {
            ::close(m_fd);
        }
        m_fd = -1;
    }
}

Blob::Blob(Blob&& other) noexcept
    : m_limit(other.m_limit),
      m_dir(std::move(other.m_dir)),
      m_mem(std::move(other.m_mem)),
      m_fd(std::exchange(other.m_fd, -1)),
      m_size(std::exchange(other.m_size, 0)),
      m_map(std::exchange(other.m_map, nullptr)),
      m_map_len(std::exchange(other.m_map_len, 0)) {}

Blob& Blob::operator=(Blob&& other) noexcept {
    if (this != &other) {
        unmap();
        release();
        m_limit = other.m_limit;
        m_dir = std::move(other.m_dir);
        m_mem = std::move(other.m_mem);
        m_fd = std::exchange(other.m_fd, -1);
        m_size = std::exchange(other.m_size, 0);
        m_map = std::exchange(other.m_map, nullptr);
        m_map_len = std::exchange(other.m_map_len, 0);
    }
    return *this;
}

Blob Blob::from(std::string_view bytes) {
    Blob blob(bytes.size() + 1);
    blob.append(bytes);
    return blob;
}

void Blob::spill() {
    const std::string dir = m_dir.empty() ? default_dir() : m_dir;
    int fd = take_pooled(dir);
    // O_TMPFILE: the file has no name, so nothing is left behind after a crash.
    if (fd < 0) {
        fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        std::string templ = dir + "/segel-spool-XXXXXX";
        fd = ::mkostemp(templ.data(), O_CLOEXEC);
        if (fd >= 0) {
            ::unlink(templ.c_str());
        }
    }
    if (fd < 0) {
        throw Error(Category::Io, "cannot create a spool file in " + dir + ": " + std::strerror(errno) +
                                      " (check milter.spool_directory)");
    }
    m_fd = fd;
    const std::string pending = std::move(m_mem);
    m_mem.clear();
    m_mem.shrink_to_fit();
    m_size = 0;
    append(pending);
}

void Blob::append(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    unmap();
    if (m_fd < 0 && m_size + bytes.size() > m_limit) {
        spill();
    }
    if (m_fd < 0) {
        m_mem.append(bytes);
        m_size += bytes.size();
        return;
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pwrite(m_fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(m_size + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw Error(Category::Io, std::string("cannot write the spool file: ") + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    m_size += bytes.size();
}

std::string_view Blob::view() const {
    if (m_fd < 0) {
        return m_mem;
    }
    if (m_size == 0) {
        return {};
    }
    if (m_map == nullptr) {
        void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, m_fd, 0);
        if (p == MAP_FAILED) {
            throw Error(Category::Io, std::string("cannot map the spool file: ") + std::strerror(errno));
        }
        m_map = p;
        m_map_len = m_size;
    }
    return {static_cast<const char*>(m_map), m_map_len};
}

void Blob::unmap() const {
    if (m_map != nullptr) {
        ::munmap(m_map, m_map_len);
        m_map = nullptr;
        m_map_len = 0;
    }
}

void Blob::read(std::size_t offset, std::size_t length, const std::function<void(std::string_view)>& fn,
                std::size_t chunk) const {
    if (offset > m_size || length > m_size - offset) {
        throw Error(Category::Internal, "Blob::read beyond the end of the data");
    }
    if (m_fd < 0) {  // a file is always read, never mapped: mapped pages would count as our memory
        const std::string_view all = m_mem;
        for (std::size_t done = 0; done < length;) {
            const std::size_t n = std::min(chunk, length - done);
            fn(all.substr(offset + done, n));
            done += n;
        }
        return;
    }
    // A window of the file at a time is mapped and unmapped again: no copy out of the
    // page cache (a pread of 20 MB costs several ms here), and at most one window of
    // mapped pages counts as our memory, never the whole spool.
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t window = std::max(k_window, page);
    for (std::size_t done = 0; done < length;) {
        const std::size_t at = offset + done;
        const std::size_t base = at - at % page;
        const std::size_t span = std::min(window, m_size - base);
        void* p = ::mmap(nullptr, span, PROT_READ, MAP_SHARED | MAP_POPULATE, m_fd, static_cast<off_t>(base));
        if (p == MAP_FAILED) {
            throw Error(Category::Io, std::string("cannot map the spool file: ") + std::strerror(errno));
        }
        const std::size_t avail = std::min(span - (at - base), length - done);
        try {
            const std::string_view bytes(static_cast<const char*>(p) + (at - base), avail);
            for (std::size_t k = 0; k < avail; k += chunk) {
                fn(bytes.substr(k, std::min(chunk, avail - k)));
            }
        } catch (...) {
            ::munmap(p, span);
            throw;
        }
        ::munmap(p, span);
        done += avail;
    }
}

int Blob::dup_fd() const {
    if (m_fd < 0) {
        return -1;
    }
    const int fd = ::dup(m_fd);
    if (fd < 0) {
        throw Error(Category::Io, std::string("dup: ") + std::strerror(errno));
    }
    ::lseek(fd, 0, SEEK_SET);
    return fd;
}

}  // namespace segel::smime
