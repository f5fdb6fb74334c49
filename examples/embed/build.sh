#!/bin/sh
# Builds the embedding example against an INSTALLED libtoe, found through
# pkg-config (set PKG_CONFIG_PATH to <prefix>/<libdir>/pkgconfig for a private
# prefix). Out of tree: only the installed headers and libraries are used.
#   examples/embed/build.sh [OUTDIR]      -> OUTDIR/hello (shared libtoe)
#                                            OUTDIR/hello-static (libtoe.a)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.}
cc=${CC:-cc}
flags="-std=gnu11 -O2 -Wall -Wextra -Werror"
libdir=$(pkg-config --variable=libdir toe)

# Shared: libtoe.so, found at run time through the rpath.
$cc $flags -o "$out/hello" "$here/hello.c" $(pkg-config --cflags --libs toe) \
    -Wl,-rpath,"$libdir"
# Static libtoe: libtoe.a plus the libraries it needs (toe.pc's private
# requirements), those linked as usual.
deps=$(pkg-config --print-requires-private toe | awk '{print $1}')
$cc $flags -o "$out/hello-static" "$here/hello.c" $(pkg-config --cflags toe) \
    "$libdir/libtoe.a" $(pkg-config --libs $deps) -lpthread
echo "built $out/hello and $out/hello-static against $(pkg-config --modversion toe) in $libdir"
