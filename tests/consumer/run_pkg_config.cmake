# SPDX-License-Identifier: Apache-2.0
# Installs shmbus into a scratch prefix and compiles the consumer program with nothing but
# `pkg-config --cflags --libs shmbus`, then runs it against the installed shared library.
include(${CMAKE_CURRENT_LIST_DIR}/install_prefix.cmake)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/${LIBDIR}/pkgconfig
                        ${PKG_CONFIG} --cflags --libs shmbus
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "pkg-config does not know the installed shmbus")
endif()
message("pkg-config --cflags --libs shmbus: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
# A sanitized shmbus is full of sanitizer calls: its consumer links the runtime.
set(sanitizer_flags "")
if(SANITIZE STREQUAL "address")
  set(sanitizer_flags -fsanitize=address,undefined)
elseif(SANITIZE STREQUAL "thread")
  set(sanitizer_flags -fsanitize=thread)
endif()
execute_process(COMMAND ${CXX} -std=c++20 -O1 ${SOURCE_DIR}/tests/consumer/project/main.cpp ${flags}
                        ${sanitizer_flags} -o ${WORK_DIR}/consumer
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "compiling the consumer with pkg-config's flags failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${prefix}/${LIBDIR}
                        ${WORK_DIR}/consumer
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message("${out}")
if(rc)
  message(FATAL_ERROR "the consumer exited with ${rc}")
endif()
