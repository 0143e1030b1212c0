#!/bin/sh
set -e
# writes the start arguments for java -jar start.jar
