#!/bin/sh
# Print the project's one version, defined in Kbuild (sharedsock-version).
exec sed -n 's/^sharedsock-version := //p' "$(dirname "$0")/../Kbuild"
