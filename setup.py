"""Installs official_tokendrop and its pinned requirements."""

import pathlib

import setuptools

ROOT = pathlib.Path(__file__).parent
REQUIREMENTS = [
    line.strip()
    for line in (ROOT / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#") and not line.startswith("pytest")
]

setuptools.setup(
    name="official_tokendrop",
    version="0.1.0",
    description="Token Dropping for Efficient BERT Pretraining, in Keras 3.",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["official_tokendrop*"]),
    python_requires=">=3.10",
    install_requires=REQUIREMENTS,
)
