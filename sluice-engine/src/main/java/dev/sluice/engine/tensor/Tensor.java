package dev.sluice.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named, typed, shaped view of model weights. {@code data} is usually a slice of a
 * memory-mapped file and is never copied onto the heap.
 *
 * <p>{@code shape} follows the ggml convention: {@code shape[0]} is the innermost (contiguous)
 * dimension, so a weight matrix of {@code rows} outputs by {@code cols} inputs has
 * {@code shape = {cols, rows}}.
 *
 * <p>{@code layout} says how the bytes are arranged: {@link Layout#ROWS}, ggml's own (row after row of
 * blocks, as in the file), or {@link Layout#PANELS}, the kernels' repacked copy ({@link Panels}).
 */
public record Tensor(String name, GGMLType type, long[] shape, MemorySegment data, Layout layout) {

    /** How a tensor's bytes are arranged. */
    public enum Layout {
        /** ggml's layout: each row is its blocks in order, rows one after another. */
        ROWS,
        /** Panels of {@link Panels#ROWS} rows whose blocks interleave the rows column by column ({@link Panels}). */
        PANELS
    }

    /** A tensor in ggml's row layout. */
    public Tensor(String name, GGMLType type, long[] shape, MemorySegment data) {
        this(name, type, shape, data, Layout.ROWS);
    }

    public long numElements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Elements per row: the innermost dimension. */
    public int cols() {
        return Math.toIntExact(shape[0]);
    }

    /** Number of rows: the product of all dimensions but the innermost. */
    public int rows() {
        return Math.toIntExact(numElements() / shape[0]);
    }

    /** Bytes of one row ({@link Layout#ROWS}; a row's share of the bytes in {@link Layout#PANELS}). */
    public long rowBytes() {
        return type.byteSize(shape[0]);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + type + ", " + Arrays.toString(shape) + (layout == Layout.PANELS ? ", panels" : "") + "]";
    }
}
