# Runs one packet script under tcltest for ctest:
#     tclsh run.tcl BUILD_DIR_OF_toe_tcl SCRIPT.test
# tcltest itself always exits 0; this runner exits 1 when a test failed, a
# test was skipped (a skipped protocol test proves nothing), no test ran, or
# the script raised an error outside a test.
if {[llength $argv] != 2} {
    puts stderr "usage: tclsh run.tcl BUILD_DIR SCRIPT.test"
    exit 2
}
lassign $argv builddir script
set auto_path [linsert $auto_path 0 [file normalize $builddir]]
package require tcltest 2

if {[catch {package require toe} err]} {
    # libjemalloc needs static TLS that glibc only reserves when asked: run
    # again with the tunable (ctest sets it already).
    if {[string match "*static TLS*" $err] && ![info exists ::env(TOE_TCL_REEXEC)]} {
        set ::env(TOE_TCL_REEXEC) 1
        set ::env(GLIBC_TUNABLES) glibc.rtld.optional_static_tls=16384
        exit [catch {exec [info nameofexecutable] [info script] {*}$argv >@stdout 2>@stderr}]
    }
    puts stderr "run.tcl: cannot load the toe package from $builddir: $err"
    puts stderr "run.tcl: build it first: cmake --build <builddir> --target toe_tcl"
    exit 1
}

tcltest::configure -verbose {body error pass skip} -singleproc 1
array set ::run_counts {Total 0 Passed 0 Failed 0 Skipped 0 calls 0}

# Collect the counts before tcltest resets them, whoever calls cleanupTests
# (scripts usually do, through namespace import).
rename ::tcltest::cleanupTests ::tcltest::run_orig_cleanupTests
proc ::tcltest::cleanupTests {args} {
    foreach k {Total Passed Failed Skipped} {
        incr ::run_counts($k) $::tcltest::numTests($k)
    }
    incr ::run_counts(calls)
    uplevel 1 [list ::tcltest::run_orig_cleanupTests {*}$args]
}

set rc 0
if {[catch {uplevel #0 [list source $script]} err opts]} {
    puts stderr "run.tcl: $script raised an error outside a test:\n[dict get $opts -errorinfo]"
    set rc 1
}
if {$::tcltest::numTests(Total) > 0} {
    ::tcltest::cleanupTests
}
set name [file tail $script]
puts "run.tcl: $name: $::run_counts(Total) tests, $::run_counts(Passed) passed,\
      $::run_counts(Failed) failed, $::run_counts(Skipped) skipped"
if {$::run_counts(Failed) > 0} { set rc 1 }
if {$::run_counts(Skipped) > 0} {
    puts stderr "run.tcl: $name: skipped tests count as failures"
    set rc 1
}
if {$::run_counts(Total) == 0} {
    puts stderr "run.tcl: $name: no test ran"
    set rc 1
}
exit $rc
