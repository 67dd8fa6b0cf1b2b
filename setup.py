"""Build the optimizer's C extension (everything else is in pyproject.toml)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "optimizer._ipm",
            sources=["optimizer/_ipm.c"],
            # No fused multiply-add: the same bits on every build of the same source.
            extra_compile_args=["-O3", "-ffp-contract=off", "-std=c99", "-Wall"],
            # Without a compiler the install still succeeds and optimizer.ipm runs the same
            # algorithm in numpy (slower); tests/optimizer/test_ipm.py requires the extension.
            optional=True,
        )
    ]
)
