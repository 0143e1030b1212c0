from conan import ConanFile

class Meter(ConanFile):
    requires = 'zlib/1.3.1'
