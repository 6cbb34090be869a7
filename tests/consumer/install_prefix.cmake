# SPDX-License-Identifier: Apache-2.0
# Installs the shmbus build in BINARY_DIR into a fresh scratch prefix, ${WORK_DIR}/prefix, for
# the consumer checks that include this file; sets `prefix`.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix} --config ${CONFIG}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed")
endif()
