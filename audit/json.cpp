#include "audit/json.h"

#include "audit/store.h"
#include "base/json.h"

namespace segel::audit::json {

std::string str(std::string_view raw) {
    return base::json_string(column_safe(raw));  // well-formed UTF-8 first: a bad byte is U+FFFD, as in the columns
}

}  // namespace segel::audit::json
