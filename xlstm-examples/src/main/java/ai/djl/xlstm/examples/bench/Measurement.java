package ai.djl.xlstm.examples.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.util.Objects;

/**
 * One measurement of the harness: one JSON line of {@code xlstm bench --json}, one row of its
 * tables. Fields that do not apply to a suite are null (JSON {@code null}); see {@code
 * docs/benchmarks.md} for every field.
 *
 * @param suite the suite
 * @param variant what ran: {@code generator} (prefill, decode), {@code training-session}, a
 *     scaling model ({@code xlstm}, {@code mlstm-chunkwise}, ...) or a roofline kernel ({@code
 *     matvec}, {@code matmul})
 * @param model the model under test as the user named it
 * @param dtype the weight type
 * @param device the device, e.g. {@code cpu()}
 * @param batch the sequences processed together, or null
 * @param seqLen the prompt length (prefill), position (decode), window (train) or sequence
 *     length (scaling), or null
 * @param tokens the tokens one timed run processes (decode: one step, {@code batch} tokens), or null
 * @param seconds the time of one run, or null when skipped
 * @param peakRssBytes the process's peak resident memory after the measurement ({@code VmHWM})
 * @param rssBeforeBytes the resident memory just before it
 * @param peakSinceReset whether {@code peakRssBytes} counts from just before this measurement
 *     (the peak was reset), else from the start of the process
 * @param opsPerStep native tensors created per run or step, or null
 * @param opsPerToken {@code opsPerStep / tokens}, or null
 * @param rooflineFraction {@code boundSeconds / seconds.median()}, or null
 * @param boundSeconds the roofline's lower bound on one run's time, or null
 * @param bound which bound is larger: {@code bandwidth} or {@code compute}, or null
 * @param weightBytes the bytes of weights one run reads, or null
 * @param flops the floating-point operations of one run (model count), or null
 * @param bytesPerSecond the measured bandwidth (roofline matvec), or null
 * @param gflopPerSecond the measured GFLOP/s (roofline matmul), or null
 * @param shape the operand shapes (roofline), or null
 * @param status {@code ok}, or {@code skipped: ...} with the reason
 * @param note a remark, or null
 */
public record Measurement(
        Suite suite, String variant, String model, BenchDtype dtype, String device,
        Integer batch, Integer seqLen, Long tokens, Stats seconds,
        long peakRssBytes, long rssBeforeBytes, boolean peakSinceReset,
        Double opsPerStep, Double opsPerToken,
        Double rooflineFraction, Double boundSeconds, String bound,
        Long weightBytes, Double flops, Double bytesPerSecond, Double gflopPerSecond, String shape,
        String status, String note) {

    /** The status of a measurement that ran. */
    public static final String OK = "ok";

    /** Validates the fields: names present, a timing unless skipped, finite non-negative figures. */
    public Measurement {
        Objects.requireNonNull(suite, "suite");
        Objects.requireNonNull(variant, "variant");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(status, "status");
        if (status.equals(OK) && seconds == null) {
            throw new IllegalArgumentException("a measurement that ran needs its time");
        }
        if (!status.equals(OK) && !status.startsWith("skipped: ")) {
            throw new IllegalArgumentException("status must be 'ok' or 'skipped: REASON', got " + status);
        }
        for (Double d : new Double[] {opsPerStep, opsPerToken, rooflineFraction, boundSeconds, flops, bytesPerSecond,
                gflopPerSecond}) {
            if (d != null && !(Double.isFinite(d) && d >= 0)) {
                throw new IllegalArgumentException("a figure is negative or not finite: " + d);
            }
        }
    }

    /**
     * Whether the measurement ran (not skipped).
     *
     * @return whether its status is {@link #OK}
     */
    public boolean ran() {
        return status.equals(OK);
    }

    /**
     * Tokens per second: {@code tokens / seconds.median()}.
     *
     * @return the throughput, or null without tokens or a time
     */
    public Double tokensPerSecond() {
        return tokens == null || seconds == null || seconds.median() <= 0 ? null : tokens / seconds.median();
    }

    /**
     * Milliseconds per token: {@code 1000 * seconds.median() / tokens}.
     *
     * @return the time per token, or null without tokens or a time
     */
    public Double msPerToken() {
        return tokens == null || tokens == 0 || seconds == null ? null : 1000 * seconds.median() / tokens;
    }

    /**
     * The measurement as one line of JSON (strict: no NaN or infinity; absent figures are null).
     *
     * @return the JSON object
     */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("suite", suite.label());
        o.addProperty("variant", variant);
        o.addProperty("model", model);
        o.addProperty("dtype", dtype.label());
        put(o, "device", device);
        put(o, "batch", batch);
        put(o, "seq_len", seqLen);
        put(o, "tokens", tokens);
        put(o, "seconds", seconds == null ? null : seconds.median());
        put(o, "seconds_min", seconds == null ? null : seconds.min());
        put(o, "seconds_max", seconds == null ? null : seconds.max());
        put(o, "seconds_p25", seconds == null ? null : seconds.p25());
        put(o, "seconds_p75", seconds == null ? null : seconds.p75());
        put(o, "runs", seconds == null ? null : seconds.runs());
        put(o, "tokens_per_s", tokensPerSecond());
        put(o, "ms_per_token", msPerToken());
        put(o, "peak_rss_bytes", peakRssBytes < 0 ? null : peakRssBytes);
        put(o, "rss_before_bytes", rssBeforeBytes < 0 ? null : rssBeforeBytes);
        o.addProperty("peak_rss_scope", peakSinceReset ? "measurement" : "process");
        put(o, "ops_per_step", opsPerStep);
        put(o, "ops_per_token", opsPerToken);
        put(o, "roofline_fraction", rooflineFraction);
        put(o, "bound", bound);
        put(o, "bound_seconds", boundSeconds);
        put(o, "weight_bytes", weightBytes);
        put(o, "flops", flops);
        put(o, "bytes_per_s", bytesPerSecond);
        put(o, "gflop_per_s", gflopPerSecond);
        put(o, "shape", shape);
        o.addProperty("status", status);
        put(o, "note", note);
        return o;
    }

    /**
     * {@link #toJson()} as a single line.
     *
     * @return the line, without a line break
     */
    public String toJsonLine() {
        return new GsonBuilder().serializeNulls().disableHtmlEscaping().create().toJson(toJson());
    }

    private static void put(JsonObject o, String key, Object value) {
        if (value == null || value instanceof Double d && !Double.isFinite(d)) {
            o.add(key, JsonNull.INSTANCE);
        } else if (value instanceof Number n) {
            o.add(key, new JsonPrimitive(n));
        } else {
            o.addProperty(key, value.toString());
        }
    }

    /**
     * A builder for a measurement of {@code suite} on {@code model}.
     *
     * @param suite the suite
     * @param variant what ran
     * @param model the model's name
     * @param dtype the weight type
     * @return the builder
     */
    public static Builder builder(Suite suite, String variant, String model, BenchDtype dtype) {
        return new Builder(suite, variant, model, dtype);
    }

    /** Builds a {@link Measurement}; {@link #build()} validates. */
    public static final class Builder {
        private final Suite suite;
        private final String variant;
        private final String model;
        private final BenchDtype dtype;
        private String device;
        private Integer batch;
        private Integer seqLen;
        private Long tokens;
        private Stats seconds;
        private long peakRssBytes = -1;
        private long rssBeforeBytes = -1;
        private boolean peakSinceReset;
        private Double opsPerStep;
        private Double rooflineFraction;
        private Double boundSeconds;
        private String bound;
        private Long weightBytes;
        private Double flops;
        private Double bytesPerSecond;
        private Double gflopPerSecond;
        private String shape;
        private String status = OK;
        private String note;

        private Builder(Suite suite, String variant, String model, BenchDtype dtype) {
            this.suite = suite;
            this.variant = variant;
            this.model = model;
            this.dtype = dtype;
        }

        /**
         * Sets the device name.
         *
         * @param value the device name
         * @return this builder
         */
        public Builder device(String value) {
            device = value;
            return this;
        }

        /**
         * Sets the batch size.
         *
         * @param value the batch size
         * @return this builder
         */
        public Builder batch(Integer value) {
            batch = value;
            return this;
        }

        /**
         * Sets the sequence length or position.
         *
         * @param value the sequence length or position
         * @return this builder
         */
        public Builder seqLen(Integer value) {
            seqLen = value;
            return this;
        }

        /**
         * Sets the tokens of one run.
         *
         * @param value the tokens of one run
         * @return this builder
         */
        public Builder tokens(Long value) {
            tokens = value;
            return this;
        }

        /**
         * Sets the timing.
         *
         * @param value the timing
         * @return this builder
         */
        public Builder seconds(Stats value) {
            seconds = value;
            return this;
        }

        /**
         * The memory figures of a {@link MemoryProbe}.
         *
         * @param probe the probe started before the measurement
         * @return this builder
         */
        public Builder memory(MemoryProbe probe) {
            peakRssBytes = Machine.peakRssBytes();
            rssBeforeBytes = probe.rssBeforeBytes();
            peakSinceReset = probe.reset();
            return this;
        }

        /**
         * Sets tensors per run or step, or null.
         *
         * @param value tensors per run or step, or null
         * @return this builder
         */
        public Builder opsPerStep(Double value) {
            opsPerStep = value;
            return this;
        }

        /**
         * The roofline: the lower bound on one run's time and which limit sets it; the fraction is
         * computed in {@link #build()} from the median time.
         *
         * @param limits the machine's measured limits
         * @param bytes the bytes of weights one run reads
         * @param flopCount the floating-point operations of one run
         * @return this builder
         */
        public Builder roofline(Roofline.Limits limits, long bytes, double flopCount) {
            weightBytes = bytes;
            flops = flopCount;
            double memory = bytes / limits.bytesPerSecond();
            double compute = flopCount / (limits.gflopPerSecond() * 1e9);
            boundSeconds = Math.max(memory, compute);
            bound = memory >= compute ? "bandwidth" : "compute";
            return this;
        }

        /**
         * Sets measured bytes per second.
         *
         * @param value measured bytes per second
         * @return this builder
         */
        public Builder bytesPerSecond(Double value) {
            bytesPerSecond = value;
            return this;
        }

        /**
         * Sets measured GFLOP/s.
         *
         * @param value measured GFLOP/s
         * @return this builder
         */
        public Builder gflopPerSecond(Double value) {
            gflopPerSecond = value;
            return this;
        }

        /**
         * Sets the operand shapes.
         *
         * @param value the operand shapes
         * @return this builder
         */
        public Builder shape(String value) {
            shape = value;
            return this;
        }

        /**
         * Sets the FLOPs of one run, without a roofline.
         *
         * @param value the FLOPs of one run, without a roofline
         * @return this builder
         */
        public Builder flops(Double value) {
            flops = value;
            return this;
        }

        /**
         * Sets bytes one run reads, without a roofline.
         *
         * @param value bytes one run reads, without a roofline
         * @return this builder
         */
        public Builder weightBytes(Long value) {
            weightBytes = value;
            return this;
        }

        /**
         * Marks the measurement skipped.
         *
         * @param reason why, e.g. {@code over budget (...)}
         * @return this builder
         */
        public Builder skipped(String reason) {
            status = "skipped: " + reason;
            return this;
        }

        /**
         * Sets a remark.
         *
         * @param value a remark
         * @return this builder
         */
        public Builder note(String value) {
            note = value;
            return this;
        }

        /**
         * Builds the measurement.
         *
         * @return the measurement
         */
        public Measurement build() {
            Double fraction = boundSeconds != null && seconds != null && seconds.median() > 0
                    ? boundSeconds / seconds.median() : null;
            Double perToken = opsPerStep != null && tokens != null && tokens > 0 ? opsPerStep / tokens : null;
            return new Measurement(suite, variant, model, dtype, device, batch, seqLen, tokens, seconds,
                    peakRssBytes, rssBeforeBytes, peakSinceReset, opsPerStep, perToken, fraction, boundSeconds, bound,
                    weightBytes, flops, bytesPerSecond, gflopPerSecond, shape, status, note);
        }
    }
}
