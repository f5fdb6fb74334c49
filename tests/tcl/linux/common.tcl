# Shared by the comparison scripts in tests/tcl/linux/: each *.test there runs
# twice under ctest, unchanged -- against toe (tcl_linuxref_NAME, virtual time)
# and against the Linux kernel (tcl_linux_NAME, TOE_TCL_BACKEND=linux, real
# time). Where the two differ on purpose the script says so through
# cmp::pick, and DIFFERENCES.md gives the evidence.
package require tcltest 2
namespace import tcltest::*
package require toe

namespace eval ::cmp {
    variable linux [expr {[info exists ::env(TOE_TCL_BACKEND)] &&
                          $::env(TOE_TCL_BACKEND) eq "linux"}]
}

# 1 when this run is against the kernel.
proc ::cmp::linux {} { return $::cmp::linux }

# The toe value or, against Linux, the Linux one: a deliberate difference
# (each use is listed in DIFFERENCES.md).
proc ::cmp::pick {toe linux} {
    if {$::cmp::linux} { return $linux }
    return $toe
}

# toe's delayed-ACK time for the first data segment of a connection; Linux
# starts every connection in quick-ACK mode (DIFFERENCES.md: delayed ACK).
proc ::cmp::first_ack {} { pick +0.040 +0 }

# Passive open with the usual options; returns the accepted connection.
# opts: "" (no TS/SACK/WS, -timestamps 0 style) or "all".
proc ::cmp::establish {s {opts all}} {
    $s listen 8080
    if {$opts eq "all"} {
        $s inject 0 {S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>}
        $s expect +0 {S. 0:0(0) ack 1 win * <mss 1460,sackOK,TS val 0 ecr 100,wscale *>}
        $s inject +0.010 {. 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr 0>}
    } else {
        $s inject 0 {S 0:0(0) win 65535 <mss 1460>}
        $s expect +0 {S. 0:0(0) ack 1 win * <mss 1460>}
        $s inject +0.010 {. 1:1(0) ack 1 win 65535}
    }
    $s accept 8080
}

# Where toe and Linux disagree and toe is believed wrong (reported; listed
# under "toe bugs" in DIFFERENCES.md): the value toe gives today, or the
# Linux one. When toe is fixed its run fails here and this call goes.
proc ::cmp::bug {id toe linux} {
    if {$::cmp::linux} { return $linux }
    return $toe
}
