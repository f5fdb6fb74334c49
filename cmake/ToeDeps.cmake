# Finds every library toe builds on. A missing one stops configure and names
# the Debian package that provides it (./setup.sh installs them all).
find_package(PkgConfig REQUIRED)

# toe_require_pkg(<prefix> <pkg-config name> <debian package>)
function(toe_require_pkg prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR
      "toe needs ${module} (pkg-config '${module}' not found).\n"
      "Install it with: apt-get install -y ${debpkg}   (or run ./setup.sh)")
  endif()
  message(STATUS "toe: ${module} ${${prefix}_VERSION}")
endfunction()

toe_require_pkg(LIBXDP   libxdp    libxdp-dev)
toe_require_pkg(LIBBPF   libbpf    libbpf-dev)
toe_require_pkg(LIBURING liburing  liburing-dev)
toe_require_pkg(JEMALLOC jemalloc  libjemalloc-dev)
toe_require_pkg(SODIUM   libsodium libsodium-dev)
toe_require_pkg(PCAP     libpcap   libpcap-dev)
toe_require_pkg(CMOCKA   cmocka    libcmocka-dev)
toe_require_pkg(TCL      tcl       tcl-dev)

find_package(Threads REQUIRED)

find_program(TCLSH_EXECUTABLE NAMES tclsh8.6 tclsh)
if(NOT TCLSH_EXECUTABLE)
  message(FATAL_ERROR "toe needs tclsh 8.6: apt-get install -y tcl8.6")
endif()
execute_process(COMMAND ${TCLSH_EXECUTABLE}
  INPUT_FILE ${CMAKE_CURRENT_LIST_DIR}/check-tcltest.tcl
  RESULT_VARIABLE _tcltest_rc OUTPUT_QUIET ERROR_QUIET)
if(NOT _tcltest_rc EQUAL 0)
  message(FATAL_ERROR "toe needs Tcl's tcltest package: apt-get install -y tcl8.6")
endif()

find_program(CLANG_EXECUTABLE NAMES clang clang-14)
if(NOT CLANG_EXECUTABLE)
  message(FATAL_ERROR "toe needs clang to build its XDP program: apt-get install -y clang llvm")
endif()

if(TOE_COVERAGE)
  find_program(LCOV_EXECUTABLE lcov)
  find_program(GENHTML_EXECUTABLE genhtml)
  if(NOT LCOV_EXECUTABLE OR NOT GENHTML_EXECUTABLE)
    message(FATAL_ERROR "coverage needs lcov: apt-get install -y lcov")
  endif()
endif()

# What the engine library itself links against.
set(TOE_ENGINE_DEPS PkgConfig::SODIUM PkgConfig::PCAP Threads::Threads)
set(TOE_PC_REQUIRES "libsodium libpcap libxdp libbpf")
if(TOE_WITH_JEMALLOC)
  list(APPEND TOE_ENGINE_DEPS PkgConfig::JEMALLOC)
  set(TOE_PC_REQUIRES "${TOE_PC_REQUIRES} jemalloc")
  add_compile_definitions(TOE_WITH_JEMALLOC=1)
endif()
