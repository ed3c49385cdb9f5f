# Makes DEST (a build directory's python/kiln) the importable `kiln` package of that build: one
# symbolic link per Python source of SOURCE (the repository's python/kiln), beside the _kiln module
# the build writes there. Runs on every build, so added, renamed and removed sources stay in sync;
# edits need no build at all (the links point at the sources).
#   cmake -DSOURCE=<repo>/python/kiln -DDEST=<build>/python/kiln -P link_python_sources.cmake
file(MAKE_DIRECTORY "${DEST}")
file(GLOB_RECURSE sources RELATIVE "${SOURCE}" "${SOURCE}/*.py")
list(FILTER sources EXCLUDE REGEX "(^|/)__pycache__/")
foreach(relative IN LISTS sources)
  set(link "${DEST}/${relative}")
  if(IS_SYMLINK "${link}")
    file(READ_SYMLINK "${link}" target)
    if(target STREQUAL "${SOURCE}/${relative}")
      continue()
    endif()
  endif()
  get_filename_component(parent "${link}" DIRECTORY)
  file(MAKE_DIRECTORY "${parent}")
  file(REMOVE "${link}")
  file(CREATE_LINK "${SOURCE}/${relative}" "${link}" SYMBOLIC)
endforeach()
# Links left from sources that were removed or renamed.
file(GLOB_RECURSE present LIST_DIRECTORIES false RELATIVE "${DEST}" "${DEST}/*.py")
foreach(relative IN LISTS present)
  if(IS_SYMLINK "${DEST}/${relative}" AND NOT relative IN_LIST sources)
    file(REMOVE "${DEST}/${relative}")
  endif()
endforeach()
