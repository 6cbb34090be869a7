# SPDX-License-Identifier: Apache-2.0
# Fails naming every shmbus symbol that the given object files (programs compiled against the
# public headers) call but libshmbus.so does not export: what a program linked against the
# shared library would miss. Run by ctest as consumer.shared_exports:
#   cmake -DNM=nm -DLIBRARY=libshmbus.so -DOBJECTS=a.o:b.o -P check_exports.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${NM} -D --defined-only --format=posix ${LIBRARY}
                OUTPUT_VARIABLE exported RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${NM} could not read ${LIBRARY}")
endif()
string(REGEX MATCHALL "(^|\n)[^ \n]+" exported "${exported}")
list(TRANSFORM exported STRIP)

string(REPLACE ":" ";" objects "${OBJECTS}")
set(missing "")
foreach(object ${objects})
  execute_process(COMMAND ${NM} -u --format=posix ${object} OUTPUT_VARIABLE used RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${NM} could not read ${object}")
  endif()
  string(REGEX MATCHALL "(^|\n)[^ \n]*6shmbus[^ \n]*" used "${used}")
  list(TRANSFORM used STRIP)
  foreach(symbol ${used})
    if(NOT symbol IN_LIST exported)
      list(APPEND missing ${symbol})
    endif()
  endforeach()
endforeach()

list(LENGTH objects count)
if(missing)
  list(REMOVE_DUPLICATES missing)
  list(JOIN missing "\n  " listing)
  message(FATAL_ERROR "libshmbus.so does not export (mark them SHMBUS_EXPORT):\n  ${listing}\n"
                      "(demangle with c++filt)")
endif()
message(STATUS "libshmbus.so exports every shmbus symbol that ${count} programs use")
