"""`kiln` console script for pip installs: runs the C++ `kiln` executable shipped in the wheel."""

import os
import sys


def _executable() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.path.join(here, "bin", "kiln"),  # installed wheel
        os.path.join(here, "..", "..", "bin", "kiln"),  # a build directory's <build>/python/kiln
    ]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.stderr.write("kiln: error: the kiln executable is missing from this installation\n")
    sys.exit(3)


def main() -> None:
    executable = _executable()
    os.execv(executable, [executable] + sys.argv[1:])


if __name__ == "__main__":
    main()
