# SPDX-License-Identifier: MIT
# cmake/fences.cmake: fails the build when a source file includes a header
# across a module fence (docs/design.md, "Layers"). Run by the build as
#   cmake -DSRC=<source dir> -DOUT=<stamp file> -P cmake/fences.cmake
#
# A module may include the headers of the modules listed for it (and its
# own); a *_int.h header only from its own folder; sqlite3.h only in the
# store, libpq-fe.h only in its pg* files; wolfSSL only in pki/ and engine/smtp/smtp_tls.c; microhttpd.h
# only in server/.

set(allow_common        "common")
set(allow_pki           "common;pki")
set(allow_engine/smtp   "common;pki;engine/smtp")
set(allow_engine/lang   "common;engine/lang")
set(allow_engine/store  "common;engine/store")
set(allow_engine/oauth  "common;pki;engine/smtp;engine/oauth")
set(allow_engine/mail   "common;pki;engine/smtp;engine/store;engine/oauth;engine/mail")
set(allow_engine/outbox "common;engine/smtp;engine/store;engine/oauth;engine/mail;engine/outbox")
set(allow_engine/config "common;pki;engine/lang;engine/store;engine/config")
set(allow_engine/run    "common;pki;engine/smtp;engine/lang;engine/store;engine/oauth;engine/mail;engine/outbox;engine/run")
set(allow_server        "common;pki;engine/lang;engine/store;engine/oauth;engine/mail;engine/outbox;engine/config;engine/run;server")

set(modules common pki engine/smtp engine/lang engine/store engine/oauth engine/mail
  engine/outbox engine/config engine/run server)

set(errors "")
foreach(mod ${modules})
  file(GLOB files ${SRC}/${mod}/*.c ${SRC}/${mod}/*.h)
  foreach(f ${files})
    file(RELATIVE_PATH rel ${SRC} ${f})
    file(STRINGS ${f} incs REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line ${incs})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*"
        "\\1" h "${line}")
      if(h MATCHES "^sqlite3\\.h$" AND NOT mod STREQUAL "engine/store")
        string(APPEND errors "  ${rel}: includes ${h}: only engine/store/ talks to SQLite\n")
      elseif(h MATCHES "^libpq-fe\\.h$" AND NOT rel MATCHES "^engine/store/pg")
        string(APPEND errors "  ${rel}: includes ${h}: only engine/store/pg*.c talk to PostgreSQL\n")
      elseif(h MATCHES "^wolfssl/" AND NOT mod STREQUAL "pki"
          AND NOT rel STREQUAL "engine/smtp/smtp_tls.c")
        string(APPEND errors "  ${rel}: includes ${h}: only pki/ and engine/smtp/smtp_tls.c use wolfSSL\n")
      elseif(h MATCHES "^microhttpd\\.h$" AND NOT mod STREQUAL "server")
        string(APPEND errors "  ${rel}: includes ${h}: only server/ speaks HTTP\n")
      elseif(line MATCHES "\"")
        get_filename_component(hdir ${h} DIRECTORY)
        if(hdir STREQUAL "")
          continue()
        endif()
        list(FIND allow_${mod} ${hdir} found)
        if(found LESS 0)
          string(APPEND errors "  ${rel}: includes ${h}: ${mod}/ may include only ${allow_${mod}}\n")
        elseif(h MATCHES "_int\\.h$" AND NOT hdir STREQUAL mod)
          string(APPEND errors "  ${rel}: includes ${h}: a *_int.h header is private to ${hdir}/\n")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()

if(NOT errors STREQUAL "")
  string(REPLACE ";" " " errors "${errors}")
  message(FATAL_ERROR "module fences crossed (docs/design.md, \"Layers\"):\n${errors}")
endif()
file(TOUCH ${OUT})
