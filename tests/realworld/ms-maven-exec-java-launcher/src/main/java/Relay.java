class Relay {}
