package dev.sluice.engine.convert;

import dev.sluice.engine.gguf.GGUFWriter;
import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Quantizer;
import dev.sluice.engine.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.IntUnaryOperator;

/**
 * Streams a source tensor into a GGUF file as another type, row by row, optionally reordering
 * rows. Memory use is one chunk of about {@link #CHUNK_BYTES} plus one row of floats, whatever
 * the tensor's size.
 */
final class TensorEncoder {
    private TensorEncoder() {}

    /** Output buffered per write (bytes): large enough for efficient writes, small enough to be negligible. */
    static final int CHUNK_BYTES = 1 << 20;

    /**
     * Tensor data for {@link GGUFWriter#addTensor(String, GGMLType, long[], GGUFWriter.TensorData)}:
     * row {@code r} of the output is row {@code sourceRow.applyAsInt(r)} of {@code src}, encoded as
     * {@code outType}. Rows of the same type are copied byte for byte.
     */
    static GGUFWriter.TensorData encode(Tensor src, GGMLType outType, IntUnaryOperator sourceRow) {
        return out -> {
            int rows = src.rows(), cols = src.cols();
            long inRowBytes = src.rowBytes();
            int outRowBytes = Math.toIntExact(outType.byteSize(cols));
            int chunkRows = Math.max(1, CHUNK_BYTES / outRowBytes);
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact((long) Math.min(chunkRows, rows) * outRowBytes)).order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment seg = MemorySegment.ofBuffer(buf);
            float[] row = new float[cols];
            int inChunk = 0;
            for (int r = 0; r < rows; r++) {
                long inOff = sourceRow.applyAsInt(r) * inRowBytes;
                long outOff = (long) inChunk * outRowBytes;
                if (src.type() == outType) {
                    MemorySegment.copy(src.data(), inOff, seg, outOff, outRowBytes);
                } else {
                    Dequant.row(src.type(), src.data(), inOff, row, 0, cols);
                    Quantizer.quantize(outType, row, 0, cols, seg, outOff);
                }
                if (++inChunk == chunkRows || r == rows - 1) {
                    buf.position(0).limit(inChunk * outRowBytes);
                    while (buf.hasRemaining()) out.write(buf);
                    buf.clear();
                    inChunk = 0;
                }
            }
        };
    }

    /** llama.cpp's {@code llama_ftype} value for a model whose matrices are {@code t}. */
    static int fileType(GGMLType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no llama.cpp file type for " + t);
        };
    }

    /** The type a matrix of {@code cols} columns gets when {@code wanted} is asked for: F16 when its rows are not whole blocks (as llama.cpp's converter falls back). */
    static GGMLType matrixType(GGMLType wanted, long cols) {
        return cols % wanted.blockSize == 0 ? wanted : GGMLType.F16;
    }
}
