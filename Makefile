# SPDX-License-Identifier: GPL-2.0
# Out-of-tree build of the sharedsock module, library, tools and selftests.
# The module itself is described by Kbuild; this file wraps it.

KDIR ?= $(shell $(CURDIR)/scripts/kdir.sh)
PREFIX ?= /usr/local
DESTDIR ?=
LINUX_SOURCE ?= /usr/src/linux-source-6.1.tar.xz
export KDIR PREFIX DESTDIR LINUX_SOURCE

MODULE := sharedsock.ko
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR)

.PHONY: all module userspace selftests check demo bench vm-shell sparse style \
	install install-module install-userspace install-man dkms-install clean

all: module userspace selftests

module:
	$(KMAKE) W=1 modules

userspace:
	$(MAKE) -C userspace

selftests: userspace
	$(MAKE) -C selftests

# Install missing packages, build everything, boot the VM, run the tests.
check:
	scripts/deps.sh
	$(MAKE) all
	scripts/vm.sh test

# The same suite on a debug kernel (KASAN, lockdep, kmemleak, UBSAN, fault
# injection) built from linux-source-6.1 and cached in ~/.cache/sharedsock:
# about 15 min to build the first time.  See scripts/debug-kernel.sh.
.PHONY: check-debug
check-debug:
	scripts/deps.sh --debug
	$(MAKE) userspace selftests
	scripts/debug-kernel.sh check

# The main job, end to end: an acceptor hands connections to workers.
demo:
	scripts/deps.sh
	$(MAKE) module userspace
	$(MAKE) -C userspace/examples
	scripts/vm.sh demo

# Benchmarks against SCM_RIGHTS, pidfd_getfd and epoll (not part of check).
bench:
	scripts/deps.sh
	$(MAKE) module userspace
	$(MAKE) -C bench
	scripts/vm.sh bench

# Boot the VM with the module loaded and drop into a shell.
vm-shell:
	scripts/deps.sh
	$(MAKE) all
	scripts/vm.sh shell

sparse:
	$(KMAKE) C=2 W=1 modules

style:
	scripts/checkpatch.sh module/*.c module/*.h uapi/linux/*.h

install: install-module install-userspace install-man

install-module: module
	$(KMAKE) INSTALL_MOD_DIR=extra modules_install
	depmod -a $(shell sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h)

install-userspace:
	$(MAKE) -C userspace install

install-man:
	for f in Documentation/man/man*/*.[0-9]; do \
		sec=$${f##*.}; \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$$sec; \
		install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$sec/; \
	done

dkms-install:
	dkms install $(CURDIR)

clean:
	$(KMAKE) clean
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
	rm -rf build
