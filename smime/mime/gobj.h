#pragma once
// One owner per GObject handle: adopt() for transfer-full results,
// retain() for transfer-none ones. No bare g_object_unref outside smime/mime.
#include <glib-object.h>

#include <memory>

namespace segel::smime::gobj {

struct Unref {
    void operator()(gpointer p) const noexcept {
        if (p != nullptr) {
            g_object_unref(p);
        }
    }
};

template <typename T>
using Ptr = std::unique_ptr<T, Unref>;

template <typename T>
Ptr<T> adopt(T* p) noexcept {
    return Ptr<T>(p);
}

template <typename T>
Ptr<T> retain(T* p) noexcept {
    if (p != nullptr) {
        g_object_ref(p);
    }
    return Ptr<T>(p);
}

/** g_free()s a string GMime returned with transfer-full. */
struct GFree {
    void operator()(gpointer p) const noexcept { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

}  // namespace segel::smime::gobj
