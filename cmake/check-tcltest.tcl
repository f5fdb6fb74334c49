if {[catch {package require tcltest 2}]} { exit 1 }; exit 0
