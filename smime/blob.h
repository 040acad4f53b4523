#pragma once
// A byte buffer that stays in memory up to a limit and moves to an unlinked
// temporary file beyond it, so a 20 MB message never needs 20 MB of heap.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace segel::smime {

class Blob {
public:
    /** @param memory_limit bytes kept in memory before spilling to a file in @p spool_dir. */
    explicit Blob(std::size_t memory_limit = 1024 * 1024, std::string spool_dir = {});
    ~Blob();
    Blob(Blob&& other) noexcept;
    Blob& operator=(Blob&& other) noexcept;
    Blob(const Blob&) = delete;
    Blob& operator=(const Blob&) = delete;

    static Blob from(std::string_view bytes);

    void append(std::string_view bytes);
    void append(const void* data, std::size_t len) { append(std::string_view(static_cast<const char*>(data), len)); }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] bool on_disk() const noexcept { return m_fd >= 0; }

    /**
     * A read-only view of all bytes. For file-backed blobs the file is mapped
     * (page cache, not heap). The view is invalidated by append().
     */
    [[nodiscard]] std::string_view view() const;

    /** Copies everything into a string (tests and small payloads only). */
    [[nodiscard]] std::string str() const { return std::string(view()); }

    /**
     * Hands the bytes [offset, offset + length) to @p fn in pieces of at most @p chunk
     * bytes, in order. A file-backed blob is mapped 2 MB at a time and unmapped
     * again, so reading a 20 MB spool costs one window of memory, never 20 MB.
     */
    void read(std::size_t offset, std::size_t length, const std::function<void(std::string_view)>& fn,
              std::size_t chunk = 256 * 1024) const;

    /**
     * A dup()ed descriptor positioned at 0 for streaming readers, or -1 when in
     * memory. The file may be longer than size() (spool files are reused): read
     * at most size() bytes from it.
     */
    [[nodiscard]] int dup_fd() const;

private:
    void spill();
    void unmap() const;
    /** Hands the spool file back for reuse (or closes it). */
    void release() noexcept;

    std::size_t m_limit;
    std::string m_dir;
    std::string m_mem;
    int m_fd = -1;
    std::size_t m_size = 0;
    mutable void* m_map = nullptr;
    mutable std::size_t m_map_len = 0;
};

}  // namespace segel::smime
