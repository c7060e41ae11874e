"""Pure tests of core/: the pack's package without its node registration, so no host is started."""

from harness import pack

pack.package()
