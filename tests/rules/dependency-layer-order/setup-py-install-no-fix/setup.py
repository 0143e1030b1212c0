from setuptools import find_packages, setup

setup(
    name="harvester",
    version="0.4.0",
    packages=find_packages(),
    install_requires=["httpx>=0.27", "lxml"],
    entry_points={"console_scripts": ["harvester=harvester.cli:main"]},
)
