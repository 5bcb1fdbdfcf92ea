"""Packages only (metadata, dependencies and data are in setup.cfg): every package under lim_tf/ is
found, so a new subpackage cannot be left out of the wheel, and cli/ installs as lim_tf_cli."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["lim_tf", "lim_tf.*"]) + ["lim_tf_cli"], package_dir={"lim_tf_cli": "cli"})
