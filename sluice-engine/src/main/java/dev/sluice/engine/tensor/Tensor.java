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
 */
public record Tensor(String name, GGMLType type, long[] shape, MemorySegment data) {

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

    /** Bytes of one row. */
    public long rowBytes() {
        return type.byteSize(shape[0]);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + type + ", " + Arrays.toString(shape) + "]";
    }
}
