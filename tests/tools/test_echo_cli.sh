#!/usr/bin/env bash
# echo_cli: toe-echo's command line. Bad or missing flags: exit 2 with a
# message naming the problem; --help: exit 0; an interface that does not exist:
# exit 1 with a clear message (nothing is attached anywhere).
#   test_echo_cli.sh TOE_ECHO_BINARY
set -euo pipefail
bin=${1:?usage: test_echo_cli.sh TOE_ECHO_BINARY}
# shellcheck source-path=SCRIPTDIR source=cli_check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli_check.sh"
cli_check_begin "$bin" toe-echo-cli

cli_check_common 7
expect 1 'toe-echo: .+' --iface toe-no-such-if0 --ip 10.77.1.2/24 --port 7
echo PASS
