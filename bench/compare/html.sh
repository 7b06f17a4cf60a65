#!/usr/bin/env bash
# html.sh - builds the self-contained comparison report from what
# report.awk wrote in OUT: one clustered bar chart per figure (gnuplot,
# `set terminal svg`, embedded inline: no external file, script or font),
# the table, the per-row sentences and the raw results.json, in one page.
#
#   html.sh OUT       ->  OUT/report.html
set -u
out=${1:?usage: html.sh OUT}
command -v gnuplot >/dev/null || {
  echo "html.sh: gnuplot is not installed, so report.html has no charts: apt-get install gnuplot-nox" >&2
  exit 1
}

workload=$(sed -n 's/.*"config": {.*"workload": "\([a-z]*\)".*/\1/p' "$out/results.json")
workload=${workload:-echo}
declare -A title=(
  [set_rps]="SET ops/s (higher is better)"
  [get_rps]="GET ops/s (higher is better)"
  [set_p99_ms]="SET p99 latency, ms (lower is better)"
  [get_p99_ms]="GET p99 latency, ms (lower is better)"
  [rps]="requests/s (higher is better)"
  [p99_ms]="p99 latency, ms (lower is better)"
  [rss_per_conn_kb]="server RSS per connection, KB"
  [kern_per_conn_kb]="kernel memory per connection, KB"
  [threads]="OS threads in the server"
  [vcsw_per_req]="voluntary OS context switches per request"
  [ivcsw_per_req]="involuntary OS context switches per request"
  [syscalls_per_req]="syscalls per request"
  [cpu_us_per_req]="server CPU time per request, us (user+sys)"
)
case $workload in
  kv) charts=(set_rps get_rps set_p99_ms get_p99_ms cpu_us_per_req syscalls_per_req vcsw_per_req ivcsw_per_req)
      title[cpu_us_per_req]="server CPU time per op, us (user+sys)"
      title[syscalls_per_req]="syscalls per op"
      title[vcsw_per_req]="voluntary OS context switches per op"
      title[ivcsw_per_req]="involuntary OS context switches per op"
      heading="greenrt's kv against redis-server, measured by the kernel"
      intro="<p><code>redis-benchmark -t set,get</code> against kv_greenrt (a goroutine per connection),
redis-server (its event loop, no persistence) and kv_threads (a thread per connection), one
connection count and pipeline depth per level; every server ran under <code>gtrace run</code>, so
OS context switches, syscalls and io_uring enters are the kernel's own counts. Medians over
interleaved repeats.</p>" ;;
  http) charts=(rps p99_ms cpu_us_per_req syscalls_per_req vcsw_per_req ivcsw_per_req)
      heading="greenrt's HTTP server against nginx, measured by the kernel"
      intro="<p><code>wrk -t1</code> on GET /hello (a 14-byte body) against http_greenrt (a goroutine per
connection), nginx (one process, access log off, the same body) and http_threads (a thread per
connection); every server ran under <code>gtrace run</code>, so OS context switches, syscalls and
io_uring enters are the kernel's own counts. Medians over interleaved repeats.</p>" ;;
  *) charts=(rps p99_ms cpu_us_per_req syscalls_per_req vcsw_per_req ivcsw_per_req rss_per_conn_kb kern_per_conn_kb threads)
      heading="greenrt: goroutines vs threads, measured by the kernel"
      intro="<p>Closed-loop echo load from <code>loadgen</code> (every reply verified) against each server model;
every server ran under <code>gtrace run</code>, so OS context switches, syscalls and io_uring
enters are the kernel's own counts. Medians over interleaved repeats.</p>" ;;
esac

svgs=()
for ch in "${charts[@]}"; do
  dat=$out/plot-$ch.dat svg=$out/plot-$ch.svg
  [[ -s $dat ]] || continue
  ncol=$(head -n 1 "$dat" | awk -F'\t' '{print NF}')
  # no chart when every value is missing (e.g. --no-trace)
  awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "?") found = 1 } END { exit !found }' "$dat" || continue
  gnuplot 2> "$out/gnuplot-$ch.err" <<EOF || { echo "html.sh: gnuplot failed on $dat: $(head -n 3 "$out/gnuplot-$ch.err")" >&2; exit 1; }
set terminal svg size 520,300 dynamic font "sans,11" background "#ffffff"
set output "$svg"
set datafile separator "\t"
set datafile missing "?"
set title "${title[$ch]}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set yrange [0:*]
set xlabel "$([[ $workload == kv ]] && echo 'connections / pipeline' || echo connections)"
set grid ytics
set key top left horizontal
set linetype 1 lc rgb "#2a9d4b"
set linetype 2 lc rgb "#d1495b"
set linetype 3 lc rgb "#3d7ab8"
set linetype 4 lc rgb "#e0a030"
plot for [i=2:$ncol] "$dat" using i:xtic(1) title columnheader(i)
EOF
  rm -f "$out/gnuplot-$ch.err"
  svgs+=("$svg")
done

{
  cat <<EOF
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>$heading</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1120px; margin: 2em auto; padding: 0 1em; color: #222 }
table { border-collapse: collapse; margin: 1em 0 }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right }
th { background: #f0f3f0 } td:nth-child(2) { text-align: left }
td.lvl { font-weight: bold; vertical-align: top; background: #f7f7f7 }
td.bad { color: #a33; font-style: italic }
.charts { display: flex; flex-wrap: wrap; gap: 12px }
.charts svg { border: 1px solid #ddd }
pre { background: #f6f6f6; padding: 1em; overflow: auto; max-height: 30em; font-size: 12px }
.notes li { color: #a33 }
.flames { display: flex; gap: 12px; align-items: flex-start }
.flames > div { flex: 1 1 0; min-width: 0; border: 1px solid #ddd }
.flames h3 { margin: 4px 8px; font-size: 15px }
</style></head><body>
<h1>$heading</h1>
EOF
  cfg=$(sed -n 's/.*"config": {\(.*\)},$/\1/p' "$out/results.json" | sed 's/"//g')
  echo "$intro"
  echo "<p><small>Configuration: $cfg. Generated $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r), $(nproc) CPUs.</small></p>"
  echo "<h2>Table</h2>"
  cat "$out/table.html"
  echo "<p><small>Per request = divided by every request served while traced (warm-up + measured), so accepting"
  echo "and closing the connections is included. OS switches include the server's io_uring workers. RSS per"
  echo "connection = (VmHWM &minus; RSS when idle) / C; address space = (VmPeak &minus; VmSize when idle) / C; kernel memory"
  echo "= gtrace's estimate for the server (threads &times; (kernel stack + task_struct) + page tables + sockets &times; their slab"
  echo "objects) at its peak &minus; the same when idle, / C (results.json also has the machine-wide /proc/meminfo growth,"
  echo "kern_meminfo_per_conn_kb). OS threads = the most seen in /proc/PID/status during the run."
  echo "Server CPU = utime + stime from /proc/PID/stat.</small></p>"
  if [[ -s $out/sentences.html ]]; then
    [[ $workload == echo ]] && echo "<h2>What it shows</h2>" || echo "<h2>Against the reference server</h2>"
    cat "$out/sentences.html"
  fi
  if [[ -s $out/why.html ]]; then
    # the flame graphs of compare.sh --why, each model beside the other
    # (gtrace --flamegraph's SVG, inlined: its width made the column's,
    # its viewBox keeps the drawing; its script zooms within itself)
    echo "<h2>Where they wait (gtrace --offcpu)</h2>"
    cat "$out/why.html"
    cfg_models=$(sed -n 's/.*"models": "\([^"]*\)".*/\1/p' "$out/results.json")
    cfg_levels=$(sed -n 's/.*"levels": "\([^"]*\)".*/\1/p' "$out/results.json")
    [[ -n $cfg_levels ]] || cfg_levels=$(sed -n 's/.*"levels": \([0-9]*\).*/\1/p' "$out/results.json")
    IFS=, read -r -a why_models <<< "$cfg_models"
    IFS=, read -r -a why_levels <<< "$cfg_levels"
    for lv in "${why_levels[@]}"; do
      echo "<h3>Off-CPU flame graphs, C = $lv: the width of a frame is the time spent waiting under it</h3><div class=\"flames\">"
      for m in "${why_models[@]}"; do
        svg=$out/why/$m-c$lv/offcpu.svg
        [[ -s $svg ]] || continue
        echo "<div><h3>$m</h3>"
        sed -e '/^<?xml/d' -e 's/^<svg version="1.1" width="[0-9]*" height="[0-9]*"/<svg version="1.1" width="100%"/' "$svg"
        echo "</div>"
      done
      echo "</div>"
    done
  fi
  echo "<h2>Charts</h2><div class=\"charts\">"
  for s in "${svgs[@]+"${svgs[@]}"}"; do
    # inline: drop the XML prolog and DOCTYPE, keep the <svg> element
    sed -e '/^<?xml/d' -e '/^<!DOCTYPE/,/>$/d' "$s"
  done
  echo "</div>"
  echo "<h2>Raw figures (results.json)</h2><pre>"
  sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$out/results.json"
  echo "</pre></body></html>"
} > "$out/report.html.tmp" && mv -f "$out/report.html.tmp" "$out/report.html"
