"""Build the optional C accelerator of the DNS engine; everything else is in pyproject.toml.

The extension is optional: when no C compiler is available the package installs without it
and the engine runs its pure-Python path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sovmap.collect._fastdns",
            ["src/sovmap/collect/_fastdns.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
