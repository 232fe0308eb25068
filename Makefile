# SPDX-License-Identifier: GPL-2.0
# Out-of-tree build of the sharedsock module, library, tools and selftests.
# The module itself is described by Kbuild; this file wraps it.
#
# KERNEL picks a kernel of the matrix (scripts/kernels.list; default its
# first line, 6.1): Debian's own image and headers of that series, fetched
# into ~/.cache/sharedsock by scripts/kernel.sh, never installed on the
# host.  Nothing here is computed when the Makefile is read: the headers
# may not exist until a recipe has fetched them.

KERNEL ?= $(shell sed -e 's/\#.*//' -e '/^[[:space:]]*$$/d' scripts/kernels.list | head -n 1)
PREFIX ?= /usr/local
DESTDIR ?=
MANDIR ?= $(PREFIX)/share/man
LINUX_SOURCE ?= /usr/src/linux-source-6.1.tar.xz
export KERNEL PREFIX DESTDIR LINUX_SOURCE

# make install builds for the running kernel, or for KDIR when given; the
# module goes to $(DESTDIR)/lib/modules/<its release>/extra.
INSTALL_KDIR = $(or $(KDIR),/lib/modules/$(shell uname -r)/build)
INSTALL_KREL = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(INSTALL_KDIR)/include/generated/utsrelease.h)
MAN_PAGES = $(wildcard Documentation/man/man*/*.[0-9])

.PHONY: all module userspace selftests check check-kernels kernel-paths \
	demo bench vm-shell sparse style install install-module \
	install-userspace install-man uninstall dkms-install clean

all: module userspace selftests

# The module for KERNEL, in build/kernel-KERNEL/ (W=1; a warning fails).
# With KDIR=DIR, for that kernel build tree instead, in this directory.
module:
ifdef KDIR
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules
else
	scripts/kernel.sh $(KERNEL) module
endif

# MODULE=<path of KERNEL's sharedsock.ko> and VMLINUZ=<its kernel image>,
# building them first (use make -s): for tools that boot the same pair.
kernel-paths:
	@scripts/kernel.sh $(KERNEL) paths

userspace:
	$(MAKE) -C userspace

selftests: userspace
	$(MAKE) -C selftests

# Install missing packages, build everything, boot KERNEL's VM, run the
# tests.
check:
	scripts/deps.sh
	$(MAKE) all
	scripts/vm.sh test

# The suite on every kernel of the matrix: one line per kernel, then the
# total.  Each kernel's full output is in build/check-KERNEL.log.
check-kernels:
	scripts/deps.sh
	$(MAKE) userspace selftests
	scripts/check-kernels.sh

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

# sparse (C=2) and W=1 on KERNEL's headers; a warning fails.
sparse:
	scripts/kernel.sh $(KERNEL) sparse

style:
	scripts/checkpatch.sh module/*.c module/*.h uapi/linux/*.h

# Everything under $(DESTDIR) when it is set (staging, as any user; the
# module's index is made there with depmod -b), else onto the live system
# (as root: depmod and ldconfig update the running system's indexes).
install: install-module install-userspace install-man

install-module:
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) W=1 modules
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=extra DEPMOD=true modules_install
	depmod -b $(or $(DESTDIR),/) -a $(INSTALL_KREL)

install-userspace:
	$(MAKE) -C userspace install

install-man:
	for f in $(MAN_PAGES); do \
		sec=$${f##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$sec; \
		install -m 644 $$f $(DESTDIR)$(MANDIR)/man$$sec/; \
	done

# What install put, from the same variables.
uninstall:
	rm -f $(DESTDIR)/lib/modules/$(INSTALL_KREL)/extra/sharedsock.ko
	-[ ! -d $(DESTDIR)/lib/modules/$(INSTALL_KREL) ] || \
		depmod -b $(or $(DESTDIR),/) -a $(INSTALL_KREL)
	$(MAKE) -C userspace uninstall
	for f in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}; \
	done

dkms-install:
	dkms install $(CURDIR)

clean:
	rm -rf build
	rm -f *.ko *.mod *.mod.c *.o .*.cmd modules.order Module.symvers \
		module/*.o module/.*.cmd
	$(MAKE) -C userspace clean
	rm -f selftests/*_test selftests/*_helper
	$(MAKE) -C bench clean
	$(MAKE) -C userspace/examples clean
