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
