from setuptools import setup

setup(
    name="scraper",
    version="1.2.0",
    py_modules=["scraper"],
    install_requires=["requests>=2.31", "beautifulsoup4"],
    entry_points={"console_scripts": ["scraper=scraper:main"]},
)
