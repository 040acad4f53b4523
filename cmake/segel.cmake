# Shared helpers: one static library per module, each with an include root of its
# own, so that a forbidden #include fails to compile instead of passing review.
#
# Sources keep writing #include "smime/sign.h" from the repository's point of
# view. What a target may see is decided here: each module gets a directory in
# the build tree holding one symbolic link, <build>/include/<module>/<module> ->
# <source>/<module>, and that directory is the module's only public include
# root. A target therefore sees its own module and the modules it links, and
# nothing else: smime/ including engine/gateway.h, policy/ including smime/,
# config/ including any segel module fail with "No such file or directory"
# (tests/boundaries proves it).

set(SEGEL_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wconversion -Wno-sign-conversion)

function(segel_warnings target)
  target_compile_options(${target} PRIVATE ${SEGEL_WARNING_FLAGS})
  if(SEGEL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# segel_include_root(<module> <source-dir>): the include root that shows only <module>.
function(segel_include_root module source_dir)
  set(root ${PROJECT_BINARY_DIR}/include/${module})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${source_dir} ${root}/${module} SYMBOLIC)
  set(SEGEL_INCLUDE_ROOT_${module} ${root} PARENT_SCOPE)
endfunction()

# segel_add_library(<target> MODULE <folder> SOURCES ... DEPS ... [PRIVATE_DEPS ...])
# DEPS are public (their include roots reach this module's users); PRIVATE_DEPS
# are used by the implementation only (e.g. GMime inside smime/).
function(segel_add_library name)
  cmake_parse_arguments(ARG "" "MODULE" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  if(NOT ARG_MODULE)
    message(FATAL_ERROR "segel_add_library(${name}): MODULE <folder> is required")
  endif()
  segel_include_root(${ARG_MODULE} ${CMAKE_CURRENT_SOURCE_DIR})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${SEGEL_INCLUDE_ROOT_${ARG_MODULE}})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  segel_warnings(${name})
endfunction()

# segel_add_executable(<target> MODULE <folder> SOURCES ... DEPS ...): a program
# whose own folder is its include root (tools/ sees tools/ and what it links).
function(segel_add_executable name)
  cmake_parse_arguments(ARG "" "MODULE" "SOURCES;DEPS" ${ARGN})
  segel_include_root(${ARG_MODULE} ${CMAKE_CURRENT_SOURCE_DIR})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${SEGEL_INCLUDE_ROOT_${ARG_MODULE}})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  segel_warnings(${name})
endfunction()
