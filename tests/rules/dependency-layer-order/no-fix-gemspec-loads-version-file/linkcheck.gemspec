require_relative "lib/linkcheck/version"

Gem::Specification.new do |spec|
  spec.name = "linkcheck"
  spec.version = Linkcheck::VERSION
  spec.summary = "Checks links"
  spec.authors = ["Layer Team"]
  spec.files = Dir["lib/**/*.rb"]
end
