#!/usr/bin/env bash
# load_cli: toe-load's command line. Bad or missing flags and modes: exit 2
# with a message naming the problem; --help: exit 0; an interface that does
# not exist: exit 1 with a clear message; an address the kernel already has
# (127.0.0.1 on lo): exit 1 "address in use" before anything is attached.
#   test_load_cli.sh TOE_LOAD_BINARY
set -euo pipefail
bin=${1:?usage: test_load_cli.sh TOE_LOAD_BINARY}
# shellcheck source-path=SCRIPTDIR source=cli_check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli_check.sh"
cli_check_begin "$bin" toe-load-cli

ok=(--iface lo --ip 10.77.1.4/24 --to 10.77.1.2:7)
expect 2 'MODE and --to are required' --iface lo --ip 10.77.1.4/24 --to 10.77.1.2:7
expect 2 'MODE and --to are required' rr --iface lo --ip 10.77.1.4/24
expect 2 '--iface, --ip are required' rr --ip 10.77.1.4/24 --to 10.77.1.2:7
expect 2 'MODE turbo: want rr, http, bulk or connect' turbo "${ok[@]}"
expect 2 'unexpected argument' rr http "${ok[@]}"
expect 2 '--to.*ADDR:PORT' rr --iface lo --ip 10.77.1.4/24 --to 10.77.1.2
expect 2 '--to.*ADDR:PORT' rr --iface lo --ip 10.77.1.4/24 --to 10.77.1.2:0
expect 2 '--conns.*1\.\.65536' rr "${ok[@]}" --conns 0
expect 2 '--size' rr "${ok[@]}" --size 12Q
expect 2 '--depth.*1\.\.64' rr "${ok[@]}" --depth 65
expect 2 '--duration' rr "${ok[@]}" --duration 0
expect 2 '--duration' rr "${ok[@]}" --duration -1
expect 2 '--warmup' rr "${ok[@]}" --warmup x
expect 2 '--rate' rr "${ok[@]}" --rate 0
expect 2 '--requests' rr "${ok[@]}" --requests 0
expect 2 '--path.*/PATH' http "${ok[@]}" --path nope
expect 2 '--path, --close and --host are for http' rr "${ok[@]}" --path /x
expect 2 '--depth is for rr and keep-alive http' connect "${ok[@]}" --depth 2
expect 2 '--bulk-dir.*both, send or recv' bulk "${ok[@]}" --bulk-dir up
expect 2 '--timeout-ms' rr "${ok[@]}" --timeout-ms 0
expect 2 '--progress' rr "${ok[@]}" --progress sometimes
expect 2 '--ip.*ADDR/PREFIX' rr --iface lo --ip 10.77.1/24 --to 10.77.1.2:7
expect 2 'same address' rr --iface lo --ip 10.77.1.2/24 --to 10.77.1.2:7
expect 2 'unknown option' rr "${ok[@]}" --frobnicate
expect 2 'needs a value' rr "${ok[@]}" --conns
expect 0 'requests/s R, p50 X us, p99 Y us, errors E' --help
expect 0 '--rate R' --help
expect 1 'address in use' rr --iface lo --ip 127.0.0.1/8 --to 127.0.0.2:7
expect 1 'toe-load: .+' rr --iface toe-no-such-if0 --ip 10.77.1.4/24 --to 10.77.1.2:7
echo PASS
