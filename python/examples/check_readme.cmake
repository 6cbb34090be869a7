# SPDX-License-Identifier: Apache-2.0
# cmake -DSOURCE_DIR=... -P check_readme.cmake: the README's "From Python" section shows the
# example files as they are (everything after their two comment lines), so what a reader copies
# is what ctest python.readme_example runs.
file(READ ${SOURCE_DIR}/README.md readme)
foreach(example readme_producer.py readme_consumer.cpp)
  file(READ ${SOURCE_DIR}/python/examples/${example} text)
  string(REGEX MATCH "^[^\n]*\n[^\n]*\n" header "${text}")
  string(LENGTH "${header}" header_length)
  string(SUBSTRING "${text}" ${header_length} -1 body)
  string(FIND "${readme}" "${body}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "README.md does not show python/examples/${example} as it is")
  endif()
endforeach()
