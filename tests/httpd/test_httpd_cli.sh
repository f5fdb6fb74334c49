#!/usr/bin/env bash
# httpd_cli: toe-httpd's command line. Bad or missing flags: exit 2 with a
# message naming the problem; --help: exit 0; an interface that does not exist:
# exit 1 with a clear message (nothing is attached anywhere).
#   test_httpd_cli.sh TOE_HTTPD_BINARY
set -euo pipefail
bin=${1:?usage: test_httpd_cli.sh TOE_HTTPD_BINARY}
# shellcheck source-path=SCRIPTDIR source=../tools/cli_check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../tools/cli_check.sh"
cli_check_begin "$bin" toe-httpd-cli

cli_check_common 80
expect 0 '--root DIR' --help
expect 2 '--header-timeout-ms' "${ok[@]}" --header-timeout-ms soon
expect 2 '--idle-timeout-ms' "${ok[@]}" --idle-timeout-ms -5
expect 2 '--cache-entries.*0\.\.4096' "${ok[@]}" --cache-entries 99999
expect 2 '--max-conns' "${ok[@]}" --max-conns 0
expect 2 'needs a value' "${ok[@]}" --root
expect 1 'toe-httpd: --root /nonexistent-toe-root' "${ok[@]}" --root /nonexistent-toe-root
expect 1 'toe-httpd: .+' --iface toe-no-such-if0 --ip 10.77.1.2/24 --port 80
echo PASS
