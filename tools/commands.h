#pragma once
// The segelctl commands (one function each; tools/segelctl.cpp dispatches).
#include "tools/cli.h"

namespace segel::tools {

/** `sign` and `encrypt`: the message through the Session as staff mail; the result on stdout. */
int cmd_sign(const Args& a);
/** `decrypt`: the message through the Session as inbound mail for --to (or the held keys it names). */
int cmd_decrypt(const Args& a);
/** `verify MESSAGE...`: inbound verification of files; one line each. */
int cmd_verify(const Args& a);
/** `process`: the message through the Session; the reply, the edits and the Outcome as JSON. */
int cmd_process(const Args& a);
/** `status`: the running segel-milter from its metrics file (tools/status_cmd.cpp). */
int cmd_status(const Args& a);

}  // namespace segel::tools
