#pragma once
// Internal to services/: libcurl's process-wide initialisation, once, before
// the first handle (curl_global_init is not thread-safe), and the owners of
// its handles.
#include <curl/curl.h>

#include <mutex>

namespace segel::services::detail {

struct EasyFree {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistFree {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

inline void curl_global() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace segel::services::detail
