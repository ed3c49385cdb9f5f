# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build-b
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/main/build-b/kiln_tests_74785a0e_include.cmake")
