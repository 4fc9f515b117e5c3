#!/usr/bin/env bash
# Sends two SIGTERMs to `xlstm train` runs N times and counts exit codes, outcomes and JVM
# crash logs.
#
# Usage: scripts/stress-double-signal.sh N [OUT_DIR]   (run from the repository root)
#
# Each run trains a small xLSTM[1:1] on Pride and Prejudice (xlstm-examples/data) in a fresh JVM
# with -XX:ErrorFile=OUT_DIR/hs_err/hs_err_pid%p.log. Once the progress bar shows training, the
# script waits a random 0-1.5 s, sends SIGTERM, waits a random 0-0.6 s (0 on every fifth run: two
# signals back to back) and sends SIGTERM again, so that the second signal mostly lands while the
# main thread is inside libtorch (forward or backward). Odd runs checkpoint only on stop
# (--checkpoint-every 0), even runs every 3 steps. A run passes when it exits 143 within 120 s,
# writes no hs_err file, and either reports "again at step S without a checkpoint" with every
# checkpoint it wrote older than S, or (the step ended between the two signals) "after a
# checkpoint" with the checkpoint of its last step. Set JAR to test another build (default
# xlstm-examples/target/xlstm.jar).
#
# Prints one line per run and a summary "runs N, exit 143: A, other exits: B, without a
# checkpoint: C, after a checkpoint: D, failed checks: E, hs_err files: F"; exits 0 only when
# every run passed. Run it with `nice -n 10` on a shared machine.
set -u
n=${1:?usage: $0 N [OUT_DIR]}
out=${2:-target/stress-double-signal}
jar=${JAR:-xlstm-examples/target/xlstm.jar}
mkdir -p "$out/hs_err" "$out/logs" "$out/runs"
config="$out/config.json"
cat >"$config" <<'JSON'
{"architecture": "xlstm-neurips", "vocab_size": 8192, "embedding_dim": 32, "num_blocks": 2, "slstm_at": [1],
 "mlstm": {"num_heads": 2}, "slstm": {"num_heads": 2}, "tie_weights": true}
JSON
ok=0; other=0; without=0; after=0; failed=0
newest_step() { # the step of the run's newest checkpoint, or -1
  if [ -f "$1/latest" ]; then sed 's/checkpoint-0*//; s/^$/0/' "$1/latest"; else echo -1; fi
}
for ((i = 1; i <= n; i++)); do
  run="$out/runs/run-$i"
  log="$out/logs/run-$i.log"
  rm -rf "$run"
  every=$(( i % 2 == 1 ? 0 : 3 ))
  java -XX:ErrorFile="$out/hs_err/hs_err_pid%p.log" -Dai.djl.offline=true -jar "$jar" train \
      --text xlstm-examples/data/corpus/train/prideprejudice.txt --tokenizer xlstm-examples/data/gpt2-8k-tokenizer.json \
      --config "$config" --out "$run" --steps 100000 --batch 4 --seq-len 64 --checkpoint-every "$every" \
      --validate-every 0 --validation-batches 1 --threads 1 >"$log" 2>&1 &
  pid=$!
  for ((t = 0; t < 1200; t++)); do # up to 120 s for the JVM to start and tokenize
    grep -q "loss" "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  first=$(( RANDOM % 1500 ))
  gap=$(( i % 5 == 0 ? 0 : RANDOM % 600 ))
  sleep "$(printf '%d.%03d' $((first / 1000)) $((first % 1000)))"
  kill -TERM "$pid" 2>/dev/null
  [ "$gap" -gt 0 ] && sleep "$(printf '0.%03d' "$gap")"
  kill -TERM "$pid" 2>/dev/null
  rc=timeout
  for ((t = 0; t < 1200; t++)); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
    sleep 0.1
  done
  if [ "$rc" = timeout ]; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  if [ "$rc" = 143 ]; then ok=$((ok + 1)); else other=$((other + 1)); fi
  newest=$(newest_step "$run")
  check=failed
  stopped=$(sed -n 's/.*again at step \([0-9]*\) without a checkpoint.*/\1/p' "$log" | tail -1)
  if [ -n "$stopped" ]; then
    without=$((without + 1))
    [ "$newest" -lt "$stopped" ] && check=ok
    outcome="without a checkpoint at step $stopped (newest checkpoint $newest)"
  elif grep -q "after a checkpoint" "$log"; then
    after=$((after + 1))
    last=$(sed -n 's/.*step \([0-9]*\): train loss.*/\1/p' "$log" | tail -1)
    [ -n "$last" ] && [ "$newest" = "$last" ] && check=ok
    outcome="after a checkpoint of step $newest (last step ${last:-?})"
  else
    outcome="no stop message"
  fi
  [ "$rc" = 143 ] || check=failed
  [ "$check" = ok ] || failed=$((failed + 1))
  crashes=$(find "$out/hs_err" -name 'hs_err_pid*.log' | wc -l)
  echo "run $i: signals at +${first} ms and +$((first + gap)) ms, checkpoint-every $every: exit $rc, $outcome, check $check, hs_err so far $crashes"
  rm -rf "$run"
done
crashes=$(find "$out/hs_err" -name 'hs_err_pid*.log' | wc -l)
echo "runs $n, exit 143: $ok, other exits: $other, without a checkpoint: $without, after a checkpoint: $after, failed checks: $failed, hs_err files: $crashes"
[ "$failed" -eq 0 ] && [ "$crashes" -eq 0 ]
