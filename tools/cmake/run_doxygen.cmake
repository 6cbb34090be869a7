# SPDX-License-Identifier: Apache-2.0
# Runs Doxygen on a configured Doxyfile and prints the warnings it wrote to its WARN_LOGFILE.
# With FAIL_ON_WARNINGS, any warning (an undocumented public symbol, a broken command) fails
# the run: ctest docs.doxygen. The `docs` target runs it without, so the reference is still made.
#   cmake -DDOXYGEN=doxygen -DDOXYFILE=<build>/docs/Doxyfile -DWARNINGS=<its WARN_LOGFILE>
#         [-DFAIL_ON_WARNINGS=ON] -P run_doxygen.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE ${WARNINGS}) # Doxygen appends to an existing log
execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} RESULT_VARIABLE doxygen_result)
set(log "")
if(EXISTS ${WARNINGS})
  file(READ ${WARNINGS} log)
endif()
if(NOT doxygen_result EQUAL 0)
  message(FATAL_ERROR "${DOXYGEN} ${DOXYFILE} failed (${doxygen_result}):\n${log}")
endif()
if(log STREQUAL "")
  message(STATUS "Doxygen: no warnings")
  return()
endif()
string(REGEX MATCHALL "warning:" warnings "${log}")
list(LENGTH warnings count)
if(FAIL_ON_WARNINGS)
  message(FATAL_ERROR "Doxygen warnings: ${count} (${WARNINGS}):\n${log}")
endif()
message(WARNING "Doxygen warnings: ${count} (${WARNINGS}):\n${log}")
