-- wrk-report.lua: wrk's results as exact "WRK name value" lines for
-- bench/run-bench.sh (wrk's own text rounds to 2 decimals and mixes units).
-- Latencies are microseconds; duration is the measured run time.
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRK requests %d\n", summary.requests))
    io.write(string.format("WRK duration_us %d\n", summary.duration))
    io.write(string.format("WRK bytes %d\n", summary.bytes))
    io.write(string.format("WRK errors_connect %d\n", e.connect))
    io.write(string.format("WRK errors_read %d\n", e.read))
    io.write(string.format("WRK errors_write %d\n", e.write))
    io.write(string.format("WRK errors_status %d\n", e.status))
    io.write(string.format("WRK errors_timeout %d\n", e.timeout))
    io.write(string.format("WRK latency_mean_us %.1f\n", latency.mean))
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("WRK latency_p%s_us %d\n", tostring(p), latency:percentile(p)))
    end
end
