#pragma once
// Internal to services/: libcurl's process-wide initialisation, once, before
// the first handle (curl_global_init is not thread-safe).
#include <curl/curl.h>

#include <mutex>

namespace segel::services::detail {

inline void curl_global() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace segel::services::detail
