#!/usr/bin/env bash
# embed_install: `cmake --install` into a private prefix, then the embedding
# example (examples/embed) is built OUT OF TREE against what was installed,
# found only through pkg-config (PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig),
# once with libtoe.so and once with libtoe.a, and both must run and say OK.
# Also: the installed libraries hold the engine's objects, and the installed
# headers are the source tree's include/toe.
#   test_embed_install.sh BUILD_DIR LIBDIR SOURCE_DIR [CC]
# CC (default cc) may carry the build's instrumentation (-fsanitize=...).
set -euo pipefail
build=${1:?usage: test_embed_install.sh BUILD_DIR LIBDIR SOURCE_DIR [CC]}
libdir=${2:?}
src=${3:?}
export CC=${4:-cc}
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }
tmp=$(mktemp -d /tmp/toe-embed.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
pc=$tmp/prefix/$libdir/pkgconfig
[[ -f $pc/toe.pc ]] || fail "no toe.pc in $pc"
for f in include/toe/toe.h include/toe/port_mem.h "$libdir/libtoe.a" "$libdir/libtoe.so"; do
    [[ -e $tmp/prefix/$f ]] || fail "not installed: $f"
    echo "installed: $f"
done

# The engine's modules are all in both libraries.
nm -g --defined-only "$tmp/prefix/$libdir/libtoe.a" >"$tmp/nm.a" 2>/dev/null
nm -D --defined-only "$tmp/prefix/$libdir/libtoe.so" >"$tmp/nm.so"
for sym in toe_stack_create toe_send port_mem_pair_create tcp_send timer_wheel_advance \
    sndbuf_append rcvbuf_append sockmem_pool_init; do
    grep -q " T $sym\$" "$tmp/nm.a" || fail "libtoe.a lacks $sym"
    grep -q " T $sym\$" "$tmp/nm.so" || fail "libtoe.so lacks $sym"
done
echo "libtoe.a and libtoe.so define the stack, TCP, timers, socket buffers, port_mem"

# Out of tree: a copy of the example, nothing from the source tree on the path.
mkdir "$tmp/embed" "$tmp/out"
cp "$src/examples/embed/hello.c" "$src/examples/embed/build.sh" "$src/examples/embed/Makefile" \
    "$tmp/embed/"
export PKG_CONFIG_PATH=$pc
echo "pkg-config --cflags --libs toe: $(pkg-config --cflags --libs toe)"
(cd "$tmp/out" && sh "$tmp/embed/build.sh" "$tmp/out") || fail "build.sh"
make -s -C "$tmp/embed" >/dev/null || fail "make"
for exe in "$tmp/out/hello" "$tmp/out/hello-static" "$tmp/embed/hello"; do
    echo "--- $exe"
    "$exe" | tee "$tmp/run.out" || fail "$exe exited non-zero"
    grep -q '^embed example: OK$' "$tmp/run.out" || fail "$exe did not say OK"
done
# ldd's output goes to a file first: `ldd | grep -q` under pipefail fails
# whenever grep quits early and ldd takes the SIGPIPE.
ldd "$tmp/out/hello" >"$tmp/ldd.out"
grep -q "$tmp/prefix/.*libtoe.so" "$tmp/ldd.out" || fail "hello is not linked to the installed libtoe.so"

# The installed headers are the source tree's public headers, byte for byte.
diff -r "$src/include/toe" "$tmp/prefix/include/toe" >/dev/null ||
    fail "installed include/toe differs from the source tree's include/toe"
echo PASS
