# bench/plots/charts.gp: the PNG charts of bench/run-bench.sh, one per call:
#   gnuplot -e "datadir='D'; outdir='O'; chart='NAME'; servers='S1 S2 ...'" charts.gp
# NAME: pingpong echo_rr http_rps http_latency short bulk cpu. Data files
# (bench/harness/summarize.py): a label or x, then median min max for each
# server of `servers` in that order. Bars (or points) are medians over the
# repetitions, error bars min..max.

set terminal pngcairo size 1000,600 font "DejaVu Sans,11" noenhanced
set datafile missing "?"
set key below horizontal box maxcols 2 width 1
set bmargin 8
set grid ytics lc rgb "#dddddd"
set border 3
set xtics nomirror
set ytics nomirror
set style fill solid 0.85 border -1
set style histogram errorbars gap 2 lw 1.2
set style data histogram
set boxwidth 0.9
if (!exists("servers")) servers = "toe twin-epoll twin-uring"
n = words(servers)
name(i) = word(servers, i)
color(i) = name(i) eq "toe" ? "#1b9e77" : name(i) eq "twin-epoll" ? "#d95f02" : \
           name(i) eq "twin-uring" ? "#7570b3" : name(i) eq "reflector" ? "#888888" : "#333333"
what(i) = name(i) eq "toe" ? "toe".suffix." (AF_XDP)" : \
          name(i) eq "reflector" ? "toe-reflector, same TCP client (AF_XDP ceiling)" : \
          name(i) eq "reflector-udp" ? "toe-reflector, UDP, window = connections" : \
          "twin".suffix."-".substr(name(i), 6, strlen(name(i)))." (kernel)"
suffix = ""
m(i, k) = column(1 + 3 * (i - 1) + k)  # k = 1 median, 2 min, 3 max
note = "median of the repetitions, error bars min..max; servers on CPU 1, clients on CPU 0, same 2-CPU host"

if (chart eq "pingpong") {
    suffix = "-echo"
    set output outdir."/pingpong_latency.png"
    set title "Echo ping-pong round-trip time, 1 connection, 64-byte messages\n".note
    set ylabel "round-trip time (µs, log scale)"
    set xlabel "percentile"
    set logscale y
    plot for [i = 1:n] datadir."/pingpong.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}

if (chart eq "echo_rr") {
    suffix = "-echo"
    set output outdir."/echo_rr.png"
    set title "Echo request/response rate, 64-byte messages, one in flight per connection (UDP: per window slot)\n".note
    set ylabel "requests/s (UDP: round trips/s)"
    set xlabel "connections (UDP: datagrams in flight), log scale"
    set logscale x 2
    set xtics ("1" 1, "16" 16, "64" 64, "256" 256)
    set xrange [0.7:360]
    set yrange [0:*]
    set key inside top left vertical maxrows auto width 0 box opaque
    plot for [i = 1:n] datadir."/echo_rr.dat" using 1:(m(i, 1)):(m(i, 2)):(m(i, 3)) \
        with yerrorlines lw 2 pt (name(i)[1:9] eq "reflector" ? 6 : 7) ps 1.3 \
        lc rgb color(i) title what(i)
}

if (chart eq "http_rps") {
    suffix = "-httpd"
    set output outdir."/http_keepalive_rps.png"
    set title "HTTP keep-alive, wrk -t1, GET /tiny\n".note
    set ylabel "requests/s"
    set xlabel "wrk connections"
    set yrange [0:*]
    plot for [i = 1:n] datadir."/http_rps.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}

if (chart eq "http_latency") {
    suffix = "-httpd"
    set output outdir."/http_keepalive_latency.png"
    set title "HTTP keep-alive latency (wrk --latency), GET /tiny\n".note
    set ylabel "latency (ms, log scale)"
    set xlabel "percentile, wrk connections"
    set logscale y
    set xtics rotate by -25
    set bmargin 9
    set rmargin 6
    plot for [i = 1:n] datadir."/http_latency.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}

if (chart eq "short") {
    suffix = "-httpd"
    set output outdir."/short_connections.png"
    set title "Short connections: one request per connection, 64 concurrent, GET /tiny\n".note
    set ylabel "connections/s"
    set xlabel "client"
    set yrange [0:*]
    plot for [i = 1:n] datadir."/short.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}

if (chart eq "bulk") {
    suffix = "-httpd"
    set output outdir."/bulk.png"
    set title "Bulk transfer one way (server to client), 1 connection, wrk GET /bytes/16 MiB\n".note
    set ylabel "Gbit/s"
    set xlabel ""
    set yrange [0:*]
    plot for [i = 1:n] datadir."/bulk.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}

if (chart eq "cpu") {
    set output outdir."/cpu_per_request.png"
    set title "Server CPU time per request: utime+stime of the server process (/proc/PID/stat)\n".note
    set ylabel "CPU per request (µs, log scale)"
    set xlabel ""
    set logscale y
    set xtics rotate by -25
    set bmargin 10
    set rmargin 9
    plot for [i = 1:n] datadir."/cpu.dat" using (m(i, 1)):(m(i, 2)):(m(i, 3)):xtic(1) \
        title what(i) lc rgb color(i)
}
