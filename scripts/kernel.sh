#!/bin/bash
# The kernel matrix (scripts/kernels.list): Debian's own kernels, fetched
# into the cache and never installed, and the module built for each.
#   kernel.sh list               the series of the matrix, the default first
#   kernel.sh SERIES fetch       download and extract the newest Debian kernel
#                                of SERIES (image and headers); print its dir
#   kernel.sh SERIES release     the Debian release that ships it
#   kernel.sh SERIES env         KVER, KDIR, VMLINUZ, RELEASE, CC, TOOLCHAIN
#                                (host, or the Debian release whose chroot
#                                builds for it), one NAME=VALUE a line
#   kernel.sh SERIES run CMD...  CMD with that kernel's toolchain
#   kernel.sh SERIES kmake ARGS  make -C KDIR ARGS with that toolchain
#   kernel.sh SERIES module      build sharedsock.ko in build/kernel-SERIES
#                                (W=1; a warning fails); print its path
#   kernel.sh SERIES sparse      the same build with sparse (C=2)
#   kernel.sh SERIES paths       MODULE= and VMLINUZ=, building first
# Cache: $cache/kernels/SERIES/DEBIAN-VERSION, so a newer Debian kernel of
# the series is a new entry; the package lists are refreshed every 12 h.
set -euo pipefail
. "$(dirname "$0")/common.sh"

list() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/scripts/kernels.list"; }

if [ "${1:-}" = list ]; then
	list
	exit 0
fi
series=${1:?usage: $0 list | SERIES fetch|env|run|kmake|module|paths}
cmd=${2:-env}
shift 2 || shift $#
list | grep -qxF "$series" ||
	die "kernel $series is not in the matrix (scripts/kernels.list: $(list | tr '\n' ' '))"
apt_sh=$top/scripts/apt.sh

# newest: "VERSION SUITE" of the newest linux-image-amd64 of the series
newest() {
	local best= best_suite= v suite
	while read -r v suite; do
		case $v in "$series".*) ;; *) continue ;; esac
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v best_suite=$suite
		fi
	done < <("$apt_sh" cache madison linux-image-amd64 |
		 awk -F'|' '{ gsub(/ /, "", $2); split($3, a, " "); sub(/\/.*/, "", a[2]); print $2, a[2] }')
	[ -n "$best" ] || die "no Debian linux-image-amd64 of series $series in scripts/debian.sources"
	echo "$best $best_suite"
}

# depends PKG=VERSION: the kernel packages PKG depends on (image, headers,
# kbuild, binary, base of the same build; not the modules)
depends() {
	"$apt_sh" cache show "$1" | sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -e 's/|.*//' -e 's/(.*//' -e 's/[[:space:]]//g' |
		grep -E '^linux-(image|headers|kbuild|binary|base)-[0-9]' || :
}

# tooldeps PKG=VERSION: what else the headers need (compiler, pahole, libs)
tooldeps() {
	"$apt_sh" cache show "$1" | sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -e 's/|.*//' -e 's/(.*//' -e 's/[[:space:]]//g' |
		grep -vE '^linux-' || :
}

fetch() {
	local version suite abi kver dir pkgs todo p d f kdir vmlinuz cc release
	"$apt_sh" update
	read -r version suite <<<"$(newest)"
	dir=$cache/kernels/$series/$version
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	abi=$(depends "linux-image-amd64=$version" | sed -n 's/^linux-image-\(.*\)-amd64$/\1/p')
	[ -n "$abi" ] || die "linux-image-amd64 $version names no linux-image-*-amd64"
	kver=$abi-amd64
	log "fetching Debian's $kver ($version, $suite) into $dir"
	# Every kernel package of this build the image and headers depend on.
	pkgs= todo="linux-image-$kver linux-headers-$kver"
	while [ -n "$todo" ]; do
		set -- $todo
		p=$1
		shift
		todo=$*
		case " $pkgs " in *" $p "*) continue ;; esac
		pkgs="$pkgs $p"
		for d in $(depends "$p=$version"); do
			todo="$todo $d"
		done
	done
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/root"
	(cd "$dir/debs" && "$apt_sh" get -qq download $(for p in $pkgs; do echo "$p=$version"; done)) >&2 ||
		die "downloading$pkgs $version failed"
	for f in "$dir"/debs/*.deb; do
		# The modules are not needed in the VM: leave them out.
		dpkg-deb --fsys-tarfile "$f" |
			tar -x -C "$dir/root" --exclude='./lib/modules/*/kernel' --exclude='./usr/lib/modules/*/kernel'
	done
	kdir=$dir/root/usr/src/linux-headers-$kver
	[ -f "$kdir/Makefile" ] || die "no $kdir/Makefile in the headers"
	# Debian's headers refer to /usr/src by absolute path: point them here.
	sed -i "s|/usr/src/|$dir/root/usr/src/|g" "$kdir/Makefile"
	vmlinuz=$(find "$dir/root" \( -path "*/boot/vmlinuz-$kver" -o -path "*/modules/$kver/vmlinuz" \) -type f | head -n 1)
	[ -n "$vmlinuz" ] || die "no vmlinuz in$pkgs"
	# The compiler the headers name (Debian: CC in .kernelvariables).
	cc=$(sed -n 's/^CC = .*)\(gcc[-0-9.]*\).*/\1/p' "$kdir/.kernelvariables")
	[ -n "$cc" ] || cc=gcc
	release=${suite%%-*}
	{
		echo "SERIES=$series"
		echo "VERSION=$version"
		echo "SUITE=$suite"
		echo "RELEASE=$release"
		echo "KVER=$kver"
		echo "KDIR=$kdir"
		echo "VMLINUZ=$vmlinuz"
		echo "CC=$cc"
		echo "TOOLDEPS=\"$( { tooldeps "linux-headers-$kver=$version"
		                     for p in $pkgs; do case $p in linux-kbuild-*) tooldeps "$p=$version" ;; esac; done; } |
		                   sort -u | tr '\n' ' ')\""
	} > "$dir/env"
	rm -rf "$dir/debs"
	touch "$dir/.done"
	echo "$dir"
}

# sparse_for_kernel: set CHECK for a C=2 build.  Kernels from 6.13 on take
# a checker only when scripts/checker-valid.sh finds it new enough
# (__typeof_unqual__); Debian's linux-kbuild does not ship that script, and
# only the newest Debian sparse is new enough.  So for those kernels: write
# the check into the cached headers (it runs the checker on such code and
# prints 1 when it has no error) and use the newest Debian sparse,
# extracted into the cache.
sparse_for_kernel() {
	local srctree valid version dir
	srctree=$(sed -n 's|^include \(.*\)/Makefile$|\1|p' "$KDIR/Makefile")
	grep -q 'checker-valid.sh' "$srctree/Makefile" || return 0
	valid=$srctree/scripts/checker-valid.sh
	if [ ! -x "$valid" ]; then
		cat >"$valid" <<'CHECKER'
#!/bin/sh
# Written by sharedsock's scripts/kernel.sh: Debian's headers lack it.
# Prints 1 when the checker "$@" parses __typeof_unqual__, else 0.
command -v "$1" >/dev/null || { echo 0; exit 0; }
t=$(mktemp --suffix=.c) || exit 1
trap 'rm -f "$t"' EXIT
printf 'static inline int u(const int *q)\n{\n\t__typeof_unqual__(*q) v = *q;\n\treturn v;\n}\n' >"$t"
if "$@" "$t" 2>&1 | grep -q error; then echo 0; else echo 1; fi
CHECKER
		chmod +x "$valid"
	fi
	version=$("$apt_sh" cache madison sparse | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
		  while read -r v; do echo "$v"; done | sort -V | tail -n 1)
	dir=$cache/sparse/$version
	if [ ! -x "$dir/usr/bin/sparse" ]; then
		log "fetching Debian's sparse $version for $KVER"
		rm -rf "$dir"
		mkdir -p "$dir"
		(cd "$dir" && "$apt_sh" get -qq download "sparse=$version") >&2 &&
			dpkg-deb -x "$dir"/sparse_*.deb "$dir" ||
			die "fetching sparse $version failed"
		rm -f "$dir"/*.deb
	fi
	KBUILD_ARGS="CHECK=$dir/usr/bin/sparse ${KBUILD_ARGS:-}"
}

# load: the kernel's variables, and TOOLCHAIN: host when the host is the
# kernel's own Debian release and has its compiler, else that release
load() {
	local dir host
	dir=$(fetch)
	# shellcheck disable=SC1091
	. "$dir/env"
	host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if [ "$host" = "$RELEASE" ] && command -v "$CC" >/dev/null; then
		TOOLCHAIN=host
	else
		TOOLCHAIN=$RELEASE
	fi
}

# run CMD...: CMD with the kernel's toolchain (EXTRA_PKGS: more packages for
# the chroot, such as sparse or dkms).  binutils is named: the compiler the
# headers depend on does not always bring the assembler under its plain name.
run() {
	if [ "$TOOLCHAIN" = host ]; then
		"$@"
	else
		"$top/scripts/toolchain.sh" "$TOOLCHAIN" run \
			-p "make binutils libc6-dev kmod perl python3 $TOOLDEPS ${EXTRA_PKGS:-}" "$@"
	fi
}

# module: copy the module's sources into build/kernel-SERIES (only what
# changed, so the build stays incremental) and build them there
module() {
	local out=$top/build/kernel-$series f rel log
	mkdir -p "$out"
	for f in Kbuild module/*.[ch] uapi/linux/*.h; do
		mkdir -p "$out/$(dirname "$f")"
		cmp -s "$top/$f" "$out/$f" || cp -p "$top/$f" "$out/$f"
	done
	for f in "$out"/module/*.[ch]; do
		rel=${f#"$out"/}
		[ -e "$top/$rel" ] || rm -f "$f" "${f%.c}.o"
	done
	log=$out/build.log
	if ! run make -C "$KDIR" M="$out" W=1 ${KBUILD_ARGS:-} modules >"$log" 2>&1; then
		cat "$log" >&2
		die "building the module for $KVER failed"
	fi
	if grep -E -A3 'warning:|WARNING:|error:' "$log" >&2; then
		die "the module build for $KVER is not W=1 clean (log: $log)"
	fi
	echo "$out/sharedsock.ko"
}

case $cmd in
fetch)	fetch ;;
release)
	"$apt_sh" update
	read -r version suite <<<"$(newest)"
	echo "${suite%%-*}" ;;
env)	load
	for v in SERIES VERSION SUITE RELEASE KVER KDIR VMLINUZ CC TOOLCHAIN; do
		echo "$v=${!v}"
	done ;;
run)	load; run "$@" ;;
kmake)	load; run make -C "$KDIR" "$@" ;;
module)	load; module ;;
sparse)	load
	command -v sparse >/dev/null || [ "$TOOLCHAIN" != host ] ||
		die "sparse is missing (apt-get install sparse)"
	sparse_for_kernel
	KBUILD_ARGS="C=2 ${KBUILD_ARGS:-}" EXTRA_PKGS="sparse ${EXTRA_PKGS:-}" module ;;
paths)	load
	ko=$(module)
	echo "MODULE=$ko"
	echo "VMLINUZ=$VMLINUZ" ;;
*)	die "unknown command $cmd" ;;
esac
