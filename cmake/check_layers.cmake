# SPDX-License-Identifier: MIT
# check_layers - fails when a source includes across the layers the wrong way.
#
#   cmake -DROOT=<source dir> -P cmake/check_layers.cmake
#
# The libraries, lowest first (ARCHITECTURE.md): a library includes its own headers and the
# public headers of libraries on a lower level; never a header of its own level or above, never
# another library's private header. Sources include their own library's headers by plain name
# ("resolver.h", found beside them) and any other library's by folder ("policy/policy.h"), so a
# private header of another folder cannot even be found without naming it here. Tests, fuzz
# targets and the benchmark may include any public header. Each library also names the system
# headers it must not include: only store/ speaks SQL, only milter/ and cli/ know libmilter,
# only dns/ knows libunbound, only store/ knows libpsl.

cmake_policy(VERSION 3.18)

set(levels policy=0 util=1 dns=2 store=2 config=3 milter=4 cli=5)
set(public_policy policy.h dane.h downgrade.h flow.h hash.h lrumap.h xalloc.h)
set(public_util log.h hashkey.h json.h diag.h)
set(public_dns resolver.h dane_lookup.h)
set(public_store recorder.h peers.h query.h)
set(public_config config.h)
set(public_milter serve.h)
set(public_cli cli.h probe_reply.h)
set(forbid_policy libmilter/ sqlite3.h unbound.h libpsl.h)
set(forbid_util libmilter/ sqlite3.h unbound.h libpsl.h)
set(forbid_dns libmilter/ sqlite3.h libpsl.h)
set(forbid_store libmilter/ unbound.h)
set(forbid_config libmilter/ sqlite3.h unbound.h libpsl.h)
set(forbid_milter sqlite3.h unbound.h libpsl.h)
set(forbid_cli sqlite3.h unbound.h libpsl.h)

if(NOT ROOT)
  message(FATAL_ERROR "check_layers: -DROOT=<source dir> is required")
endif()

set(names "")
foreach(pair ${levels})
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 lib)
  list(GET pair 1 level)
  set(level_${lib} ${level})
  list(APPEND names ${lib})
endforeach()

set(errors 0)
macro(violation file line msg)
  message("${file}:${line}: error: ${msg}")
  math(EXPR errors "${errors} + 1")
endmacro()

# check_file FILE LIB: LIB is the library FILE belongs to, or "" for tests and tools.
function(check_file file lib)
  file(STRINGS "${file}" lines)
  set(n 0)
  set(errs 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(inc "${CMAKE_MATCH_1}")
      set(to "")
      if(inc MATCHES "^([a-z]+)/([^/]+)$")
        set(to "${CMAKE_MATCH_1}")
        set(hdr "${CMAKE_MATCH_2}")
      endif()
      if(to AND DEFINED level_${to})
        if(NOT to STREQUAL lib)
          if(NOT hdr IN_LIST public_${to})
            message("${file}:${n}: error: ${inc} is private to ${to}/")
            math(EXPR errs "${errs} + 1")
          endif()
          if(lib AND NOT level_${to} LESS level_${lib})
            message("${file}:${n}: error: ${lib}/ (level ${level_${lib}}) may not include "
                    "${to}/ (level ${level_${to}}): only libraries below it")
            math(EXPR errs "${errs} + 1")
          endif()
        endif()
      endif()
    elseif(lib AND line MATCHES "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>")
      set(inc "${CMAKE_MATCH_1}")
      foreach(bad IN LISTS forbid_${lib})
        string(FIND "${inc}" "${bad}" at)
        if(at EQUAL 0)
          message("${file}:${n}: error: ${lib}/ may not include <${inc}>")
          math(EXPR errs "${errs} + 1")
        endif()
      endforeach()
    endif()
  endforeach()
  set(file_errors ${errs} PARENT_SCOPE)
endfunction()

foreach(lib ${names})
  file(GLOB srcs "${ROOT}/${lib}/*.c" "${ROOT}/${lib}/*.h")
  foreach(f ${srcs})
    check_file("${f}" "${lib}")
    math(EXPR errors "${errors} + ${file_errors}")
  endforeach()
endforeach()
file(GLOB_RECURSE others "${ROOT}/tests/*.c" "${ROOT}/tests/*.h" "${ROOT}/bench/*.c")
foreach(f ${others})
  check_file("${f}" "")
  math(EXPR errors "${errors} + ${file_errors}")
endforeach()

if(errors GREATER 0)
  message(FATAL_ERROR "check_layers: ${errors} include(s) across the layers the wrong way")
endif()
