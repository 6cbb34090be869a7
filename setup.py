# SPDX-License-Identifier: Apache-2.0
"""`pip install .` of the shmbus Python module: builds python/ with the project's CMake.

Needs CMake, Ninja, a C++20 compiler, pybind11, the Python development files and msgpack-cxx
(tools/scripts/install-deps.sh installs them on Debian). Offline, pass --no-build-isolation so
pip uses the installed setuptools instead of downloading one (README.md, "From Python").
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


def version():
    header = (ROOT / "include/shmbus/version.hpp").read_text()
    return re.search(r'#define SHMBUS_VERSION_STRING "([^"]+)"', header).group(1)


class CMakeBuild(build_ext):
    """Builds the CMake target shmbus_python and installs its shared object as the extension."""

    def build_extension(self, ext):
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", f"-DPython3_EXECUTABLE={sys.executable}",
                        "-DSHMBUS_BUILD_TESTS=OFF", "-DSHMBUS_BUILD_TOOLS=OFF",
                        "-DSHMBUS_BUILD_SHARED=OFF"], check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "shmbus_python",
                        "-j", str(os.cpu_count() or 1)], check=True)
        built = next((build / "python/module").glob("shmbus*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    name="shmbus",
    version=version(),
    description="Python's multiprocessing over shmbus shared memory, shared with C++ processes",
    license="Apache-2.0",
    python_requires=">=3.9",
    install_requires=["msgpack>=1.0"],
    ext_modules=[Extension("shmbus", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
