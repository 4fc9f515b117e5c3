#!/usr/bin/env bash
# Runs `xlstm formal-language` N times in a row and counts exit codes and JVM crash logs.
#
# Usage: scripts/stress-formal-language.sh N [OUT_DIR]
#
# Each run is a fresh JVM with a small heap (-Xmx${HEAP:-96m}, so the garbage collector runs
# often while tensors over Java memory could still be in an autograd graph) and
# -XX:ErrorFile=OUT_DIR/hs_err/hs_err_pid%p.log, so that every JVM crash leaves a file there.
# Runs cycle through the architectures 1:0, 0:1, 1:1 and lstm and the tasks parity and
# even-pairs with seed = run number, and are kept short (STEPS updates, default 25, batch BATCH,
# default 16, TEST_SIZE test sequences per length bucket, default 2, one operator thread): the
# training and evaluation code paths of a full run, in a few seconds. Set JAR to test another build (default
# xlstm-examples/target/xlstm.jar, made by `mvn -o -pl xlstm-examples -am package -DskipTests`).
#
# Prints one line per run and a summary "runs N, exit 0: A, other exits: B, hs_err files: C";
# exits 0 only when every run exited 0 and no hs_err file was written. Run it with `nice -n 10`
# on a shared machine. The counts of the last loop are in docs/reliability.md.
set -u
n=${1:?usage: $0 N [OUT_DIR]}
out=${2:-target/stress-formal-language}
jar=${JAR:-xlstm-examples/target/xlstm.jar}
steps=${STEPS:-25}
batch=${BATCH:-16}
test_size=${TEST_SIZE:-2}
heap=${HEAP:-96m}
mkdir -p "$out/hs_err" "$out/logs"
archs=(1:0 0:1 1:1 lstm)
tasks=(parity even-pairs)
ok=0
bad=0
for ((i = 1; i <= n; i++)); do
  arch=${archs[$(( (i - 1) % ${#archs[@]} ))]}
  task=${tasks[$(( (i - 1) / ${#archs[@]} % ${#tasks[@]} ))]}
  log="$out/logs/run-$i.log"
  start=$(date +%s)
  java -Xmx"$heap" -XX:ErrorFile="$out/hs_err/hs_err_pid%p.log" -Dai.djl.offline=true -jar "$jar" \
      formal-language --task "$task" --architecture "$arch" --seed "$i" --steps "$steps" --batch "$batch" \
      --test-size "$test_size" --threads 1 --json >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  crashes=$(find "$out/hs_err" -name 'hs_err_pid*.log' | wc -l)
  echo "run $i: $task $arch seed $i exit $rc ($(( $(date +%s) - start )) s), hs_err so far $crashes"
done
crashes=$(find "$out/hs_err" -name 'hs_err_pid*.log' | wc -l)
echo "runs $n, exit 0: $ok, other exits: $bad, hs_err files: $crashes"
[ "$bad" -eq 0 ] && [ "$crashes" -eq 0 ]
