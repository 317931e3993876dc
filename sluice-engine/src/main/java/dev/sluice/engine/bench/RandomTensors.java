package dev.sluice.engine.bench;

import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Random tensors of every supported type, built directly as ggml blocks in a MemorySegment
 * (random quants, finite positive scales), at offset 1 of an allocation so that every read is
 * unaligned, as it may be in a mapped GGUF file.
 */
public final class RandomTensors {
    private RandomTensors() {}

    /**
     * A {@code rows x cols} tensor whose dequantized values are roughly of magnitude {@code scale},
     * deliberately one byte off alignment, as slices of a GGUF file can be: kernel tests use it to
     * exercise unaligned access.
     */
    public static Tensor random(String name, GGMLType type, int cols, int rows, float scale, SplittableRandom rnd) {
        return random(name, type, cols, rows, scale, rnd, 1);
    }

    /** As {@link #random}, 64-byte aligned: for benchmarks. */
    public static Tensor aligned(String name, GGMLType type, int cols, int rows, float scale, SplittableRandom rnd) {
        return random(name, type, cols, rows, scale, rnd, 0);
    }

    private static Tensor random(String name, GGMLType type, int cols, int rows, float scale, SplittableRandom rnd, int misalign) {
        long bytes = type.byteSize((long) cols * rows);
        MemorySegment seg = Arena.ofAuto().allocate(bytes + misalign, 64).asSlice(misalign, bytes);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < (long) cols * rows; i++) seg.set(Dequant.F32, 4 * i, gauss(rnd) * scale);
            }
            case F16 -> {
                for (long i = 0; i < (long) cols * rows; i++) seg.set(Dequant.I16, 2 * i, Float.floatToFloat16(gauss(rnd) * scale));
            }
            case BF16 -> {
                for (long i = 0; i < (long) cols * rows; i++) {
                    seg.set(Dequant.I16, 2 * i, (short) (Float.floatToRawIntBits(gauss(rnd) * scale) >>> 16));
                }
            }
            case Q8_0 -> blocks(seg, 34, rnd, (off) -> seg.set(Dequant.I16, off, half(scale / 64 * (0.5f + rnd.nextFloat()))));
            case Q4_0 -> blocks(seg, 18, rnd, (off) -> seg.set(Dequant.I16, off, half(scale / 4 * (0.5f + rnd.nextFloat()))));
            case Q4_K -> blocks(seg, 144, rnd, (off) -> {
                seg.set(Dequant.I16, off, half(scale / 500 * (0.5f + rnd.nextFloat())));
                seg.set(Dequant.I16, off + 2, half(scale / 60 * (0.5f + rnd.nextFloat())));
            });
            case Q6_K -> blocks(seg, 210, rnd, (off) -> seg.set(Dequant.I16, off + 208, half(scale / 1000 * (0.5f + rnd.nextFloat()))));
            default -> throw new IllegalArgumentException(type.name());
        }
        return new Tensor(name, type, new long[] {cols, rows}, seg);
    }

    /** A 1-D F32 tensor. */
    public static Tensor vector(String name, float[] v) {
        MemorySegment seg = Arena.ofAuto().allocate(4L * v.length);
        for (int i = 0; i < v.length; i++) seg.set(Dequant.F32, 4L * i, v[i]);
        return new Tensor(name, GGMLType.F32, new long[] {v.length}, seg);
    }

    private interface Scales {
        void set(long blockOffset);
    }

    /** Random bytes everywhere, then valid scales written by {@code scales} into each block. */
    private static void blocks(MemorySegment seg, int blockBytes, SplittableRandom rnd, Scales scales) {
        for (long i = 0; i < seg.byteSize(); i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        for (long off = 0; off < seg.byteSize(); off += blockBytes) scales.set(off);
    }

    private static short half(float f) {
        return Float.floatToFloat16(f);
    }

    public static float gauss(SplittableRandom rnd) {
        // Box-Muller; good enough for test data
        double u = 1 - rnd.nextDouble(), v = rnd.nextDouble();
        return (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    }

    public static float[] gaussArray(int n, float scale, SplittableRandom rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = gauss(rnd) * scale;
        return a;
    }
}
