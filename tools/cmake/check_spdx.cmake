# SPDX-License-Identifier: Apache-2.0
# Fails listing every source, CMake file, shell script and Doxyfile under the project's code
# folders whose first lines lack the SPDX licence identifier. Run by ctest as style.spdx:
#   cmake -DSOURCE_DIR=<top of the source tree> -P check_spdx.cmake
set(folders core include tools tests fuzz docs .ci python)
set(identifier "SPDX-License-Identifier: Apache-2.0")
set(lines_searched 5)

# A file is checked when its name says it is code, or when it starts with a shell shebang.
function(is_checked path result)
  get_filename_component(name ${path} NAME)
  if(name MATCHES "\\.(cpp|hpp|py|cmake|cmake\\.in|sh)$"
     OR name MATCHES "^(CMakeLists\\.txt|Doxyfile\\.in)$")
    set(${result} TRUE PARENT_SCOPE)
    return()
  endif()
  file(READ ${path} head LIMIT 64)
  if(head MATCHES "^#![^\n]*(/sh|/bash|env bash|env sh)")
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
endfunction()

set(missing "")
foreach(folder ${folders})
  file(GLOB_RECURSE files ${SOURCE_DIR}/${folder}/*)
  foreach(path ${files})
    is_checked(${path} checked)
    if(NOT checked)
      continue()
    endif()
    file(STRINGS ${path} head LIMIT_COUNT ${lines_searched})
    string(FIND "${head}" "${identifier}" found)
    if(found EQUAL -1)
      file(RELATIVE_PATH relative ${SOURCE_DIR} ${path})
      list(APPEND missing ${relative})
    endif()
  endforeach()
endforeach()

if(missing)
  list(SORT missing)
  list(LENGTH missing count)
  list(JOIN missing "\n  " listing)
  message(FATAL_ERROR "${count} files lack '${identifier}' in their first ${lines_searched} lines:\n  ${listing}")
endif()
message(STATUS "every checked file carries '${identifier}'")
