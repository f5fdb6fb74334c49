# Creates a fuzz corpus directory and writes the target's seeds into it
# (script mode: cmake -DDIR=<dir> -DTOOL=<seed writer> -P write_seeds.cmake).
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${TOOL} --write-seeds ${DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seed writer failed: ${rc}")
endif()
