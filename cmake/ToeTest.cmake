# Helpers for declaring tests. Every test is run by ctest.

# toe_add_unit_test(NAME <name> SOURCES <src...> [LIBS <lib...>] [LABELS <l...>] [TIMEOUT <s>])
# Builds a cmocka test executable and registers it with ctest.
function(toe_add_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    LABELS "unit;${T_LABELS}")
endfunction()
