# Sanitizer and fuzzing builds (docs/fuzzing.md). Both apply to every target, so the
# libraries under test are instrumented, not only the test programs.
#
#   SEGEL_SANITIZE=ON  AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included);
#                      the first report aborts the program (-fno-sanitize-recover), so a test
#                      with a report fails. Runtime defaults: fuzz/support/sanitizer_options.cpp.
#   SEGEL_FUZZ=ON      clang only: coverage instrumentation for libFuzzer everywhere
#                      (-fsanitize=fuzzer-no-link) and the harnesses in fuzz/, each a ctest
#                      test that runs it once over its stored corpus (label "fuzz").
#
# ./scripts/test builds both in build-asan with clang 14; ./scripts/fuzz runs campaigns there.
option(SEGEL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(SEGEL_FUZZ "Build the libFuzzer harnesses in fuzz/ (clang)" OFF)

if(SEGEL_SANITIZE)
  # float-divide-by-zero is not part of clang's "undefined" group; local-bounds checks
  # fixed-size local arrays that ASan's redzones may miss.
  set(SEGEL_SANITIZERS address,undefined,float-divide-by-zero)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    string(APPEND SEGEL_SANITIZERS ",local-bounds")
  endif()
  add_compile_options(-fsanitize=${SEGEL_SANITIZERS} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${SEGEL_SANITIZERS} -fno-sanitize-recover=all)
endif()

# lld links the sanitized test programs in a fraction of ld's time (each is 10-20 MB).
find_program(SEGEL_LLD NAMES ld.lld ld.lld-14)
if((SEGEL_SANITIZE OR SEGEL_FUZZ) AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND SEGEL_LLD)
  add_link_options(-fuse-ld=lld)
endif()

if(SEGEL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SEGEL_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
