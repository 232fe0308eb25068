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
# udev and systemd read only their own directories, whatever PREFIX is.
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
LINUX_SOURCE ?= /usr/src/linux-source-6.1.tar.xz
export KERNEL PREFIX DESTDIR LINUX_SOURCE

# make install builds for the running kernel, or for KDIR when given; the
# module goes to $(DESTDIR)/lib/modules/<its release>/extra.
INSTALL_KDIR = $(or $(KDIR),/lib/modules/$(shell uname -r)/build)
# Its release: the headers', or (uninstall without headers) the running one.
INSTALL_KREL = $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(INSTALL_KDIR)/include/generated/utsrelease.h 2>/dev/null),$(shell uname -r))
MAN_PAGES = $(wildcard Documentation/man/man*/*.[0-9])

.PHONY: all module userspace selftests check check-kernels kernel-paths \
	demo bench vm-shell sparse style install install-module \
	install-system install-userspace install-man uninstall dkms-install deb clean

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
	$(MAKE) -C demo
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
install: install-module install-system install-userspace install-man

install-module:
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) W=1 modules
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=extra DEPMOD=true modules_install
	depmod -b $(or $(DESTDIR),/) -a $(INSTALL_KREL)

# The module loaded at boot, and the node's mode (sharedsock.rst, "The
# device"): a modules-load.d entry and a udev rule.
install-system:
	install -D -m 644 userspace/system/60-sharedsock.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-sharedsock.rules
	install -D -m 644 userspace/system/sharedsock-modules-load.conf \
		$(DESTDIR)$(MODULESLOADDIR)/sharedsock.conf

install-userspace:
	$(MAKE) -C userspace install

# The pages' .TH source field gets the project's version on the way.
install-man:
	v=$$(scripts/version.sh); for f in $(MAN_PAGES); do \
		sec=$${f##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$sec; \
		sed "/^\.TH /s/ sharedsock \"/ \"sharedsock $$v\" \"/" $$f \
			>$(DESTDIR)$(MANDIR)/man$$sec/$${f##*/}; \
		chmod 644 $(DESTDIR)$(MANDIR)/man$$sec/$${f##*/}; \
	done

# What install put, from the same variables.
uninstall:
	rm -f $(DESTDIR)/lib/modules/$(INSTALL_KREL)/extra/sharedsock.ko \
		$(DESTDIR)$(UDEVRULESDIR)/60-sharedsock.rules \
		$(DESTDIR)$(MODULESLOADDIR)/sharedsock.conf
	-[ ! -d $(DESTDIR)/lib/modules/$(INSTALL_KREL) ] || \
		depmod -b $(or $(DESTDIR),/) -a $(INSTALL_KREL)
	$(MAKE) -C userspace uninstall
	for f in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}; \
	done

# DKMS gets a clean tree, build/dkms-src/sharedsock-VERSION: dkms.conf
# (dkms.conf.in with scripts/version.sh's version), Kbuild and the module's
# sources (scripts/dkms-source.sh), which it copies into /usr/src and
# builds for the running kernel (DKMS_FLAGS="-k KERNEL" for another).
dkms-install:
	scripts/dkms-source.sh build/dkms-src/sharedsock-$$(scripts/version.sh)
	dkms install $(DKMS_FLAGS) build/dkms-src/sharedsock-$$(scripts/version.sh)

# The Debian packages (debian/): sharedsock-dkms, libsharedsock0,
# libsharedsock-dev and sharedsock-tools, built by dpkg-buildpackage in a
# clean copy of the tree; they land in build/deb/.  scripts/deb-check.sh
# also runs lintian and installs them in a fresh Debian 12 chroot.
deb:
	scripts/deps.sh --deb
	scripts/deb-check.sh build

clean:
	rm -rf build
	rm -f *.ko *.mod *.mod.c *.o .*.cmd modules.order Module.symvers \
		module/*.o module/.*.cmd
	$(MAKE) -C userspace clean
	rm -f selftests/*_test selftests/*_helper
	$(MAKE) -C bench clean
	$(MAKE) -C userspace/examples clean && $(MAKE) -C demo clean
