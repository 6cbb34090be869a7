# SPDX-License-Identifier: Apache-2.0
# SHMBUS_SANITIZE=address: ASan + UBSan; SHMBUS_SANITIZE=thread: TSan. Applied to every target
# of this build (library, tests, tools) so that cross-process code paths are all instrumented.
if(SHMBUS_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(SHMBUS_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT SHMBUS_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SHMBUS_SANITIZE must be empty, 'address' or 'thread'")
endif()
