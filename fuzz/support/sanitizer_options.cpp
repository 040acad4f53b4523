// Sanitizer runtime defaults for every program of a SEGEL_SANITIZE build (unit tests and
// fuzz harnesses), so a test run by hand reports exactly what ctest reports. The
// ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS environment variables still override them.

extern "C" {

// The functions are looked up by the sanitizer runtimes at start-up (weak symbols there).
// NOLINTBEGIN(readability-identifier-naming)
const char* __asan_default_options() {  // NOLINT(bugprone-reserved-identifier)
    // Leaks are errors (detect_leaks), the first report ends the program, and freed stack
    // frames are poisoned too (use after return).
    return "detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:"
           "check_initialization_order=1:strict_init_order=1";
}

const char* __ubsan_default_options() {  // NOLINT(bugprone-reserved-identifier)
    return "halt_on_error=1:print_stacktrace=1";
}

const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
    return "";
}
// NOLINTEND(readability-identifier-naming)
}
