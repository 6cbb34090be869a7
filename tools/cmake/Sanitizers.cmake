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

# Instrumented code at -O2 with full debug info took 2.4x as long to compile as at -O1 with line
# tables only (77 s against 32 s for tests/property/test_queue_properties.cpp under ASan+UBSan),
# and the sanitizer builds were most of CI's time. -O1 is what the sanitizers' documentation
# advises, and line tables are all their reports need.
if(NOT SHMBUS_SANITIZE STREQUAL "" AND CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo")
  set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG")
endif()
