# Tcl helpers of the toe package, sourced by "package require toe" after the
# C extension: common steps of packet scripts.

namespace eval ::toe {}

# toe::establish STACK ?-port P? ?-syn OPTS? ?-synack PATTERN? ?-ack OPTS?
#                     ?-win N? ?-at TIME?
# Passive open of one connection from the default remote port (-rport) to
# P, which becomes the default tuple: listen on P (unless already listening), inject the SYN with option list OPTS (default
# "<mss 1460>") at TIME (default +0), expect the SYN-ACK (default pattern
# "S. 0:0(0) ack 1", i.e. options not checked), inject the final ACK with
# window N (default 65535) and options -ack, and return the accepted
# connection handle.
proc ::toe::establish {s args} {
    array set o {-port 8080 -syn {<mss 1460>} -synack {S. 0:0(0) ack 1} -ack {}
                 -win 65535 -at +0}
    foreach {k v} $args {
        if {![info exists o($k)]} {
            return -code error "toe::establish: unknown option \"$k\":\
                must be one of [lsort [array names o]]"
        }
        set o($k) $v
    }
    if {[catch {$s listen $o(-port)} err opts] && ![string match EADDRINUSE* $err]} {
        return -options $opts $err
    }
    # The connection's tuple becomes the default one, as with connect.
    $s use $o(-port) [$s config -rport]
    $s inject $o(-at) "S 0:0(0) win 65535 $o(-syn)"
    $s expect +0 $o(-synack)
    $s inject +0 ". 1:1(0) ack 1 win $o(-win) $o(-ack)"
    return [$s accept $o(-port)]
}

# toe::tcpinfo STACK CONN
# The stack's own figures for one connection (cwnd, ssthresh, srtt_us, rto_us,
# retx, unacked, unread, state, ...) as a dict, taken from "$s ss"
# (toe_stack_conns_print) by its header names.
proc ::toe::tcpinfo {s c} {
    set info [$s info $c]
    set me "[dict get $info local_addr]:[dict get $info local_port]"
    set peer "[dict get $info remote_addr]:[dict get $info remote_port]"
    set lines [split [string trim [$s ss]] \n]
    set header [regexp -all -inline {\S+} [lindex $lines 0]]
    foreach line [lrange $lines 1 end] {
        set fields [regexp -all -inline {\S+} $line]
        if {[lsearch -exact $fields $me] >= 0 && [lsearch -exact $fields $peer] >= 0} {
            set d [dict create]
            foreach k $header v $fields {
                if {$k ne ""} { dict set d $k $v }
            }
            return $d
        }
    }
    return -code error "toe::tcpinfo: $c ($me - $peer) is not in the stack's list"
}

# toe::icmp_quote STACK CONN SEQ ?-iplen N?
# What a router quotes of a segment the stack sent on CONN (RFC 792: the
# IPv4 header and the first 8 bytes of TCP), as bytes for
# "$s inject T {icmp type 3 code 4 seq MTU} -data [toe::icmp_quote ...]":
# sequence number SEQ relative to the stack's ISN (as in expect patterns),
# -iplen the IPv4 total length written in the quoted header (default 40).
# CONN is a connection handle, or {LADDR LPORT RADDR RPORT} for a tuple the
# app holds no handle of (a passive open in SYN-RECEIVED).
proc ::toe::icmp_quote {s c seq args} {
    array set o {-iplen 40}
    foreach {k v} $args {
        if {![info exists o($k)]} {
            return -code error "toe::icmp_quote: unknown option \"$k\": must be -iplen"
        }
        set o($k) $v
    }
    if {[llength $c] == 4} {
        lassign $c la lp ra rp
        set info [dict create local_addr $la local_port $lp remote_addr $ra remote_port $rp]
    } else {
        set info [$s info $c]
    }
    set isn [dict get [$s flow [dict get $info local_port] [dict get $info remote_port]] stack_isn]
    if {$isn eq ""} {
        return -code error "toe::icmp_quote: the stack's ISN on $c is not known yet"
    }
    set src 0
    set dst 0
    foreach b [split [dict get $info local_addr] .] { set src [expr {($src << 8) | $b}] }
    foreach b [split [dict get $info remote_addr] .] { set dst [expr {($dst << 8) | $b}] }
    # Version/IHL, TOS, total length, ID, DF, TTL 64, TCP, checksum, addresses.
    set words [list 0x4500 $o(-iplen) 0 0x4000 0x4006 0 \
                   [expr {$src >> 16}] [expr {$src & 0xffff}] \
                   [expr {$dst >> 16}] [expr {$dst & 0xffff}]]
    set sum 0
    foreach w $words { incr sum $w }
    while {$sum > 0xffff} { set sum [expr {($sum & 0xffff) + ($sum >> 16)}] }
    lset words 5 [expr {~$sum & 0xffff}]
    set ip [binary format S* $words]
    set tcp [binary format SSI [dict get $info local_port] [dict get $info remote_port] \
                 [expr {($isn + $seq) & 0xffffffff}]]
    return $ip$tcp
}
