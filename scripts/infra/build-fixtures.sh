#!/usr/bin/env bash
# Build the fixture base images locally (no pulls) and push them to 127.0.0.1:5000.
#
#   gpuslim-fixtures/debian:12-minbase          debootstrap --variant=minbase bookworm + docker import
#   gpuslim-fixtures/cuda:<X.Y.Z>-base-debian12           cudart                       FROM debian
#   gpuslim-fixtures/cuda:<X.Y.Z>-runtime-debian12        + math libs, nvrtc, nvJitLink, nvtx, nccl  FROM base
#   gpuslim-fixtures/cuda:<X.Y.Z>-devel-debian12          + nvcc, nvvm, headers, dev links, static libs,
#                                                           stubs, gcc/g++ (build-essential .debs)  FROM runtime
#   gpuslim-fixtures/cuda:<X.Y.Z>-cudnn-runtime-debian12  + libcudnn*.so.9                          FROM runtime
#   gpuslim-fixtures/cuda:<X.Y.Z>-cudnn-devel-debian12    + libcudnn*.so.9, cudnn headers, dev links FROM devel
#
# The CUDA files come from the toolkit on this machine (GPUSLIM_CUDA_ROOT, default: the
# folder above nvcc's bin/), laid out like NVIDIA's images: /usr/local/cuda-X.Y/targets/
# x86_64-linux/{lib,include}, lib64 and include links, /usr/local/cuda -> cuda-X.Y;
# nccl and cudnn in /usr/lib/x86_64-linux-gnu and /usr/include as NVIDIA's .debs put them.
#
# Every image carries LABEL org.gpuslim.fixture.inputs=<sha256 of its inputs> (the
# parent's hash, the Dockerfile, and each source file's path, size and mtime). An image
# whose registry copy carries the same hash is not rebuilt (GPUSLIM_FIXTURES_FORCE=1
# rebuilds all). The debootstrap rootfs and the build-essential .debs are cached under
# $STATE/fixtures/debian; delete that folder to fetch them again.
#
# Writes $STATE/fixtures.env (tags, registry addresses, credentials) for tests to source.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

LABEL_KEY=org.gpuslim.fixture.inputs
REG="$REG_OPEN_ADDR"
FX="$STATE/fixtures"
DEBDIR="$FX/debian"
TARBALL="$DEBDIR/debian-12-minbase.tar"
BUILDDEBS="$DEBDIR/build-debs"
FORCE="${GPUSLIM_FIXTURES_FORCE:-0}"
BUILT_ANY=""
mkdir -p "$FX" "$DEBDIR/debcache" "$STATE/tmp"

engine_up 10 || die "no Docker engine answers (run scripts/infra/start-docker.sh)"
registry_up "$REG" || die "no registry on $REG (run scripts/infra/start-registry.sh)"
command -v debootstrap >/dev/null || die "debootstrap not found (run scripts/infra/install-deps.sh)"

WORK="$(mktemp -d "$STATE/tmp/fixtures.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- helpers

# Debian mirror: the one apt uses here (deb822 .sources or one-line .list), else deb.debian.org.
debian_mirror() {
	if [ -n "${GPUSLIM_DEBIAN_MIRROR:-}" ]; then echo "$GPUSLIM_DEBIAN_MIRROR"; return; fi
	local m="" f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		m="$(awk '
			function flush() { if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && uris != "") { split(uris, u, " "); print u[1]; done=1; exit } types=suites=uris="" }
			/^[ \t]*$/ { flush(); next }
			/^Types:/  { sub(/^Types:[ \t]*/, ""); types=$0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites=$0 }
			/^URIs:/   { sub(/^URIs:[ \t]*/, ""); uris=$0 }
			END { if (!done) flush() }
		' "$f")"
		[ -n "$m" ] && break
	done
	if [ -z "$m" ]; then
		m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -E 's/\[[^]]*\]//' | awk '$1=="deb" && $3=="bookworm" {print $2; exit}' || true)"
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

# Label value of a local image ('' when absent).
local_label() {
	dk image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true
}

# Label value of an image in the local registry ('' when absent).
registry_label() { # repo tag
	python3 - "$REG" "$1" "$2" "$LABEL_KEY" <<'EOF' 2>/dev/null || true
import json, sys, urllib.request
reg, repo, tag, key = sys.argv[1:5]
def get(path, accept=None):
    req = urllib.request.Request(f"http://{reg}/v2/{repo}/{path}")
    if accept: req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as r: return json.load(r)
m = get(f"manifests/{tag}", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
c = get(f"blobs/{m['config']['digest']}")
print((c.get("config") or {}).get("Labels", {}).get(key, ""))
EOF
}

push() { # local-name
	dk tag "$1" "$REG/$1"
	dk push "$REG/$1" >"$WORK/push.log" 2>&1 || { tail -n 20 "$WORK/push.log" >&2; die "push of $REG/$1 failed"; }
}

# ensure NAME HASH BUILD_FN: make sure the local image and the registry copy carry HASH.
# Sets DID to built|pushed|pulled|present.
ensure() {
	local name="$1" hash="$2" fn="$3" repo="${1%%:*}" tag="${1##*:}" lh rh t0
	lh="$(local_label "$name")"; rh="$(registry_label "$repo" "$tag")"
	t0="$(now)"
	if [ "$FORCE" != 1 ] && [ "$lh" = "$hash" ]; then
		if [ "$rh" = "$hash" ]; then DID=present
		else push "$name"; DID=pushed; fi
	elif [ "$FORCE" != 1 ] && [ "$rh" = "$hash" ]; then
		dk pull -q "$REG/$name" >/dev/null || die "pull of $REG/$name failed"
		dk tag "$REG/$name" "$name"; DID=pulled
	else
		"$fn"
		[ "$(local_label "$name")" = "$hash" ] || die "$name: built image lacks label $LABEL_KEY=$hash"
		push "$name"; DID=built; BUILT_ANY=1
	fi
	log "$name: $DID ($(elapsed "$t0")s)"
}

# Hash of inputs: parent hash + text + "path size mtime" of each listed file (no content read).
inputs_hash() { # parent-hash text-file list-file
	{ echo "$1"; cat "$2"; xargs -d '\n' -r stat -c '%n %s %Y' <"$3"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- (a) Debian minbase

MIRROR="$(debian_mirror)"
if [ ! -s "$TARBALL" ] || [ ! -f "$BUILDDEBS/.complete" ]; then
	t0="$(now)"
	log "debootstrap --variant=minbase bookworm from $MIRROR"
	rm -rf "$BUILDDEBS" "$TARBALL"
	rootfs="$WORK/rootfs"
	debootstrap --variant=minbase --cache-dir="$DEBDIR/debcache" bookworm "$rootfs" "$MIRROR" \
		>"$DEBDIR/debootstrap.log" 2>&1 || { tail -n 20 "$DEBDIR/debootstrap.log" >&2; die "debootstrap failed; see $DEBDIR/debootstrap.log"; }
	# Like Debian's official images: no .deb cache, no apt lists, empty /dev, no host names.
	rm -rf "${rootfs:?}"/var/cache/apt/archives/*.deb "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/dev/* "${rootfs:?}"/var/log/bootstrap.log
	mkdir -p "$rootfs"/var/lib/apt/lists/partial
	: >"$rootfs/etc/resolv.conf"; : >"$rootfs/etc/hostname"
	echo "deb http://deb.debian.org/debian bookworm main" >"$rootfs/etc/apt/sources.list"
	dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${Package}\n' | sort >"$WORK/minbase.pkgs"
	tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
	rm -rf "$rootfs"

	# gcc/g++ for the devel fixture: the build-essential closure as .debs, fetched now from
	# the same mirror (consistent versions with the rootfs), installed with dpkg in the
	# devel build without any network.
	log "fetching build-essential .debs (debootstrap --download-only)"
	dl="$WORK/dl"
	debootstrap --variant=minbase --download-only --include=build-essential --cache-dir="$DEBDIR/debcache" \
		bookworm "$dl" "$MIRROR" >"$DEBDIR/debootstrap-dl.log" 2>&1 ||
		{ tail -n 20 "$DEBDIR/debootstrap-dl.log" >&2; die "debootstrap --download-only failed"; }
	mkdir -p "$BUILDDEBS.tmp"
	for deb in "$dl"/var/cache/apt/archives/*.deb; do
		pkg="$(dpkg-deb -f "$deb" Package)"
		grep -qxF "$pkg" "$WORK/minbase.pkgs" || cp "$deb" "$BUILDDEBS.tmp/"
	done
	rm -rf "$dl"
	[ -n "$(ls "$BUILDDEBS.tmp")" ] || die "no build-essential .debs found"
	touch "$BUILDDEBS.tmp/.complete"
	mv "$BUILDDEBS.tmp" "$BUILDDEBS"
	mv "$TARBALL.tmp" "$TARBALL"
	sha256sum "$TARBALL" | cut -d' ' -f1 >"$TARBALL.sha256"
	log "rootfs cached: $TARBALL ($(du -h "$TARBALL" | cut -f1)), $(ls "$BUILDDEBS" | wc -l) build .debs ($(elapsed "$t0")s)"
fi
[ -s "$TARBALL.sha256" ] || sha256sum "$TARBALL" | cut -d' ' -f1 >"$TARBALL.sha256"

DEBIAN_IMG=gpuslim-fixtures/debian:12-minbase
DEBIAN_HASH="$(cat "$TARBALL.sha256")"
build_debian() {
	dk import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' \
		--change "LABEL $LABEL_KEY=$DEBIAN_HASH" \
		--change 'LABEL org.opencontainers.image.description="debootstrap --variant=minbase bookworm, made by gpuslim scripts/infra"' \
		"$TARBALL" "$DEBIAN_IMG" >/dev/null || die "docker import failed"
}
ensure "$DEBIAN_IMG" "$DEBIAN_HASH" build_debian

# ---------------------------------------------------------------- (b) CUDA flavors

CUDA_SRC="$(cuda_root)" || exit 1
CUDA_SRC="$(readlink -f "$CUDA_SRC")"
[ -x "$CUDA_SRC/bin/nvcc" ] || die "$CUDA_SRC/bin/nvcc missing: not a CUDA toolkit root"
SRC_LIB="$(readlink -f "$CUDA_SRC/lib64" 2>/dev/null || readlink -f "$CUDA_SRC/lib")"
SRC_INC="$(readlink -f "$CUDA_SRC/include")"
[ -f "$SRC_LIB/libcudart.so" ] || compgen -G "$SRC_LIB/libcudart.so.*" >/dev/null || die "no libcudart in $SRC_LIB"

# Component versions from the wheel metadata (dist-info) when the toolkit was laid out from
# NVIDIA's wheels; empty otherwise.
comp_version() { # wheel-name-prefix (e.g. nvidia_cuda_runtime)
	local d
	d="$(ls -d "$CUDA_SRC"/dist-info/"$1"-*.dist-info 2>/dev/null | head -n1 || true)"
	[ -n "$d" ] || return 0
	d="${d##*/}"; d="${d%.dist-info}"; echo "${d#"$1"-}"
}

NVCC_RELEASE="$("$CUDA_SRC/bin/nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\),.*/\1/p')"
[ -n "$NVCC_RELEASE" ] || die "cannot read the release from $CUDA_SRC/bin/nvcc --version"
CUDART_VERSION="$(comp_version nvidia_cuda_runtime)"
if [ -z "$CUDART_VERSION" ]; then
	f="$(ls "$SRC_LIB"/libcudart.so.*.*.* 2>/dev/null | head -n1 || true)"
	CUDART_VERSION="${f##*libcudart.so.}"
fi
[ -n "$CUDART_VERSION" ] || CUDART_VERSION="$NVCC_RELEASE"

# The toolkit release X.Y.Z: override, else version.json, else the cudart version of each
# 13.0 update (NVIDIA's redistrib manifests: 13.0.0 GA cudart 13.0.48, 13.0 U1 13.0.88,
# 13.0 U2 13.0.96), else X.Y.0 from nvcc with a warning.
if [ -n "${GPUSLIM_CUDA_VERSION:-}" ]; then CUDA_VERSION="$GPUSLIM_CUDA_VERSION"
elif [ -f "$CUDA_SRC/version.json" ]; then
	CUDA_VERSION="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cuda"]["version"])' "$CUDA_SRC/version.json")"
else
	case "$CUDART_VERSION" in
	13.0.48) CUDA_VERSION=13.0.0 ;;
	13.0.88) CUDA_VERSION=13.0.1 ;;
	13.0.96) CUDA_VERSION=13.0.2 ;;
	*) CUDA_VERSION="$NVCC_RELEASE.0"
	   warn "no version.json and cudart $CUDART_VERSION is not in the table: calling it $CUDA_VERSION (set GPUSLIM_CUDA_VERSION)" ;;
	esac
fi
case "$CUDA_VERSION" in "$NVCC_RELEASE".*) ;; *) die "CUDA version $CUDA_VERSION does not match nvcc release $NVCC_RELEASE" ;; esac
CUDA_MM="${CUDA_VERSION%.*}"; CUDA_MAJOR="${CUDA_VERSION%%.*}"

# NVIDIA_REQUIRE_CUDA (shared/reference/cuda-compat.md): cuda>=X.Y then brand clauses.
case "$CUDA_MM" in
13.0) BRANCHES="535 550 565 570 575" ;;
12.9) BRANCHES="535 550 560 565 570" ;;
12.8) BRANCHES="470 535 550 560 565" ;;
*) BRANCHES=""; warn "no driver-branch table for CUDA $CUDA_MM: NVIDIA_REQUIRE_CUDA has no brand clauses" ;;
esac
BRANDS="unknown grid tesla nvidia quadro quadrortx nvidiartx vapps vpc vcs vws cloudgaming"
REQUIRE="cuda>=$CUDA_MM"
for b in $BRANCHES; do for br in $BRANDS; do REQUIRE+=" brand=$br,driver>=$b,driver<$((b + 1))"; done; done

hdr_define() { sed -n "s/^#define $2 \([0-9]*\).*/\1/p" "$1" | head -n1; }
NCCL_VERSION=""; CUDNN_VERSION=""
if [ -f "$SRC_INC/nccl.h" ]; then
	NCCL_VERSION="$(hdr_define "$SRC_INC/nccl.h" NCCL_MAJOR).$(hdr_define "$SRC_INC/nccl.h" NCCL_MINOR).$(hdr_define "$SRC_INC/nccl.h" NCCL_PATCH)"
fi
if [ -f "$SRC_INC/cudnn_version.h" ]; then
	CUDNN_VERSION="$(hdr_define "$SRC_INC/cudnn_version.h" CUDNN_MAJOR).$(hdr_define "$SRC_INC/cudnn_version.h" CUDNN_MINOR).$(hdr_define "$SRC_INC/cudnn_version.h" CUDNN_PATCHLEVEL)"
	v="$(comp_version nvidia_cudnn_cu"$CUDA_MAJOR")"   # adds the build number when it agrees
	case "$v" in "$CUDNN_VERSION".*) CUDNN_VERSION="$v" ;; esac
fi
log "toolkit $CUDA_SRC: CUDA $CUDA_VERSION (nvcc $NVCC_RELEASE, cudart $CUDART_VERSION), nccl ${NCCL_VERSION:-none}, cudnn ${CUDNN_VERSION:-none}"

# Full version of a library's file, for NVIDIA-style names (libcublas.so.13.1.0.3).
lib_full_version() { # basename-without-.so (libcublasLt)
	case "$1" in
	libcudart) echo "$CUDART_VERSION" ;;
	libcublas|libcublasLt|libnvblas) comp_version nvidia_cublas ;;
	libcufft|libcufftw) comp_version nvidia_cufft ;;
	libcurand) comp_version nvidia_curand ;;
	libcusolver|libcusolverMg) comp_version nvidia_cusolver ;;
	libcusparse) comp_version nvidia_cusparse ;;
	libnvrtc|libnvrtc.alt|libnvrtc-builtins|libnvrtc-builtins.alt) comp_version nvidia_cuda_nvrtc ;;
	libnvJitLink) comp_version nvidia_nvjitlink ;;
	libcupti) comp_version nvidia_cuda_cupti ;;
	libnccl) echo "$NCCL_VERSION" ;;
	libcudnn*) echo "${CUDNN_VERSION%.*}" ;;   # NVIDIA's cudnn files: libcudnn.so.9.19.0
	esac
}

TGT="usr/local/cuda-$CUDA_MM/targets/x86_64-linux"
DEB_LIB="usr/lib/x86_64-linux-gnu"

# stage_lib SRC_PATTERN... into ROOTFS/DESTDIR: real files under their full version name
# (libX.so.S becomes libX.so.S.rest, with libX.so.S -> it), symlinks kept. The source list
# goes to $LIST for the inputs hash.
stage_libs() { # rootfs destdir pattern...
	local root="$1" dest="$2"; shift 2
	mkdir -p "$root/$dest"
	local pat f b stem sfx full
	for pat in "$@"; do
		for f in "$SRC_LIB"/$pat; do
			[ -e "$f" ] || [ -L "$f" ] || continue
			b="${f##*/}"
			echo "$f" >>"$LIST"
			if [ -L "$f" ]; then cp -P "$f" "$root/$dest/$b"; continue; fi
			stem="${b%%.so.*}"; sfx="${b#*.so.}"
			full=""
			[ "$stem" != "$b" ] && full="$(lib_full_version "$stem")"
			if [ -n "$full" ] && [ "$full" != "$sfx" ] && [ "${full#"$sfx".}" != "$full" ]; then
				ln "$f" "$root/$dest/$stem.so.$full" 2>/dev/null || cp "$f" "$root/$dest/$stem.so.$full"
				ln -sfn "$stem.so.$full" "$root/$dest/$b"
			else
				ln "$f" "$root/$dest/$b" 2>/dev/null || cp -P "$f" "$root/$dest/$b"
			fi
		done
	done
}

# stage_tree SRC DEST: hardlinked copy of a directory (cp -al; falls back to cp -a).
stage_tree() { # src-dir rootfs destdir
	mkdir -p "$(dirname "$2/$3")"
	cp -al "$1" "$2/$3" 2>/dev/null || { rm -rf "${2:?}/$3"; cp -a "$1" "$2/$3"; }
	find "$1" \( -type f -o -type l \) >>"$LIST"
}

ENV_COMMON="ENV NVARCH=x86_64 \\
    NVIDIA_REQUIRE_CUDA=\"$REQUIRE\" \\
    NV_CUDA_CUDART_VERSION=$CUDART_VERSION \\
    CUDA_VERSION=$CUDA_VERSION"

CUDA_REPO=gpuslim-fixtures/cuda
T_BASE="$CUDA_REPO:$CUDA_VERSION-base-debian12"
T_RUNTIME="$CUDA_REPO:$CUDA_VERSION-runtime-debian12"
T_DEVEL="$CUDA_REPO:$CUDA_VERSION-devel-debian12"
T_CUDNN_RT="$CUDA_REPO:$CUDA_VERSION-cudnn-runtime-debian12"
T_CUDNN_DEV="$CUDA_REPO:$CUDA_VERSION-cudnn-devel-debian12"

# Each flavor: prepare_<f> fills $CTX (rootfs/, Dockerfile) and $LIST; build_<f> builds it.
new_ctx() { CTX="$WORK/ctx-$1"; rm -rf "$CTX"; mkdir -p "$CTX/rootfs"; LIST="$CTX.list"; : >"$LIST"; }

prepare_base() {
	new_ctx base
	local r="$CTX/rootfs"
	stage_libs "$r" "$TGT/lib" 'libcudart.so.*'
	ln -s "targets/x86_64-linux/lib" "$r/usr/local/cuda-$CUDA_MM/lib64"
	ln -s "cuda-$CUDA_MM" "$r/usr/local/cuda"
	ln -s "cuda-$CUDA_MM" "$r/usr/local/cuda-$CUDA_MAJOR"
	mkdir -p "$r/etc/ld.so.conf.d"
	echo "/usr/local/cuda-$CUDA_MAJOR/targets/x86_64-linux/lib" >"$r/etc/ld.so.conf.d/988_cuda-$CUDA_MAJOR.conf"
	printf '/usr/local/nvidia/lib\n/usr/local/nvidia/lib64\n' >"$r/etc/ld.so.conf.d/nvidia.conf"
	cat >"$CTX/Dockerfile" <<EOF
FROM $REG/$DEBIAN_IMG
$ENV_COMMON
LABEL maintainer="gpuslim scripts/infra" \\
      org.opencontainers.image.description="CUDA $CUDA_VERSION base (cudart) on Debian 12, from the local toolkit"
COPY rootfs/ /
RUN ldconfig
ENV PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64 \\
    NVIDIA_VISIBLE_DEVICES=all \\
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
EOF
}

RUNTIME_LIBS=('libcublas.so.*' 'libcublasLt.so.*' 'libnvblas.so.*' 'libcufft.so.*' 'libcufftw.so.*'
	'libcurand.so.*' 'libcusolver.so.*' 'libcusolverMg.so.*' 'libcusparse.so.*'
	'libnvrtc.so.*' 'libnvrtc.alt.so.*' 'libnvrtc-builtins.so.*' 'libnvrtc-builtins.alt.so.*'
	'libnvJitLink.so.*' 'libnpp*.so.*' 'libnvtx3interop.so.*' 'libnvToolsExt.so.*')
prepare_runtime() {
	new_ctx runtime
	local r="$CTX/rootfs"
	stage_libs "$r" "$TGT/lib" "${RUNTIME_LIBS[@]}"
	[ -n "$NCCL_VERSION" ] && stage_libs "$r" "$DEB_LIB" 'libnccl.so.*'
	cat >"$CTX/Dockerfile" <<EOF
FROM $REG/$T_BASE
ENV NV_CUDA_LIB_VERSION=$CUDA_VERSION \\
    NV_LIBCUBLAS_VERSION=$(comp_version nvidia_cublas) \\
    NV_NVTX_VERSION=$(comp_version nvidia_nvtx) \\
    NCCL_VERSION=$NCCL_VERSION
LABEL org.opencontainers.image.description="CUDA $CUDA_VERSION runtime (math libraries, nvrtc, nvJitLink, nvtx, nccl) on Debian 12, from the local toolkit"
COPY rootfs/ /
RUN ldconfig
EOF
}

CUDNN_LIBS=('libcudnn*.so.*')
prepare_devel() {
	new_ctx devel
	local r="$CTX/rootfs" d="usr/local/cuda-$CUDA_MM"
	stage_tree "$CUDA_SRC/bin" "$r" "$d/bin"
	stage_tree "$CUDA_SRC/nvvm" "$r" "$d/nvvm"
	stage_tree "$SRC_INC" "$r" "$TGT/include"
	# headers that NVIDIA's images keep elsewhere: cudnn (cudnn-devel), nccl (/usr/include)
	rm -f "$r/$TGT"/include/cudnn*.h "$r/$TGT"/include/nccl*.h; rm -rf "$r/$TGT/include/nccl_device"
	if [ -f "$SRC_INC/nccl.h" ]; then
		mkdir -p "$r/usr/include"
		ln "$SRC_INC/nccl.h" "$r/usr/include/nccl.h"
		[ -f "$SRC_INC/nccl_device.h" ] && ln "$SRC_INC/nccl_device.h" "$r/usr/include/nccl_device.h"
		[ -d "$SRC_INC/nccl_device" ] && cp -al "$SRC_INC/nccl_device" "$r/usr/include/nccl_device"
		stage_libs "$r" "$DEB_LIB" 'libnccl.so'
	fi
	ln -s "targets/x86_64-linux/include" "$r/$d/include"
	# dev links of base/runtime libraries, static libs, stubs, cmake, nvvm/cupti/profiling libs
	local devlinks=(libcudart.so) p
	for p in "${RUNTIME_LIBS[@]}"; do devlinks+=("${p%.\*}"); done
	stage_libs "$r" "$TGT/lib" "${devlinks[@]}" '*.a' 'libnvvm.so*' 'libcupti.so*' 'libnvperf_*.so*' \
		'libcheckpoint.so*' 'libpcsamplingutil.so*'
	[ -d "$SRC_LIB/stubs" ] && stage_tree "$SRC_LIB/stubs" "$r" "$TGT/lib/stubs"
	[ -d "$SRC_LIB/cmake" ] && stage_tree "$SRC_LIB/cmake" "$r" "$TGT/lib/cmake"
	cp -al "$BUILDDEBS" "$CTX/debs"
	ls "$BUILDDEBS"/*.deb >>"$LIST"
	cat >"$CTX/Dockerfile" <<EOF
FROM $REG/$T_RUNTIME
LABEL org.opencontainers.image.description="CUDA $CUDA_VERSION devel (nvcc, headers, static libs, gcc/g++ from Debian) on Debian 12, from the local toolkit"
# gcc/g++/make: Debian's build-essential closure, .debs fetched on the host (no network here)
RUN --mount=type=bind,source=debs,target=/tmp/debs dpkg -i /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 \\
    || { tail -n 30 /tmp/dpkg.log; exit 1; }; rm -f /tmp/dpkg.log
COPY rootfs/ /
RUN ldconfig
ENV LIBRARY_PATH=/usr/local/cuda/lib64/stubs
EOF
}

prepare_cudnn_runtime() {
	new_ctx cudnn-runtime
	stage_libs "$CTX/rootfs" "$DEB_LIB" "${CUDNN_LIBS[@]}"
	cat >"$CTX/Dockerfile" <<EOF
FROM $REG/$T_RUNTIME
ENV NV_CUDNN_VERSION=$CUDNN_VERSION
LABEL com.nvidia.cudnn.version="$CUDNN_VERSION" \\
      org.opencontainers.image.description="CUDA $CUDA_VERSION runtime + cuDNN $CUDNN_VERSION on Debian 12, from the local toolkit"
COPY rootfs/ /
RUN ldconfig
EOF
}

prepare_cudnn_devel() {
	new_ctx cudnn-devel
	local r="$CTX/rootfs" h
	stage_libs "$r" "$DEB_LIB" "${CUDNN_LIBS[@]}" 'libcudnn*.so'
	mkdir -p "$r/usr/include"
	for h in "$SRC_INC"/cudnn*.h; do ln "$h" "$r/usr/include/"; echo "$h" >>"$LIST"; done
	cat >"$CTX/Dockerfile" <<EOF
FROM $REG/$T_DEVEL
ENV NV_CUDNN_VERSION=$CUDNN_VERSION
LABEL com.nvidia.cudnn.version="$CUDNN_VERSION" \\
      org.opencontainers.image.description="CUDA $CUDA_VERSION devel + cuDNN $CUDNN_VERSION (libraries and headers) on Debian 12, from the local toolkit"
COPY rootfs/ /
RUN ldconfig
EOF
}

# Build the prepared $CTX as NAME with the inputs label. RUN steps need no network.
docker_build() { # name hash
	dk build --network=none --label "$LABEL_KEY=$2" -t "$1" "$CTX" >"$CTX.build.log" 2>&1 ||
		{ tail -n 30 "$CTX.build.log" >&2; die "docker build of $1 failed"; }
}

# flavor NAME PREPARE_FN PARENT_HASH -> sets FHASH; builds when needed.
flavor() {
	local name="$1" prep="$2"
	"$prep"
	FHASH="$(inputs_hash "$3" "$CTX/Dockerfile" "$LIST")"
	CUR_NAME="$name"; CUR_HASH="$FHASH"
	ensure "$name" "$FHASH" _build_cur
	rm -rf "$CTX"
}
_build_cur() { docker_build "$CUR_NAME" "$CUR_HASH"; }

flavor "$T_BASE" prepare_base "$DEBIAN_HASH"; H_BASE="$FHASH"
flavor "$T_RUNTIME" prepare_runtime "$H_BASE"; H_RUNTIME="$FHASH"
flavor "$T_DEVEL" prepare_devel "$H_RUNTIME"; H_DEVEL="$FHASH"
if [ -n "$CUDNN_VERSION" ]; then
	flavor "$T_CUDNN_RT" prepare_cudnn_runtime "$H_RUNTIME"
	flavor "$T_CUDNN_DEV" prepare_cudnn_devel "$H_DEVEL"
else
	warn "no cuDNN in $CUDA_SRC: cudnn flavors skipped"
fi

# BuildKit keeps a copy of each uploaded build context (GBs here): drop those copies.
if [ -n "$BUILT_ANY" ]; then
	dk builder prune -f --filter type=source.local >/dev/null 2>&1 || warn "docker builder prune failed"
fi

# ---------------------------------------------------------------- verification

# Each flavor: no library of the image misses a dependency except the driver (libcuda.so.1);
# devel: nvcc builds a vector add that runs and reports the no-driver/no-device error.
verify() {
	local stamp="$FX/verified.$H_DEVEL.${CUDNN_VERSION:-nocudnn}"
	[ -f "$stamp" ] && [ "$FORCE" != 1 ] && { log "verification: done earlier (${stamp##*/})"; return 0; }
	local t0 img out
	t0="$(now)"
	for img in "$T_BASE" "$T_RUNTIME" "$T_DEVEL" ${CUDNN_VERSION:+"$T_CUDNN_RT" "$T_CUDNN_DEV"}; do
		out="$(dk run --rm --network=none "$img" bash -c '
			for f in /usr/local/cuda/lib64/*.so* /usr/lib/x86_64-linux-gnu/libnccl* /usr/lib/x86_64-linux-gnu/libcudnn*; do
				[ -e "$f" ] || continue
				ldd "$f" 2>/dev/null | grep "not found" | grep -v "libcuda.so.1" | sed "s|^|$f: |"
			done; true' 2>&1)" || die "$img: ldd check did not run: $out"
		[ -z "$out" ] || die "$img: libraries with missing dependencies:
$out"
	done
	local src='#include <cstdio>
#include <cuda_runtime.h>
__global__ void add(const float *a, const float *b, float *c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) c[i] = a[i] + b[i]; }
int main() {
  int n = 0; cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) { printf("cudaGetDeviceCount: %s (%s)\n", cudaGetErrorName(e), cudaGetErrorString(e)); return 2; }
  printf("devices: %d\n", n); return 0; }'
	out="$(dk run --rm --network=none -e SRC="$src" "$T_DEVEL" bash -c '
		cd /tmp && printf "%s\n" "$SRC" >vadd.cu && nvcc -o vadd vadd.cu && ldd ./vadd | grep -q "not found" && { ldd ./vadd; exit 3; }
		./vadd; echo "exit=$?"' 2>&1)" || die "nvcc in $T_DEVEL failed:
$out"
	case "$out" in
	*cudaErrorInsufficientDriver*|*cudaErrorNoDevice*|*"devices: "*) ;;
	*) die "vector add in $T_DEVEL did not reach the driver check:
$out" ;;
	esac
	log "verification: ldd clean in all flavors; nvcc vector add in devel: $(echo "$out" | head -n1) ($(elapsed "$t0")s)"
	rm -f "$FX"/verified.*; touch "$stamp"
}
verify

# ---------------------------------------------------------------- fixtures.env

cat >"$STATE/fixtures.env.tmp" <<EOF
# Written by scripts/infra/build-fixtures.sh; source it in tests.
GPUSLIM_REGISTRY=$REG_OPEN_ADDR
GPUSLIM_REGISTRY_AUTH=$REG_AUTH_ADDR
GPUSLIM_REGISTRY_USER=$REG_USER
GPUSLIM_REGISTRY_PASSWORD=$REG_PASS
GPUSLIM_DOCKER=$(docker_client)
GPUSLIM_FIXTURE_DEBIAN=$REG/$DEBIAN_IMG
GPUSLIM_FIXTURE_CUDA_VERSION=$CUDA_VERSION
GPUSLIM_FIXTURE_CUDNN_VERSION=$CUDNN_VERSION
GPUSLIM_FIXTURE_NCCL_VERSION=$NCCL_VERSION
GPUSLIM_FIXTURE_CUDA_BASE=$REG/$T_BASE
GPUSLIM_FIXTURE_CUDA_RUNTIME=$REG/$T_RUNTIME
GPUSLIM_FIXTURE_CUDA_DEVEL=$REG/$T_DEVEL
GPUSLIM_FIXTURE_CUDA_CUDNN_RUNTIME=${CUDNN_VERSION:+$REG/$T_CUDNN_RT}
GPUSLIM_FIXTURE_CUDA_CUDNN_DEVEL=${CUDNN_VERSION:+$REG/$T_CUDNN_DEV}
EOF
# The package index's addresses (scripts/infra/start-index.sh), when it has run.
if [ -f "$STATE/index/env" ]; then cat "$STATE/index/env" >>"$STATE/fixtures.env.tmp"; fi
mv "$STATE/fixtures.env.tmp" "$STATE/fixtures.env"
log "fixtures ready; tags in $STATE/fixtures.env"
