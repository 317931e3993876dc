package dev.sluice.bench.jmh;

import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Random weight tensors of each kernel type for the microbenchmarks, built directly as ggml
 * blocks: random quants with finite, small positive scales, so every value is finite and the
 * kernels run their normal path. Mirrors the engine's test helper {@code RandomTensors}, which is
 * test code and not on this module's class path.
 */
final class BenchTensors {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private BenchTensors() {}

    /** A {@code rows x cols} tensor of {@code type} (cols a multiple of 256 for the K-quants), values of magnitude about 0.02. */
    static Tensor random(GGMLType type, int cols, int rows, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long n = (long) cols * rows;
        long bytes = type.byteSize(n);
        MemorySegment seg = Arena.ofAuto().allocate(bytes, 64);
        float scale = 0.02f;
        switch (type) {
            case F32 -> {
                for (long i = 0; i < n; i++) seg.set(ValueLayout.JAVA_FLOAT, 4 * i, gauss(rnd) * scale);
            }
            case F16 -> {
                for (long i = 0; i < n; i++) seg.set(I16, 2 * i, Float.floatToFloat16(gauss(rnd) * scale));
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) seg.set(I16, 2 * i, (short) (Float.floatToRawIntBits(gauss(rnd) * scale) >>> 16));
            }
            case Q8_0 -> blocks(seg, 34, rnd, off -> seg.set(I16, off, half(scale / 64 * (0.5f + rnd.nextFloat()))));
            case Q4_0 -> blocks(seg, 18, rnd, off -> seg.set(I16, off, half(scale / 4 * (0.5f + rnd.nextFloat()))));
            case Q4_K -> blocks(seg, 144, rnd, off -> {
                seg.set(I16, off, half(scale / 500 * (0.5f + rnd.nextFloat())));
                seg.set(I16, off + 2, half(scale / 60 * (0.5f + rnd.nextFloat())));
            });
            case Q6_K -> blocks(seg, 210, rnd, off -> seg.set(I16, off + 208, half(scale / 1000 * (0.5f + rnd.nextFloat()))));
            default -> throw new IllegalArgumentException("no benchmark tensor for " + type);
        }
        return new Tensor("bench." + type, type, new long[] {cols, rows}, seg);
    }

    static float[] gaussArray(int n, float scale, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = gauss(rnd) * scale;
        return a;
    }

    private interface Scales {
        void set(long blockOffset);
    }

    private static void blocks(MemorySegment seg, int blockBytes, SplittableRandom rnd, Scales scales) {
        for (long i = 0; i < seg.byteSize(); i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        for (long off = 0; off < seg.byteSize(); off += blockBytes) scales.set(off);
    }

    private static short half(float f) {
        return Float.floatToFloat16(f);
    }

    private static float gauss(SplittableRandom rnd) {
        double u = 1 - rnd.nextDouble(), v = rnd.nextDouble();
        return (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    }
}
