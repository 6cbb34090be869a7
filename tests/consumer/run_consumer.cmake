# SPDX-License-Identifier: Apache-2.0
include(${CMAKE_CURRENT_LIST_DIR}/install_prefix.cmake)
# A sanitized shmbus is a static library full of sanitizer calls: its consumer links the runtime.
set(sanitizer_flags "")
if(SANITIZE STREQUAL "address")
  set(sanitizer_flags "-fsanitize=address,undefined")
elseif(SANITIZE STREQUAL "thread")
  set(sanitizer_flags "-fsanitize=thread")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/build
                  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
                  -DCMAKE_EXE_LINKER_FLAGS=${sanitizer_flags}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message("${out}")
if(rc)
  message(FATAL_ERROR "the consumer exited with ${rc}")
endif()
